//! Why connections end: the reasons this node closes one with ([`Close`], each a QUIC
//! application close code on the wire) and what a closed connection tells its user
//! ([`Closed`]), classified so callers can decide whether trying again can help.

/// A reason this node closes a connection, sent to the peer as an application close
/// code (wire values 1 to 5 are fixed: peers of every version read them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// The peer's policy here is block.
    Blocked,
    /// A second connection between the same two nodes; the other one is kept.
    Duplicate,
    /// This node is shutting down.
    Shutdown,
    /// The peer's key is not in the book and unknown keys are blocked.
    NotKnown,
    /// The peer was removed from the book.
    Removed,
}

impl Close {
    /// The application close code on the wire.
    pub fn code(self) -> u32 {
        match self {
            Close::Blocked => 1,
            Close::Duplicate => 2,
            Close::Shutdown => 3,
            Close::NotKnown => 4,
            Close::Removed => 5,
        }
    }

    /// The reason text sent with the code.
    pub fn reason(self) -> &'static str {
        match self {
            Close::Blocked => "blocked by the peer's policy",
            Close::Duplicate => "duplicate connection",
            Close::Shutdown => "node shutting down",
            Close::NotKnown => "not in the peer's book",
            Close::Removed => "removed from the peer book",
        }
    }

    fn from_code(code: u64) -> Option<Close> {
        [
            Close::Blocked,
            Close::Duplicate,
            Close::Shutdown,
            Close::NotKnown,
            Close::Removed,
        ]
        .into_iter()
        .find(|c| u64::from(c.code()) == code)
    }
}

/// The TLS alert a certificate failure is sent as (`access_denied`): the peer's key is
/// not the one expected.
const ALERT_ACCESS_DENIED: u64 = 49;
/// TLS alert `bad_certificate`: the certificate does not carry a usable key.
const ALERT_BAD_CERTIFICATE: u64 = 42;
/// QUIC carries TLS alerts as transport error codes 0x100 + alert.
const CRYPTO_ERROR_BASE: u64 = 0x100;

/// Why a connection ended (or never began).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Closed {
    /// The peer blocks this node.
    #[error("the peer blocks this node (blocked by the peer's policy)")]
    Blocked,
    /// The peer does not know this node's key and refuses unknown keys.
    #[error(
        "this node's key is not in the peer's book (the peer can add it with `warp peers add`)"
    )]
    NotKnown,
    /// A newer connection between the same nodes replaced this one.
    #[error("replaced by a second connection between the same nodes")]
    Duplicate,
    /// The peer shut down.
    #[error("the peer closed the connection: node shutting down")]
    Shutdown,
    /// The peer closed for another reason.
    #[error("the peer closed the connection: {0}")]
    ByPeer(String),
    /// This node closed it.
    #[error("closed by this node")]
    Locally,
    /// The peer stopped answering.
    #[error("the peer stopped answering (timed out)")]
    TimedOut,
    /// The handshake failed on a certificate: the key is not the one expected.
    #[error("certificate refused: {0}")]
    Certificate(String),
    /// Any other transport failure.
    #[error("{0}")]
    Transport(String),
}

impl Closed {
    /// Whether the peer will refuse again, so trying again cannot help.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Closed::Blocked | Closed::NotKnown | Closed::Certificate(_)
        )
    }

    /// Classifies what quinn reports.
    pub(crate) fn from_quinn(e: &quinn::ConnectionError) -> Closed {
        use quinn::ConnectionError as E;
        match e {
            E::ApplicationClosed(c) => match Close::from_code(c.error_code.into_inner()) {
                Some(Close::Blocked) => Closed::Blocked,
                Some(Close::NotKnown) => Closed::NotKnown,
                Some(Close::Duplicate) => Closed::Duplicate,
                Some(Close::Shutdown) => Closed::Shutdown,
                Some(Close::Removed) | None => {
                    Closed::ByPeer(String::from_utf8_lossy(&c.reason).into_owned())
                }
            },
            E::LocallyClosed => Closed::Locally,
            E::TimedOut => Closed::TimedOut,
            E::ConnectionClosed(c) if is_certificate_alert(c.error_code.into()) => {
                Closed::Certificate(format!("the peer refused this node's certificate ({c})"))
            }
            E::TransportError(t) if is_certificate_alert(t.code.into()) => Closed::Certificate(
                format!("the peer's key is not the one expected ({})", t.reason),
            ),
            other => Closed::Transport(other.to_string()),
        }
    }
}

fn is_certificate_alert(code: u64) -> bool {
    code == CRYPTO_ERROR_BASE + ALERT_ACCESS_DENIED
        || code == CRYPTO_ERROR_BASE + ALERT_BAD_CERTIFICATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_the_wire_values_and_read_back() {
        for (c, code) in [
            (Close::Blocked, 1),
            (Close::Duplicate, 2),
            (Close::Shutdown, 3),
            (Close::NotKnown, 4),
            (Close::Removed, 5),
        ] {
            assert_eq!(c.code(), code);
            assert_eq!(Close::from_code(code.into()), Some(c));
        }
        assert_eq!(Close::from_code(0), None);
    }

    #[test]
    fn only_refusals_are_final() {
        assert!(Closed::Blocked.is_final());
        assert!(Closed::NotKnown.is_final());
        assert!(Closed::Certificate("x".into()).is_final());
        assert!(!Closed::TimedOut.is_final());
        assert!(!Closed::Shutdown.is_final());
        assert!(!Closed::Duplicate.is_final());
    }
}
