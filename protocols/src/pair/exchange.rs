//! The key exchange of a pairing: SPAKE2 (symmetric, over Ed25519) with the code's words
//! as the password, then a confirmation from each side that binds the key to both node
//! ids as the tunnel authenticated them. A side that typed another code, or a node in the
//! middle with a key of its own, fails the confirmation: after one try, on both sides.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::code::Code;

/// Bytes of a SPAKE2 message (a side byte and a point).
pub const PAKE_LEN: usize = 33;
/// Bytes of a confirmation tag (HMAC-SHA-256).
pub const TAG_LEN: usize = 32;

/// Which side of the pairing this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that made the offer and printed the code.
    Sender,
    /// The side that typed the code.
    Receiver,
}

/// Why a pairing failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// The other side's key-exchange message is malformed.
    #[error("the other side's key exchange is malformed: {0}")]
    BadMessage(String),
    /// The confirmation did not match: the other side has another code (or is not who
    /// the tunnel says).
    #[error("the code does not match the other side's")]
    WrongCode,
    /// A step out of its order (a confirmation before the key exchange).
    #[error("a pairing step out of order")]
    OutOfOrder,
}

/// One side's exchange.
pub struct Exchange {
    role: Role,
    spake: Option<Spake2<Ed25519Group>>,
    /// The two node ids, sender's first, each with its length.
    ids: Vec<u8>,
    key: Option<Vec<u8>>,
}

impl Exchange {
    /// Starts the exchange for `code` between the nodes `sender` and `receiver` (their
    /// ids as the tunnel authenticated them); returns the message to send.
    pub fn start(
        code: &Code,
        role: Role,
        sender: &[u8],
        receiver: &[u8],
        rng: impl rand_core::CryptoRng + rand_core::RngCore,
    ) -> (Exchange, Vec<u8>) {
        let id = Identity::new(format!("warp pair v1 {}", code.nameplate).as_bytes());
        let (spake, msg) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
            &Password::new(code.password()),
            &id,
            rng,
        );
        let mut ids = Vec::with_capacity(4 + sender.len() + receiver.len());
        for id in [sender, receiver] {
            ids.extend_from_slice(&(id.len() as u16).to_be_bytes());
            ids.extend_from_slice(id);
        }
        let x = Exchange {
            role,
            spake: Some(spake),
            ids,
            key: None,
        };
        (x, msg)
    }

    /// Takes the other side's key-exchange message; returns this side's confirmation.
    pub fn take_pake(&mut self, msg: &[u8]) -> Result<[u8; TAG_LEN], PairError> {
        let spake = self.spake.take().ok_or(PairError::OutOfOrder)?;
        let key = spake
            .finish(msg)
            .map_err(|e| PairError::BadMessage(e.to_string()))?;
        let tag = self.tag(&key, self.role);
        self.key = Some(key);
        Ok(tag)
    }

    /// Checks the other side's confirmation.
    pub fn confirm(&self, tag: &[u8]) -> Result<(), PairError> {
        let key = self.key.as_ref().ok_or(PairError::OutOfOrder)?;
        let other = match self.role {
            Role::Sender => Role::Receiver,
            Role::Receiver => Role::Sender,
        };
        self.mac(key, other)
            .verify_slice(tag)
            .map_err(|_| PairError::WrongCode)
    }

    fn mac(&self, key: &[u8], role: Role) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
        m.update(b"warp pair v1 confirm");
        m.update(&[match role {
            Role::Sender => 1,
            Role::Receiver => 2,
        }]);
        m.update(&self.ids);
        m
    }

    fn tag(&self, key: &[u8], role: Role) -> [u8; TAG_LEN] {
        self.mac(key, role).finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        a: &Code,
        b: &Code,
        ids_b: (&[u8], &[u8]),
    ) -> (Result<(), PairError>, Result<(), PairError>) {
        let rng = rand_core::OsRng;
        let (mut s, ms) = Exchange::start(a, Role::Sender, b"sender-id", b"receiver-id", rng);
        let (mut r, mr) = Exchange::start(b, Role::Receiver, ids_b.0, ids_b.1, rng);
        assert_eq!((ms.len(), mr.len()), (PAKE_LEN, PAKE_LEN));
        let ts = s.take_pake(&mr).unwrap();
        let tr = r.take_pake(&ms).unwrap();
        (s.confirm(&tr), r.confirm(&ts))
    }

    #[test]
    fn the_same_code_pairs_and_another_fails_on_both_sides() {
        let code = Code::parse("7-orbit-velvet").unwrap();
        let ids: (&[u8], &[u8]) = (b"sender-id", b"receiver-id");
        assert_eq!(run(&code, &code, ids), (Ok(()), Ok(())));
        let typo = Code::parse("7-orbit-violin").unwrap();
        assert_eq!(
            run(&code, &typo, ids),
            (Err(PairError::WrongCode), Err(PairError::WrongCode))
        );
        // Another nameplate is another code.
        let other = Code::parse("8-orbit-velvet").unwrap();
        assert_eq!(
            run(&code, &other, ids),
            (Err(PairError::WrongCode), Err(PairError::WrongCode))
        );
        // A node in the middle: the receiver sees another sender id than the sender has.
        let mitm: (&[u8], &[u8]) = (b"middle-id", b"receiver-id");
        assert_eq!(
            run(&code, &code, mitm),
            (Err(PairError::WrongCode), Err(PairError::WrongCode))
        );
    }

    #[test]
    fn steps_out_of_order_and_bad_messages_are_errors() {
        let code = Code::parse("7-orbit-velvet").unwrap();
        let (mut s, _) = Exchange::start(&code, Role::Sender, b"a", b"b", rand_core::OsRng);
        assert_eq!(s.confirm(&[0; TAG_LEN]), Err(PairError::OutOfOrder));
        assert!(matches!(
            s.take_pake(&[1, 2, 3]),
            Err(PairError::BadMessage(_))
        ));
        // The exchange is spent: one try per code.
        assert_eq!(s.take_pake(&[0; PAKE_LEN]), Err(PairError::OutOfOrder));
    }
}
