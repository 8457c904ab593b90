//! Network impairment in user space: loss, delay, jitter, reordering, duplication and a
//! rate limit applied to every datagram the node sends (this kernel has no netem).
//!
//! [`spec`] parses `--impair`, [`model`] decides each datagram's fate (pure and seeded,
//! so a test can reproduce a run), and [`socket`] wraps the node's UDP socket with it.

pub mod model;
pub mod socket;
pub mod spec;

pub use spec::ImpairSpec;
