//! The command line: its arguments (`args.rs`) and one file per command, each a thin
//! client of the running node over the control socket (or of the books on disk when no
//! node runs, `offline.rs`; or of a node of its own for a transfer, `one_off.rs`).

mod args;
pub mod flow;
pub mod gate;
pub mod map;
pub mod offers;
mod offline;
pub mod one_off;
pub mod page;
pub mod peers;
pub mod ping;
pub mod recon;
pub mod speed;
pub mod status;

pub use args::*;
