//! SwimOS WARP envelopes: `@tag(node:...,lane:...) body`, one per WebSocket text frame.
//!
//! Decoding reads only the header (with [`recon::peel_header`]) and keeps the body as an
//! unparsed slice, so a hub can route a frame without building its body's value.
//! [`stream`] carries envelopes over a byte stream (the `links` channel between hubs).
//! The wire facts are in `docs/warp-links.md`.

mod envelope;
mod error;
pub mod stream;
mod tag;

pub use envelope::{Envelope, Headers};
pub use error::EnvelopeError;
pub use tag::Tag;
