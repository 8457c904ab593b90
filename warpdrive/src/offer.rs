//! An offer as each side keeps it: who, which way, its status and progress.

use serde::{Deserialize, Serialize};

/// Where an offer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Made (outgoing) or received (incoming); waits for the receiver's decision.
    Awaiting,
    /// Accepted; the download is about to start.
    Accepted,
    /// Bytes are moving.
    InProgress,
    /// Stopped by a node restart before it completed; accept it again to resume.
    Interrupted,
    /// Every file arrived and matched its hash (confirmed by the receiver).
    Completed,
    /// Ended with an error (see the reason); `.part` files stay for a resume where safe.
    Failed,
    /// Declined by the receiver.
    Rejected,
    /// Cancelled by either side.
    Cancelled,
}

impl Status {
    /// `true` once nothing more will happen to the offer by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Rejected | Status::Cancelled
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Awaiting => "awaiting",
            Status::Accepted => "accepted",
            Status::InProgress => "in progress",
            Status::Interrupted => "interrupted",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
        })
    }
}

/// An offer's record: the same shape on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Its id (UUID v4, made by the sender).
    pub id: String,
    /// `true` on the receiving side.
    pub incoming: bool,
    /// The other side's peer id.
    pub peer: String,
    /// Where it stands.
    pub status: Status,
    /// Why it failed, was rejected or cancelled; empty otherwise.
    pub reason: String,
    /// Entries (files and directories).
    pub entries: u64,
    /// Total file bytes.
    pub bytes: u64,
    /// Entries done (verified and in place on the receiver; sent on the sender).
    pub entries_done: u64,
    /// File bytes done.
    pub bytes_done: u64,
    /// Bytes carried so far, over every attempt (more than `bytes` when parts were sent
    /// again after an interruption).
    pub transferred: u64,
    /// The first few entry paths, for listings.
    pub names: Vec<String>,
    /// Incoming: the directory it downloads into, once accepted.
    pub dir: String,
    /// The order in which this node learned of its offers.
    pub seq: u64,
    /// Unix seconds when made.
    pub created_at: u64,
    /// Unix seconds of the last change.
    pub updated_at: u64,
}

/// Entry names kept in an offer's record for listings.
const NAMES: usize = 3;

impl Offer {
    /// A new offer's record, awaiting the receiver: `incoming` on the receiving side.
    pub fn new(
        id: String,
        incoming: bool,
        peer: String,
        files: &[protocols::warpdrive::Info],
        seq: u64,
    ) -> Offer {
        use protocols::warpdrive::Kind;
        Offer {
            id,
            incoming,
            peer,
            status: Status::Awaiting,
            reason: String::new(),
            entries: files.len() as u64,
            bytes: files
                .iter()
                .filter(|f| f.kind == Kind::File)
                .map(|f| f.size)
                .sum(),
            entries_done: 0,
            bytes_done: 0,
            transferred: 0,
            names: files
                .iter()
                .take(NAMES)
                .map(|f| f.path.to_string())
                .collect(),
            dir: String::new(),
            seq,
            created_at: now(),
            updated_at: now(),
        }
    }
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Formats a wire id as a UUID.
pub fn id_text(id: &protocols::warpdrive::OfferId) -> String {
    uuid::Uuid::from_bytes(*id).hyphenated().to_string()
}

/// Parses a UUID into a wire id.
pub fn id_bytes(text: &str) -> Option<protocols::warpdrive::OfferId> {
    uuid::Uuid::parse_str(text).ok().map(|u| *u.as_bytes())
}

/// A fresh offer id.
pub fn new_id() -> protocols::warpdrive::OfferId {
    *uuid::Uuid::new_v4().as_bytes()
}
