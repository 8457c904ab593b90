//! Waiting between attempts that keep failing (reconnecting to a peer, reopening a flow
//! member's channel): each wait twice the one before, from a first to a longest. No
//! clock: the caller passes `now`.

use std::time::{Duration, Instant};

/// Doubling waits between attempts.
#[derive(Clone, Debug)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    /// The wait after the last attempt, and when the next may be made.
    next: Option<(Duration, Instant)>,
}

impl Backoff {
    /// Waits from `first`, doubling up to `longest`.
    pub fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff {
            first,
            longest: longest.max(first),
            next: None,
        }
    }

    /// Whether an attempt may be made at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|(_, at)| now >= at)
    }

    /// Notes an attempt made at `now` (that has failed or may fail): the wait before the
    /// next one, twice the last, at most the longest.
    pub fn attempt(&mut self, now: Instant) -> Duration {
        let wait = match self.next {
            None => self.first,
            Some((last, _)) => (last * 2).min(self.longest),
        };
        self.next = Some((wait, now + wait));
        wait
    }

    /// Notes a success: the next failure waits the first wait again.
    pub fn reset(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_the_longest_and_reset_on_success() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(500), ms(4000));
        assert!(b.ready(t0));
        let waits: Vec<_> = (0..6).map(|_| b.attempt(t0)).collect();
        assert_eq!(
            waits,
            [ms(500), ms(1000), ms(2000), ms(4000), ms(4000), ms(4000)]
        );
        assert!(!b.ready(t0 + ms(3999)));
        assert!(b.ready(t0 + ms(4000)));
        b.reset();
        assert!(b.ready(t0));
        assert_eq!(b.attempt(t0), ms(500));
    }

    #[test]
    fn a_longest_below_the_first_is_the_first() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.attempt(t0), Duration::from_secs(2));
        assert_eq!(b.attempt(t0), Duration::from_secs(2));
    }
}
