//! warpdrive: offers, accepts and downloads of files and directories between warp peers —
//! resumable, verified by SHA-256, kept in sled.
//!
//! * [`drive`]: the engine a node runs ([`Drive`]): share, accept, reject, cancel, list,
//!   subscribe, resume after a restart; [`deliver`]: offers that wait for their peer.
//! * [`serve`]: the `warpdrive` channel service, what peers may ask.
//! * [`fetch`], [`pipeline`], [`verify`] and [`writer`]: the receiving side of a
//!   download; [`read`]: the sending side's reader.
//! * [`scan`]: building an offer from local paths ([`hash_cache`]: hashes kept for
//!   files offered again); [`target`]: where a download may write.
//! * [`store`], [`offer`]: records in sled; [`wire`]: frames over streams.
//! * [`net`]: what the node provides (channels to peers, policies).
//!
//! The wire messages are `protocols::warpdrive`; the byte layout is in
//! `docs/warpdrive.md`.

pub mod deliver;
pub mod disk_error;
pub mod downloads;
pub mod drive;
pub mod fetch;
pub mod fetch_error;
pub mod file_hash;
pub mod hash_cache;
pub mod net;
pub mod offer;
pub mod offer_error;
pub mod part_file;
pub mod pipeline;
pub mod read;
pub mod receive_error;
pub mod scan;
pub mod serve;
pub mod share_error;
pub mod store;
pub mod store_error;
pub mod target;
pub mod verify;
pub mod wire;
pub mod writer;

pub use disk_error::DiskError;
pub use drive::Drive;
pub use net::{PeerNet, Policy};
pub use offer::{Offer, Status};
pub use offer_error::OfferError;
pub use share_error::ShareError;
pub use store_error::StoreError;
