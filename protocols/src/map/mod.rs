//! The map: where a node says how to reach it, and asks how to reach another, by key.
//! [`record`] is what a node publishes (signed by its key, so a map cannot forge or alter
//! it), [`frame`] the requests and answers of a `map` channel, [`addr`] how an address is
//! written in both, [`relay`] the datagrams a map forwards between two nodes, [`traverse`] what two relayed
//! peers tell each other to open a direct path, [`carried`] datagrams over TCP when UDP
//! to the map is blocked, [`flows`] the flows a map defines for its nodes, signed. Byte
//! layout: `docs/map.md`.

pub mod addr;
pub mod carried;
pub mod flows;
pub mod frame;
pub mod record;
pub mod relay;
pub mod traverse;

pub use frame::{Frame, FrameError};
pub use record::{Record, RecordError};
