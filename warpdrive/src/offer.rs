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
    /// Outgoing: the peer could not be reached; the offer is delivered when it can be,
    /// until it expires.
    WaitingForPeer,
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
            Status::WaitingForPeer => "waiting for peer",
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
    /// The offer's top-level entries (the names it was shared under), at most
    /// [`TOPS`]: where a receiver finds what arrived.
    #[serde(default)]
    pub tops: Vec<String>,
    /// Incoming: the directory it downloads into, once accepted.
    pub dir: String,
    /// The order in which this node learned of its offers.
    pub seq: u64,
    /// Unix seconds when made.
    pub created_at: u64,
    /// Unix seconds of the last change.
    pub updated_at: u64,
    /// Outgoing: Unix seconds after which an offer still waiting for its peer fails
    /// (0: never waits).
    #[serde(default)]
    pub expires_at: u64,
}

/// How long an offer waits for a peer that cannot be reached before it fails.
pub const WAIT_FOR_PEER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Entry names kept in an offer's record for listings.
const NAMES: usize = 3;

/// Top-level entries kept in an offer's record.
pub const TOPS: usize = 32;

/// The distinct first components of `files`' paths, in order, at most [`TOPS`].
fn tops(files: &[protocols::warpdrive::Info]) -> Vec<String> {
    let mut tops: Vec<String> = Vec::new();
    for f in files {
        let path = f.path.to_string();
        let top = path.split('/').next().unwrap_or_default();
        if !top.is_empty() && !tops.iter().any(|t| t == top) {
            if tops.len() == TOPS {
                break;
            }
            tops.push(top.to_string());
        }
    }
    tops
}

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
            tops: tops(files),
            dir: String::new(),
            seq,
            created_at: now(),
            updated_at: now(),
            expires_at: 0,
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

#[cfg(test)]
mod tests {
    use protocols::warpdrive::{Info, Kind, RelPath};

    fn entry(path: &str, kind: Kind) -> Info {
        Info {
            path: RelPath::parse(path).unwrap(),
            kind,
            mode: 0o644,
            mtime: 0,
            mtime_ns: 0,
            size: 0,
            sha256: [0; 32],
            chunks: Vec::new(),
            streamed: false,
        }
    }

    #[test]
    fn the_top_level_entries_are_kept_once_each_in_order() {
        let files = [
            entry("photos", Kind::Dir),
            entry("photos/a.jpg", Kind::File),
            entry("notes.txt", Kind::File),
            entry("photos/b.jpg", Kind::File),
        ];
        assert_eq!(super::tops(&files), vec!["photos", "notes.txt"]);
        let many: Vec<Info> = (0..40)
            .map(|i| entry(&format!("f{i}"), Kind::File))
            .collect();
        assert_eq!(super::tops(&many).len(), super::TOPS);
    }
}
