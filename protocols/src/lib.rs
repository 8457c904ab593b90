//! Sans-IO codecs and state machines of warp: pure functions from bytes to messages and
//! back, with no sockets, no async runtime and no clocks, so every one of them can be
//! tested and fuzzed in isolation.
//!
//! * [`warp`]: SwimOS WARP envelopes (the frames of WARP links), in Recon.

pub mod warp;
