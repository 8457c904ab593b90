//! Sequence numbers for what a key signs and others keep only if newer (a node's map
//! record, a map's flow tables): milliseconds since the epoch, or one more than the last
//! when the clock stands still or goes back, so each is above every one used before by
//! this run — and, while the clock is right, by earlier runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// A source of rising sequence numbers.
#[derive(Debug, Default)]
pub struct Sequence {
    last: AtomicU64,
}

impl Sequence {
    /// The next number.
    pub fn next(&self) -> u64 {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = ms.max(last + 1);
            match self
                .last
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(now) => last = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_rise_even_within_one_millisecond() {
        let s = super::Sequence::default();
        let a = s.next();
        let b = s.next();
        let c = s.next();
        assert!(a < b && b < c);
        assert!(a > 1_700_000_000_000, "milliseconds since the epoch: {a}");
    }
}
