//! warpdrive: offers, accepts and downloads of files and directories between warp peers.
//!
//! This crate holds the offer store, the transfer engine and the service handlers; its
//! wire messages live in the `protocols` crate. It is built out in the warpdrive issue;
//! nothing here is claimed to work yet.
