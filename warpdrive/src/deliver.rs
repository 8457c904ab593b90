//! Delivering an offer this node made: at once when it is made and, when the peer cannot
//! be reached, again while the offer waits for it (`waiting for peer`), backing off from
//! 1 s to 15 s between tries, until the peer takes it or the offer expires.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocols::warpdrive::{Message, ReplyCode};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::drive::Drive;
use crate::net::NetError;
use crate::offer::{now, Offer, Status};
use crate::wire::{self, FrameReader, WireError};

/// `secs` for a person, in its largest whole unit: `7 days`, `3 hours`, `1 minute`.
fn span(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3600 => (s / 3600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Waits between tries to deliver a waiting offer: from the first to the longest.
const RETRY: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(15));

/// What the waiting loop knows of each waiting offer: when to try next, and the wait
/// after that.
type Schedule = HashMap<String, (Instant, Duration)>;

impl Drive {
    /// Sends the offer's frame to its peer and records the answer: awaiting or accepted;
    /// failed with the peer's reason when it refuses; waiting for the peer when it cannot
    /// be reached. `None` if the offer is gone.
    pub(crate) async fn deliver(self: &Arc<Self>, id: &str) -> Option<Offer> {
        let o = self.store.get(id)?;
        let name = self.net.alias(&o.peer).unwrap_or_else(|| o.peer.clone());
        let frame = match self.store.frame(id) {
            Ok(f) => f,
            Err(e) => return self.end(id, Status::Failed, &e.to_string()),
        };
        let sent = async {
            let (mut w, r) = self.net.open(&o.peer).await?;
            w.write_all(&frame).await?;
            let reply = FrameReader::new(r).next().await?;
            let _ = wire::send(&mut w, &Message::End).await;
            Ok::<_, WireError>(reply)
        };
        let answer = sent.await;
        // Cancelled meanwhile: the answer changes nothing.
        if self.store.get(id).is_none_or(|o| o.status.is_final()) {
            return self.store.get(id);
        }
        match answer {
            Ok(Some(Message::Reply {
                code: code @ (ReplyCode::Ok | ReplyCode::Accepted),
                ..
            })) => {
                info!("offer {id}: delivered to {name}");
                self.update(id, |o| {
                    if matches!(o.status, Status::Awaiting | Status::WaitingForPeer) {
                        o.status = match code {
                            ReplyCode::Accepted => Status::Accepted,
                            _ => Status::Awaiting,
                        };
                        o.reason.clear();
                    }
                })
            }
            Ok(Some(Message::Reply {
                code: code @ (ReplyCode::Rejected | ReplyCode::Cancelled),
                message,
            })) => {
                let status = match code {
                    ReplyCode::Rejected => Status::Rejected,
                    _ => Status::Cancelled,
                };
                self.end(id, status, &format!("{status} by {name}: {message}"))
            }
            Ok(Some(Message::Reply { code, message })) => {
                let reason = format!("{name} refused the offer ({code:?}): {message}");
                self.end(id, Status::Failed, &reason)
            }
            Ok(other) => {
                let reason = format!("{name} answered the offer with {other:?}");
                self.end(id, Status::Failed, &reason)
            }
            Err(WireError::Open(e @ NetError::Refused(_))) => {
                let reason = format!("could not deliver the offer to {name}: {e}");
                self.end(id, Status::Failed, &reason)
            }
            Err(e) => {
                let left = o.expires_at.saturating_sub(now());
                let reason = format!(
                    "{e}; the offer is delivered when {name} can be reached, for up to {}",
                    span(left)
                );
                let o = self.update(id, |o| {
                    if matches!(o.status, Status::Awaiting | Status::WaitingForPeer) {
                        o.status = Status::WaitingForPeer;
                        o.reason = reason;
                    }
                });
                self.waiting.notify_one();
                o
            }
        }
    }

    /// Runs, while the engine lives, the tries to deliver offers that wait for their peer
    /// (those left waiting by a restart included).
    pub(crate) fn keep_delivering(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut schedule = Schedule::new();
            let trying = Arc::new(Mutex::new(HashSet::<String>::new()));
            loop {
                let Some(drive) = weak.upgrade() else { return };
                let next = drive.try_waiting(&mut schedule, &trying);
                let woken = drive.waiting.clone();
                drop(drive);
                match next {
                    Some(at) => {
                        tokio::select! {
                            _ = tokio::time::sleep_until(at) => {}
                            _ = woken.notified() => {}
                        }
                    }
                    None => woken.notified().await,
                }
            }
        });
    }

    /// Starts a try for each waiting offer that is due, fails the expired ones; returns
    /// when the next try is due (`None`: nothing waits).
    fn try_waiting(
        self: &Arc<Self>,
        schedule: &mut Schedule,
        trying: &Arc<Mutex<HashSet<String>>>,
    ) -> Option<Instant> {
        let waiting: Vec<Offer> = self
            .store
            .all()
            .into_iter()
            .filter(|o| !o.incoming && o.status == Status::WaitingForPeer)
            .collect();
        schedule.retain(|id, _| waiting.iter().any(|o| &o.id == id));
        let t = Instant::now();
        for o in &waiting {
            if o.expires_at != 0 && now() >= o.expires_at {
                let waited = o.expires_at.saturating_sub(o.created_at);
                let reason = format!(
                    "the peer could not be reached for {}; the offer expired",
                    span(waited)
                );
                warn!("offer {}: {reason}", o.id);
                self.end(&o.id, Status::Failed, &reason);
                continue;
            }
            let (at, wait) = schedule
                .entry(o.id.clone())
                .or_insert((t + RETRY.0, RETRY.0));
            if *at > t {
                continue;
            }
            if !trying
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(o.id.clone())
            {
                // The last try still runs (a slow peer): look again a little later.
                *at = t + RETRY.0;
                continue;
            }
            *wait = (*wait * 2).min(RETRY.1);
            *at = t + *wait;
            let (drive, id, trying) = (self.clone(), o.id.clone(), trying.clone());
            tokio::spawn(async move {
                drive.deliver(&id).await;
                trying.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            });
        }
        schedule.values().map(|(at, _)| *at).min()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_in_their_largest_whole_unit() {
        assert_eq!(super::span(7 * 86_400), "7 days");
        assert_eq!(super::span(86_400 + 5), "1 day");
        assert_eq!(super::span(7200), "2 hours");
        assert_eq!(super::span(61), "1 minute");
        assert_eq!(super::span(2), "2 seconds");
        assert_eq!(super::span(0), "0 seconds");
    }
}
