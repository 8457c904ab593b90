//! The sending side of a bonded channel: every segment is kept, with the paths it went
//! out on, until the receiver's acknowledgement passes it. A path that dies takes what it
//! had accepted with it; those segments are queued again, ahead of new ones, for the
//! paths still alive. The receiver's window bounds the bytes in flight beyond the first
//! segment it lacks.

use std::collections::{BTreeMap, BTreeSet};

use super::frame::{FrameError, MAX_SEGMENT};
use super::PathId;

/// The window assumed before the first acknowledgement.
pub const INITIAL_WINDOW: u64 = 256 * 1024;

/// A segment not yet acknowledged.
#[derive(Clone, Debug)]
struct Segment {
    payload: Vec<u8>,
    /// The live paths it was sent on (empty: waiting to be sent).
    on: Vec<PathId>,
}

/// Why an acknowledgement is refused: the receiver broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BondAckError {
    /// An acknowledgement of segments never made.
    #[error("acknowledgement up to segment {acked}, but only {made} were made")]
    Unmade {
        /// The acknowledgement.
        acked: u64,
        /// Segments made.
        made: u64,
    },
}

/// The sender's record.
#[derive(Clone, Debug)]
pub struct SendLog {
    made: u64,
    acked: u64,
    window: u64,
    segments: BTreeMap<u64, Segment>,
    queued: BTreeSet<u64>,
    /// Bytes of segments after `acked` that are on a path.
    in_flight: u64,
    /// Bytes of every segment kept.
    held: u64,
}

impl Default for SendLog {
    fn default() -> SendLog {
        SendLog {
            made: 0,
            acked: 0,
            window: INITIAL_WINDOW,
            segments: BTreeMap::new(),
            queued: BTreeSet::new(),
            in_flight: 0,
            held: 0,
        }
    }
}

impl SendLog {
    /// Makes the next segment of `payload` (1 to [`MAX_SEGMENT`] bytes) and queues it;
    /// its sequence number.
    pub fn push(&mut self, payload: Vec<u8>) -> Result<u64, FrameError> {
        if payload.is_empty() {
            return Err(FrameError::Empty);
        }
        if payload.len() > MAX_SEGMENT {
            return Err(FrameError::TooLong(payload.len()));
        }
        let seq = self.made;
        self.made += 1;
        self.held += payload.len() as u64;
        self.segments.insert(
            seq,
            Segment {
                payload,
                on: Vec::new(),
            },
        );
        self.queued.insert(seq);
        Ok(seq)
    }

    /// The next segment to send — one to send again first, then new ones in order — if
    /// the receiver's window allows it now.
    pub fn next_to_send(&self) -> Option<u64> {
        let &seq = self.queued.first()?;
        let len = self.segments.get(&seq)?.payload.len() as u64;
        // The first segment lacked is always taken; the rest fit the window.
        (seq == self.acked || self.in_flight + len <= self.window).then_some(seq)
    }

    /// Segment `seq`'s bytes, while it is not acknowledged.
    pub fn payload(&self, seq: u64) -> Option<&[u8]> {
        self.segments.get(&seq).map(|s| s.payload.as_slice())
    }

    /// Notes segment `seq` sent on `path` (call once per path in redundant mode).
    pub fn sent(&mut self, seq: u64, path: PathId) {
        let Some(s) = self.segments.get_mut(&seq) else {
            return;
        };
        if s.on.is_empty() && seq > self.acked {
            self.in_flight += s.payload.len() as u64;
        }
        if !s.on.contains(&path) {
            s.on.push(path);
        }
        self.queued.remove(&seq);
    }

    /// Takes an acknowledgement: segments below `next` arrived, and `window` bytes may be
    /// in flight beyond it. Returns how many segments it freed. One below the last taken
    /// is stale — acknowledgements travel on whichever path is fastest, so an older one
    /// may come after a newer one over a slower path — and changes nothing.
    pub fn ack(&mut self, next: u64, window: u32) -> Result<u64, BondAckError> {
        if next < self.acked {
            return Ok(0);
        }
        if next > self.made {
            return Err(BondAckError::Unmade {
                acked: next,
                made: self.made,
            });
        }
        let freed = next - self.acked;
        let kept = self.segments.split_off(&next);
        self.held -= self
            .segments
            .values()
            .map(|s| s.payload.len() as u64)
            .sum::<u64>();
        self.segments = kept;
        self.queued = self.queued.split_off(&next);
        self.acked = next;
        self.window = u64::from(window);
        self.in_flight = self
            .segments
            .iter()
            .filter(|(&seq, s)| seq > next && !s.on.is_empty())
            .map(|(_, s)| s.payload.len() as u64)
            .sum();
        Ok(freed)
    }

    /// `path` died: what it had accepted and no other path carries is queued again.
    /// Returns how many segments that was.
    pub fn path_lost(&mut self, path: PathId) -> usize {
        let mut again = 0;
        for (&seq, s) in self.segments.iter_mut() {
            let Some(i) = s.on.iter().position(|&p| p == path) else {
                continue;
            };
            s.on.swap_remove(i);
            if s.on.is_empty() {
                if seq > self.acked {
                    self.in_flight -= s.payload.len() as u64;
                }
                self.queued.insert(seq);
                again += 1;
            }
        }
        again
    }

    /// Segments made so far (the count a `Fin` announces).
    pub fn made(&self) -> u64 {
        self.made
    }

    /// The first segment not yet acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Whether every segment made has been acknowledged.
    pub fn all_acked(&self) -> bool {
        self.acked == self.made
    }

    /// Bytes of every segment kept (not yet acknowledged): what the sender holds.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Bytes in flight beyond the first segment lacked.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_paths_segments_go_out_again_before_new_ones() {
        let mut log = SendLog::default();
        for n in 0..4u8 {
            log.push(vec![n; 100]).unwrap();
        }
        // 0 and 2 on path 1, 1 and 3 on path 2.
        for seq in 0..4 {
            assert_eq!(log.next_to_send(), Some(seq));
            log.sent(seq, 1 + (seq as u32 % 2));
        }
        assert_eq!(log.next_to_send(), None);
        log.push(vec![9; 100]).unwrap();
        assert_eq!(log.ack(1, 10_000), Ok(1));
        assert_eq!(log.path_lost(1), 1, "segment 2 (0 is acknowledged)");
        assert_eq!(log.next_to_send(), Some(2));
        log.sent(2, 2);
        assert_eq!(log.next_to_send(), Some(4));
        assert_eq!(log.payload(2), Some(&[2u8; 100][..]));
        assert_eq!(log.held(), 400, "segments 1 to 4 are kept");
        assert_eq!(log.payload(0), None);
    }

    #[test]
    fn a_copy_on_a_live_path_is_not_sent_again() {
        let mut log = SendLog::default();
        log.push(vec![1; 10]).unwrap();
        log.sent(0, 1);
        log.sent(0, 2);
        assert_eq!(log.path_lost(1), 0);
        assert_eq!(log.path_lost(2), 1);
        assert_eq!(log.next_to_send(), Some(0));
    }

    #[test]
    fn the_window_bounds_what_is_in_flight_beyond_the_first_lacked() {
        let mut log = SendLog::default();
        log.ack(0, 250).unwrap();
        for n in 0..5u8 {
            log.push(vec![n; 100]).unwrap();
        }
        // Segment 0 always goes; then 1 and 2 fill 200 of the 250 bytes.
        for seq in 0..3 {
            assert_eq!(log.next_to_send(), Some(seq));
            log.sent(seq, 1);
        }
        assert_eq!(log.in_flight(), 200);
        assert_eq!(log.next_to_send(), None);
        assert_eq!(log.ack(2, 250), Ok(2));
        assert_eq!(log.in_flight(), 0, "segment 2 is the first lacked now");
        assert_eq!(log.next_to_send(), Some(3));
    }

    #[test]
    fn acknowledgements_of_unmade_segments_are_errors_and_stale_ones_ignored() {
        let mut log = SendLog::default();
        log.push(vec![1]).unwrap();
        assert_eq!(
            log.ack(2, 0),
            Err(BondAckError::Unmade { acked: 2, made: 1 })
        );
        log.ack(1, 0).unwrap();
        // A stale one, come late over a slower path, changes nothing.
        assert_eq!(log.ack(0, 1_000_000), Ok(0));
        assert_eq!(log.acked(), 1);
        assert!(log.all_acked());
        assert_eq!(log.push(Vec::new()), Err(FrameError::Empty));
    }
}
