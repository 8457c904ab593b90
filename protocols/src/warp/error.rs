//! Why a frame is not a valid WARP envelope.

/// A frame that is not a valid envelope. A WebSocket server answers any of these by
/// closing with 1002 "Expected a valid Warp envelope.".
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    /// The header is not valid Recon, or the frame does not start with an attribute.
    #[error("malformed envelope header: {0}")]
    Recon(#[from] recon::ParseError),
    /// The first attribute is not one of the twelve tags.
    #[error("unknown envelope tag @{0}")]
    UnknownTag(String),
    /// A lane envelope without its `node` or `lane` header.
    #[error("@{tag} envelope is missing its {header} header")]
    MissingHeader {
        /// The envelope's tag.
        tag: &'static str,
        /// The missing header's name.
        header: &'static str,
    },
    /// A header with a value of the wrong type.
    #[error("@{tag} envelope header {header} must be {expected}")]
    BadHeader {
        /// The envelope's tag.
        tag: &'static str,
        /// The header's name.
        header: &'static str,
        /// What the header's value must be.
        expected: &'static str,
    },
}
