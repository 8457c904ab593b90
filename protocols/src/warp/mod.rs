//! SwimOS WARP envelopes: `@tag(node:...,lane:...) body`, one per WebSocket text frame.
//!
//! Decoding reads only the header (with [`recon::peel_header`]) and keeps the body as an
//! unparsed slice, so a hub can route a frame without building its body's value.
//! The wire facts are in `docs/warp-links.md`.

mod envelope;
mod error;
mod tag;

pub use envelope::{Envelope, Headers};
pub use error::EnvelopeError;
pub use tag::Tag;
