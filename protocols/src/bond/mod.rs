//! Bonding: one channel carried over several paths to the same peer, each path its own
//! QUIC connection. The channel's bytes are cut into sequenced segments; a scheduler puts
//! each on one path (`aggregate`), every path (`redundant`) or the primary path
//! (`failover`); the receiver puts them back in order in a bounded buffer, drops copies,
//! and acknowledges the next segment it lacks across all paths, so segments a path
//! accepted and then lost with its connection are sent again on another.
//!
//! * [`frame`]: the frames on each path's stream of a bonded channel (the wire format,
//!   `docs/bond.md`).
//! * [`head`]: the first bytes of each stream of a bonded channel: open or join.
//! * [`reorder`]: the receiver's buffer, its acknowledgements and window.
//! * [`send_log`]: the sender's record of segments until acknowledged; what to send
//!   again when a path dies.
//! * [`schedule`]: which path (or paths) the next segment takes, per mode.
//! * [`health`]: whether a path is alive, from what was heard on it and when; when to
//!   probe it.
//!
//! No sockets and no clocks: the caller passes `now`, as everywhere in this crate.

pub mod frame;
pub mod head;
pub mod health;
pub mod reorder;
pub mod schedule;
pub mod send_log;

/// A path's number within one peer's bond (assigned by the node, stable while the path
/// exists).
pub type PathId = u32;
