//! The warpdrive engine of one node: its records, making offers, and telling subscribers
//! about every change. Accepting, rejecting, cancelling and running downloads are in
//! `downloads.rs`; taking offers from peers in `serve.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protocols::warpdrive::message::CHUNK_SIZES;
use protocols::warpdrive::Message;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::net::PeerNet;
use crate::offer::{id_bytes, new_id, now, Offer, Status};
use crate::offer_error::OfferError;
use crate::share_error::ShareError;
use crate::store::Store;
use crate::store_error::StoreError;
use crate::wire::{self, FrameReader, WireError};

/// The chunk size of the hashes in offers this node makes, unless files are so large
/// that their hashes would make the offer too big: a resumed download re-fetches at most
/// one chunk of what it already had.
pub const CHUNK_SIZE: u32 = 1 << 20;

/// Chunks per file at most before the chunk size doubles.
const MAX_CHUNKS: u64 = 1 << 16;

/// How long an ended offer (completed, failed, rejected, cancelled) stays listed.
pub const RETENTION: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// The chunk size for files up to `largest` bytes: [`CHUNK_SIZE`], doubled until the
/// largest file has at most 65 536 chunks (1 MiB chunks up to 64 GiB files).
pub fn chunk_size_for(largest: u64) -> u32 {
    let mut cs = CHUNK_SIZE as u64;
    while largest.div_ceil(cs) > MAX_CHUNKS && cs < CHUNK_SIZES.1 as u64 {
        cs *= 2;
    }
    cs as u32
}

/// The engine.
pub struct Drive {
    pub(crate) store: Store,
    pub(crate) hashes: crate::hash_cache::HashCache,
    pub(crate) net: Arc<dyn PeerNet>,
    pub(crate) incoming_dir: PathBuf,
    events: broadcast::Sender<Offer>,
    /// One lock for every read-modify-write of a record, so updates never cross.
    records: Mutex<()>,
    /// Running downloads, by offer id.
    pub(crate) downloads: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Woken when an offer starts waiting for its peer.
    pub(crate) waiting: Arc<tokio::sync::Notify>,
}

impl Drive {
    /// The engine over `db`, downloading to `incoming_dir` unless told otherwise.
    pub fn new(
        db: &sled::Db,
        net: Arc<dyn PeerNet>,
        incoming_dir: PathBuf,
    ) -> Result<Arc<Drive>, StoreError> {
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(Drive {
            store: Store::open(db)?,
            hashes: crate::hash_cache::HashCache::open(db)?,
            net,
            incoming_dir,
            events,
            records: Mutex::new(()),
            downloads: Mutex::new(HashMap::new()),
            waiting: Arc::new(tokio::sync::Notify::new()),
        }))
    }

    /// Tells subscribers about a new offer.
    pub(crate) fn announce(&self, o: &Offer) {
        let _ = self.events.send(o.clone());
    }

    /// A receiver of every change to any offer.
    pub fn subscribe(&self) -> broadcast::Receiver<Offer> {
        self.events.subscribe()
    }

    /// Every offer, oldest first.
    pub fn list(&self) -> Vec<Offer> {
        self.store.all()
    }

    /// The offer `id` (or a unique prefix of it).
    pub fn find(&self, id: &str) -> Result<Offer, OfferError> {
        Ok(self.store.find(id)?)
    }

    /// Changes a record under the lock, stamps it, stores it and tells subscribers.
    pub(crate) fn update(&self, id: &str, f: impl FnOnce(&mut Offer)) -> Option<Offer> {
        let _guard = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut o = self.store.get(id)?;
        let before = o.clone();
        f(&mut o);
        if o == before {
            return Some(o);
        }
        o.updated_at = now();
        if let Err(e) = self.store.put(&o) {
            warn!("offer {id}: cannot record: {e}");
        }
        let _ = self.events.send(o.clone());
        Some(o)
    }

    /// Ends an offer with `status` and `reason` unless it has ended already (a completed
    /// one counts every byte and entry as done). A received
    /// offer that is rejected or cancelled loses its partial files (and the disk they
    /// reserved) here; its entries are dropped from the store.
    pub(crate) fn end(&self, id: &str, status: Status, reason: &str) -> Option<Offer> {
        if matches!(status, Status::Rejected | Status::Cancelled) {
            self.discard_parts(id);
        }
        let o = self.update(id, |o| {
            if !o.status.is_final() {
                o.status = status;
                o.reason = reason.to_string();
                if status == Status::Completed {
                    (o.bytes_done, o.entries_done) = (o.bytes, o.entries);
                }
            }
        });
        let _ = self.store.flush();
        o
    }

    /// Removes the partial files of the received offer `id`, if it has any.
    pub(crate) fn discard_parts(&self, id: &str) {
        let Some(o) = self
            .store
            .get(id)
            .filter(|o| o.incoming && !o.dir.is_empty())
        else {
            return;
        };
        let (Ok(entries), Ok(target)) = (
            self.store.entries(id),
            crate::target::Target::new(std::path::Path::new(&o.dir), id),
        ) else {
            return;
        };
        for f in &entries.files {
            if let Ok(part) = target.part_path(&f.path) {
                if std::fs::remove_file(&part).is_ok() {
                    info!("offer {id}: removed {}", part.display());
                }
            }
        }
    }

    /// Bytes the offer's entries take in the database (0 once it has completed, been
    /// rejected or cancelled).
    pub fn stored_bytes(&self, id: &str) -> usize {
        self.store.entries_len(id)
    }

    /// Forgets offers that ended more than [`RETENTION`] ago.
    pub fn prune(&self) {
        let cutoff = crate::offer::now().saturating_sub(RETENTION.as_secs());
        for o in self.store.all() {
            if o.status.is_final() && o.updated_at < cutoff {
                if let Err(e) = self.store.remove(&o.id) {
                    warn!("offer {}: cannot forget: {e}", o.id);
                }
            }
        }
    }

    /// Offers `paths` to `peer`: scans them (without reading files), records the offer
    /// (durably) before sending it, then sends it. Returns the offer as the peer's answer
    /// left it — waiting for the peer when it cannot be reached now.
    pub async fn share(
        self: &Arc<Self>,
        peer: &str,
        paths: Vec<PathBuf>,
    ) -> Result<Offer, ShareError> {
        self.share_for(peer, paths, crate::offer::WAIT_FOR_PEER)
            .await
    }

    /// [`Drive::share`], the offer waiting at most `wait` for a peer that cannot be
    /// reached.
    pub async fn share_for(
        self: &Arc<Self>,
        peer: &str,
        paths: Vec<PathBuf>,
        wait: std::time::Duration,
    ) -> Result<Offer, ShareError> {
        let peer_id = self.net.resolve(peer).map_err(ShareError::Peer)?;
        if paths.is_empty() {
            return Err(ShareError::Nothing);
        }
        let cache = self.hashes.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            let largest = crate::scan::largest(&paths)?;
            let cs = chunk_size_for(largest);
            crate::scan::scan(&paths, cs, &cache).map(|s| (s, cs))
        })
        .await
        .map_err(|e| ShareError::Scan(e.to_string()))??;
        let (scanned, chunk_size) = scanned;
        for s in &scanned.skipped {
            warn!("not shared: {s}");
        }
        let wire_id = new_id();
        let files = scanned.files;
        let seq = self.store.next_seq()?;
        let mut offer = Offer::new(crate::offer::id_text(&wire_id), false, peer_id, &files, seq);
        offer.expires_at = now() + wait.as_secs();
        let frame = Message::SendOffer {
            id: wire_id,
            chunk_size,
            files,
        }
        .encode()?;
        self.store.create(&offer, &frame, Some(&scanned.sources))?;
        let _ = self.events.send(offer.clone());
        info!(
            "offer {}: {} entries, {} bytes to {peer}",
            offer.id, offer.entries, offer.bytes
        );

        Ok(self.deliver(&offer.id).await.unwrap_or(offer))
    }

    /// Sends a one-message session to the offer's peer; failures are logged only (the
    /// offer has ended here either way).
    pub(crate) async fn notify(
        &self,
        o: &Offer,
        msg: impl FnOnce(protocols::warpdrive::OfferId) -> Message,
    ) {
        let Some(id) = id_bytes(&o.id) else { return };
        let m = msg(id);
        let sent = async {
            let (mut w, r) = self.net.open(&o.peer).await?;
            wire::send(&mut w, &m).await?;
            let reply = FrameReader::new(r).next().await?;
            let _ = wire::send(&mut w, &Message::End).await;
            Ok::<_, WireError>(reply)
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), sent).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("offer {}: could not tell {}: {e}", o.id, o.peer),
            Err(_) => warn!("offer {}: {} did not answer", o.id, o.peer),
        }
    }
}
