//! warp as a library: the node (transport, peers, services, link hub, command layer, REST,
//! control socket) and the command line that drives it. The `warp` binary is a thin
//! `main` over this; tests and fuzz targets use its parts directly.

pub mod accept_backoff;
pub mod api_token;
pub mod bad_word;
pub mod bond_mode;
pub mod cli;
pub mod config;
pub mod config_error;
pub mod control;
pub mod flow_book;
pub mod flow_error;
pub mod gate_book;
pub mod home;
pub mod http_api;
pub mod identity;
pub mod interfaces;
pub mod links;
pub mod listen_error;
pub mod loopback;
pub mod map_server;
pub mod node;
pub mod page_login;
pub mod private_file;
pub mod sequence;
pub mod store;
pub mod transport;
