//! Downloads: accepting an offer starts one (`fetch.rs` runs it), rejecting or cancelling
//! stops it and tells the peer, and a restart resumes the ones that were running.

use std::path::PathBuf;
use std::sync::Arc;

use protocols::warpdrive::Message;
use tracing::info;

use crate::disk_error::DiskError;
use crate::drive::Drive;
use crate::net::Policy;
use crate::offer::{Offer, Status};
use crate::offer_error::OfferError;
use crate::store_error::StoreError;

/// How often ended offers past [`crate::drive::RETENTION`] are forgotten while the node
/// runs.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Drive {
    /// After a restart: downloads that were running resume at once for trusted peers and
    /// become `interrupted` (accept again to resume) for the others; outgoing offers
    /// that were sending wait for the receiver to ask again, and those waiting for their
    /// peer are tried again (as long as the engine lives).
    pub fn resume(self: &Arc<Self>) {
        self.prune();
        self.keep_delivering();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PRUNE_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                match weak.upgrade() {
                    Some(d) => d.prune(),
                    None => return,
                }
            }
        });
        for o in self.store.all() {
            match (o.incoming, o.status) {
                (true, Status::Accepted | Status::InProgress) => {
                    if self.net.policy(&o.peer) == Policy::Trust {
                        info!("offer {}: resuming the download", o.id);
                        self.start_download(&o.id);
                    } else {
                        self.update(&o.id, |o| o.status = Status::Interrupted);
                    }
                }
                (false, Status::InProgress) => {
                    self.update(&o.id, |o| o.status = Status::Accepted);
                }
                _ => {}
            }
        }
    }

    /// Accepts an incoming offer (or resumes one interrupted or failed) into `to`; without
    /// `to`, a resume goes on where the download was going, a first acceptance into the
    /// default incoming directory. Resuming into another directory than before drops the
    /// partial files left in the first.
    pub fn accept(self: &Arc<Self>, id: &str, to: Option<PathBuf>) -> Result<Offer, OfferError> {
        let o = self.find(id)?;
        if !o.incoming {
            return Err(OfferError::State(format!(
                "offer {} is one this node made; the peer accepts it",
                o.id
            )));
        }
        match o.status {
            Status::Awaiting | Status::Interrupted | Status::Failed | Status::Accepted => {}
            s => return Err(OfferError::State(format!("offer {} is {s}", o.id))),
        }
        if self.is_downloading(&o.id) {
            return Err(OfferError::State(format!(
                "offer {} is downloading already",
                o.id
            )));
        }
        let before = (!o.dir.is_empty()).then(|| PathBuf::from(&o.dir));
        let dir = to
            .or_else(|| before.clone())
            .unwrap_or_else(|| self.incoming_dir.clone());
        let dir = std::path::absolute(&dir).map_err(DiskError::at(&dir))?;
        if before.is_some_and(|b| b != dir) {
            self.discard_parts(&o.id);
        }
        let o = self
            .update(&o.id, |o| {
                o.status = Status::Accepted;
                o.reason.clear();
                o.dir = dir.display().to_string();
            })
            .ok_or_else(|| OfferError::NotFound(StoreError::NotFound(o.id.clone())))?;
        self.start_download(&o.id);
        Ok(o)
    }

    fn is_downloading(&self, id: &str) -> bool {
        let mut d = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
        d.retain(|_, t| !t.is_finished());
        d.contains_key(id)
    }

    pub(crate) fn start_download(self: &Arc<Self>, id: &str) {
        let task = tokio::spawn(crate::fetch::run(self.clone(), id.to_string()));
        self.downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), task);
    }

    /// Stops every download (they resume when a node starts on this database again), for
    /// a node that is shutting down.
    pub fn stop(&self) {
        let running: Vec<_> = self
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (_, t) in running {
            t.abort();
        }
    }

    pub(crate) fn stop_download(&self, id: &str) {
        if let Some(t) = self
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
        {
            t.abort();
        }
    }

    /// Declines an incoming offer and tells the sender.
    pub async fn reject(self: &Arc<Self>, id: &str) -> Result<Offer, OfferError> {
        let o = self.find(id)?;
        if !o.incoming {
            return Err(OfferError::State(format!(
                "offer {} is one this node made: cancel it instead",
                o.id
            )));
        }
        self.end_and_tell(o, Status::Rejected, |id| Message::Reject {
            id,
            reason: "rejected by the receiver".into(),
        })
        .await
    }

    /// Cancels an offer from either side and tells the other.
    pub async fn cancel(self: &Arc<Self>, id: &str) -> Result<Offer, OfferError> {
        let o = self.find(id)?;
        self.end_and_tell(o, Status::Cancelled, |id| Message::Cancel {
            id,
            reason: "cancelled by the peer".into(),
        })
        .await
    }

    /// Ends an offer here (stopping its download) with `status`, then tells the peer.
    async fn end_and_tell(
        self: &Arc<Self>,
        o: Offer,
        status: Status,
        msg: impl FnOnce(protocols::warpdrive::OfferId) -> Message,
    ) -> Result<Offer, OfferError> {
        if o.status.is_final() {
            return Err(OfferError::State(format!(
                "offer {} is {} already",
                o.id, o.status
            )));
        }
        self.stop_download(&o.id);
        let o = self
            .end(&o.id, status, &format!("{status} here"))
            .ok_or_else(|| OfferError::NotFound(StoreError::NotFound(o.id.clone())))?;
        self.notify(&o, msg).await;
        Ok(o)
    }
}
