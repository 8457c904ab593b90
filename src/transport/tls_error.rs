//! Why a certificate carries no usable peer id, and why the TLS or QUIC set-up of an
//! endpoint or a dial failed.

/// Why a certificate carries no usable peer id.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The peer presented no certificate.
    #[error("no certificate")]
    Missing,
    /// The certificate does not parse.
    #[error("unreadable certificate: {0}")]
    Unreadable(String),
    /// Its key is of another kind.
    #[error("certificate key is not Ed25519")]
    NotEd25519,
    /// Its key has the wrong length.
    #[error("Ed25519 key of the wrong length")]
    KeyLength,
}

/// Why the TLS or QUIC set-up failed (this node's side: its key, its socket).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The identity key cannot sign a certificate.
    #[error("identity key: {0}")]
    Key(rcgen::Error),
    /// The certificate cannot be made.
    #[error("certificate: {0}")]
    Cert(rcgen::Error),
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    /// QUIC refused the TLS configuration.
    #[error("quic: {0}")]
    Quic(String),
    /// The UDP socket could not be set up.
    #[error("udp socket: {0}")]
    Socket(std::io::Error),
    /// The endpoint could not start on the socket.
    #[error("quic endpoint: {0}")]
    Endpoint(std::io::Error),
}
