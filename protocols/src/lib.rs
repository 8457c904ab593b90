//! Sans-IO codecs and state machines of warp: pure functions from bytes to messages and
//! back, with no sockets, no async runtime and no clocks, so every one of them can be
//! tested and fuzzed in isolation.
//!
//! * [`warp`]: SwimOS WARP envelopes (the frames of WARP links), in Recon.
//! * [`channel`]: the header that opens a tunnel channel and names its service.
//! * [`datagram`]: datagram framing on a channel (UDP gates).
//! * [`flow`]: acknowledgements and the sender's window on flow channels.
//! * [`ping`]: the probes of the `ping` service.
//! * [`sink`]: the report of the `sink` service (bulk transfer check).
//! * [`warpdrive`]: offers, downloads and reports of the `warpdrive` service.
//! * [`bond`]: one channel over several paths: segments, reordering, acknowledgements,
//!   the scheduler of each mode, path health.
//! * [`pair`]: pairing codes, their key exchange and the frames of the `pair` channel.
//! * [`map`]: nodes' signed records and the frames of the `map` channel.

pub mod backoff;
pub mod bond;
pub mod channel;
pub mod datagram;
pub mod flow;
pub mod map;
pub mod pair;
pub mod ping;
pub mod sink;
pub mod text;
pub mod warp;
pub mod warpdrive;
