//! The receiving side of a bonded channel: segments from every path, in any order and
//! possibly twice, become the channel's bytes in order, each once. Segments ahead of the
//! next one lacked wait in a buffer of bounded size; the acknowledgement says which
//! segment is lacked next and how many bytes may be in flight beyond it.

use std::collections::BTreeMap;

use super::frame::Frame;

/// What became of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// It was the next one: it and every buffered one after it, in order.
    Delivered(Vec<Vec<u8>>),
    /// It came early and waits for the ones before it.
    Buffered,
    /// It arrived before (over another path, or sent again): dropped.
    Duplicate,
}

/// Why a segment cannot be taken: the sender broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReorderError {
    /// More bytes ahead of the next segment than the window allowed.
    #[error("segment {seq} would hold {needed} bytes ahead of segment {next}, over the {limit}-byte window")]
    Overflow {
        /// The segment.
        seq: u64,
        /// The first segment lacked.
        next: u64,
        /// Bytes buffered with it.
        needed: usize,
        /// The buffer's size.
        limit: usize,
    },
    /// A segment at or past the end the sender announced.
    #[error("segment {seq} comes after the end, {fin} segments")]
    PastEnd {
        /// The segment.
        seq: u64,
        /// The announced count.
        fin: u64,
    },
    /// A sequence number no channel reaches (the last one, kept so that counting past a
    /// segment never overflows).
    #[error("segment {0} is past the largest sequence number")]
    OutOfRange(u64),
    /// Two different ends announced, or an end below a segment already seen.
    #[error("the channel's end moved from {was} to {now} segments")]
    EndMoved {
        /// The end known before (or the segments already seen).
        was: u64,
        /// The end announced now.
        now: u64,
    },
}

/// The receiver's buffer.
#[derive(Clone, Debug)]
pub struct Reorder {
    next: u64,
    waiting: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    limit: usize,
    fin: Option<u64>,
    duplicates: u64,
}

impl Reorder {
    /// A buffer holding at most `limit` bytes ahead of the next segment lacked (size it
    /// from the paths: twice the sum of their bandwidth times the longest round trip).
    pub fn new(limit: usize) -> Reorder {
        Reorder {
            next: 0,
            waiting: BTreeMap::new(),
            buffered: 0,
            limit,
            fin: None,
            duplicates: 0,
        }
    }

    /// Takes segment `seq`.
    pub fn take(&mut self, seq: u64, payload: Vec<u8>) -> Result<Taken, ReorderError> {
        if seq == u64::MAX {
            return Err(ReorderError::OutOfRange(seq));
        }
        if let Some(fin) = self.fin {
            if seq >= fin {
                return Err(ReorderError::PastEnd { seq, fin });
            }
        }
        if seq < self.next || self.waiting.contains_key(&seq) {
            self.duplicates += 1;
            return Ok(Taken::Duplicate);
        }
        if seq > self.next {
            let needed = self.buffered + payload.len();
            if needed > self.limit {
                return Err(ReorderError::Overflow {
                    seq,
                    next: self.next,
                    needed,
                    limit: self.limit,
                });
            }
            self.buffered = needed;
            self.waiting.insert(seq, payload);
            return Ok(Taken::Buffered);
        }
        let mut out = vec![payload];
        self.next += 1;
        while let Some(p) = self.waiting.remove(&self.next) {
            self.buffered -= p.len();
            out.push(p);
            self.next += 1;
        }
        Ok(Taken::Delivered(out))
    }

    /// Notes the sender's end: `seq` segments in all.
    pub fn fin(&mut self, seq: u64) -> Result<(), ReorderError> {
        let seen = self
            .waiting
            .keys()
            .next_back()
            .map_or(self.next, |&last| last + 1)
            .max(self.next);
        match self.fin {
            Some(was) if was != seq => Err(ReorderError::EndMoved { was, now: seq }),
            _ if seq < seen => Err(ReorderError::EndMoved {
                was: seen,
                now: seq,
            }),
            _ => {
                self.fin = Some(seq);
                Ok(())
            }
        }
    }

    /// The acknowledgement to send now: the first segment lacked, and the buffer's size
    /// (what the sender may have in flight beyond that segment).
    pub fn ack(&self) -> Frame {
        Frame::Ack {
            next: self.next,
            window: u32::try_from(self.limit).unwrap_or(u32::MAX),
        }
    }

    /// The first segment lacked.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Whether every segment up to the announced end has been delivered.
    pub fn finished(&self) -> bool {
        self.fin == Some(self.next)
    }

    /// Bytes waiting ahead of the next segment.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Copies dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(n: u8) -> Vec<u8> {
        vec![n; 10]
    }

    #[test]
    fn early_segments_wait_and_copies_are_dropped() {
        let mut r = Reorder::new(100);
        assert_eq!(r.take(1, seg(1)), Ok(Taken::Buffered));
        assert_eq!(r.take(2, seg(2)), Ok(Taken::Buffered));
        assert_eq!(r.take(2, seg(2)), Ok(Taken::Duplicate));
        assert_eq!(r.buffered(), 20);
        assert_eq!(
            r.ack(),
            Frame::Ack {
                next: 0,
                window: 100
            }
        );
        assert_eq!(
            r.take(0, seg(0)),
            Ok(Taken::Delivered(vec![seg(0), seg(1), seg(2)]))
        );
        assert_eq!(r.take(1, seg(1)), Ok(Taken::Duplicate));
        assert_eq!(r.duplicates(), 2);
        assert_eq!(
            r.ack(),
            Frame::Ack {
                next: 3,
                window: 100
            }
        );
    }

    #[test]
    fn the_window_bounds_what_waits_and_the_end_bounds_what_comes() {
        let mut r = Reorder::new(25);
        assert_eq!(r.take(1, seg(1)), Ok(Taken::Buffered));
        assert_eq!(r.take(2, seg(2)), Ok(Taken::Buffered));
        assert!(matches!(
            r.take(3, seg(3)),
            Err(ReorderError::Overflow { needed: 30, .. })
        ));
        // The next one lacked is always taken: it frees the buffer.
        assert!(matches!(r.take(0, seg(0)), Ok(Taken::Delivered(v)) if v.len() == 3));
        assert_eq!(r.fin(2), Err(ReorderError::EndMoved { was: 3, now: 2 }));
        r.fin(4).unwrap();
        assert_eq!(r.fin(5), Err(ReorderError::EndMoved { was: 4, now: 5 }));
        assert!(!r.finished());
        assert_eq!(
            r.take(4, seg(4)),
            Err(ReorderError::PastEnd { seq: 4, fin: 4 })
        );
        assert!(matches!(r.take(3, seg(3)), Ok(Taken::Delivered(_))));
        assert!(r.finished());
    }

    #[test]
    fn the_last_sequence_number_is_refused_so_nothing_counts_past_it() {
        // Found by the fuzzer: a segment at u64::MAX, then an end, overflowed `last + 1`.
        let mut r = Reorder::new(1000);
        assert_eq!(
            r.take(u64::MAX, seg(9)),
            Err(ReorderError::OutOfRange(u64::MAX))
        );
        assert_eq!(r.take(u64::MAX - 1, seg(9)), Ok(Taken::Buffered));
        assert_eq!(
            r.fin(3),
            Err(ReorderError::EndMoved {
                was: u64::MAX,
                now: 3
            })
        );
        r.fin(u64::MAX).unwrap();
    }
}
