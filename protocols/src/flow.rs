//! Flow channels: datagrams one way (framed by [`crate::datagram`]), acknowledgements the
//! other way, so the sender keeps only about two round trips of data in flight.
//!
//! A live flow (video, telemetry) wants fresh datagrams, not a deep buffer: without
//! acknowledgements the transport's send buffer would take megabytes the path cannot
//! carry yet, and every datagram behind them would arrive seconds late. With them, a flow
//! that outruns its path fills the sender's small queue instead, where datagrams are
//! dropped and counted — the congestion report.
//!
//! An acknowledgement is the total number of frame bytes (length prefix included) the
//! receiver has taken so far, a `u64` big-endian. Totals never go down.

use std::time::{Duration, Instant};

/// Bytes of one acknowledgement.
pub const ACK_LEN: usize = 8;

/// The receiver acknowledges at least every this many frame bytes...
pub const ACK_EVERY: u64 = 16 * 1024;

/// ...and otherwise this long after the last frame it took.
pub const ACK_DELAY: Duration = Duration::from_millis(2);

/// How often the sender resizes its window from the rate acknowledged.
pub const WINDOW_EVERY: Duration = Duration::from_millis(100);

/// The smallest window: enough for full speed on a short path.
pub const MIN_WINDOW: u64 = 64 * 1024;

/// The largest window.
pub const MAX_WINDOW: u64 = 8 << 20;

/// Encodes an acknowledgement of `total` frame bytes.
pub fn encode_ack(total: u64) -> [u8; ACK_LEN] {
    total.to_be_bytes()
}

/// What is wrong with a stream of acknowledgements.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// A total below the one before.
    #[error("acknowledgement went back from {was} to {now} bytes")]
    Backwards {
        /// The earlier total.
        was: u64,
        /// The new, smaller total.
        now: u64,
    },
    /// A total above what was sent.
    #[error("acknowledgement of {acked} bytes, but only {sent} were sent")]
    Unsent {
        /// The total acknowledged.
        acked: u64,
        /// The total sent.
        sent: u64,
    },
}

/// The sender's side: what has been sent, what acknowledged, and whether the window
/// allows more. Fed bytes from the channel and told what was sent; no clocks — the
/// caller passes `now` and the path's round trip in when it ticks.
#[derive(Clone, Debug)]
pub struct Credit {
    sent: u64,
    acked: u64,
    window: u64,
    partial: [u8; ACK_LEN],
    filled: usize,
    /// When the window was last sized, and the bytes acknowledged then.
    mark: Option<(Instant, u64)>,
}

impl Default for Credit {
    fn default() -> Credit {
        Credit {
            sent: 0,
            acked: 0,
            window: MIN_WINDOW,
            partial: [0; ACK_LEN],
            filled: 0,
            mark: None,
        }
    }
}

impl Credit {
    /// Notes a frame of `bytes` sent.
    pub fn sent(&mut self, bytes: u64) {
        self.sent += bytes;
    }

    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.acked
    }

    /// Total bytes acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Whether another frame may be sent now.
    pub fn open(&self) -> bool {
        self.in_flight() < self.window
    }

    /// The current window in bytes.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Sizes the window to twice the bandwidth-delay product: `rate` bytes per second
    /// acknowledged over a round trip of `rtt_micros`, within [`MIN_WINDOW`] and
    /// [`MAX_WINDOW`]. A window-limited flow measures a rate of about window / RTT, so the
    /// window doubles per adjustment until the path, not the window, is the limit.
    pub fn set_window(&mut self, rate: u64, rtt_micros: u64) {
        let bdp = (rate as u128 * rtt_micros as u128 / 1_000_000) as u64;
        self.window = bdp.saturating_mul(2).clamp(MIN_WINDOW, MAX_WINDOW);
    }

    /// Resizes the window from the rate acknowledged since the last resize, once at least
    /// [`WINDOW_EVERY`] has passed (the first call only starts the clock); `rtt` gives the
    /// path's round trip, asked only then. Returns whether the window was resized.
    pub fn tick(&mut self, now: Instant, rtt: impl FnOnce() -> Duration) -> bool {
        let Some((at, acked)) = self.mark else {
            self.mark = Some((now, self.acked));
            return false;
        };
        let elapsed = now.saturating_duration_since(at);
        if elapsed < WINDOW_EVERY {
            return false;
        }
        let rate = (self.acked - acked) as u128 * 1_000_000 / elapsed.as_micros().max(1);
        let rate = u64::try_from(rate).unwrap_or(u64::MAX);
        let rtt = u64::try_from(rtt().as_micros()).unwrap_or(u64::MAX);
        self.set_window(rate, rtt);
        self.mark = Some((now, self.acked));
        true
    }

    /// Takes bytes read from the channel; returns how many new bytes were acknowledged.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<u64, AckError> {
        let before = self.acked;
        while !bytes.is_empty() {
            let take = (ACK_LEN - self.filled).min(bytes.len());
            self.partial[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
            self.filled += take;
            bytes = &bytes[take..];
            if self.filled == ACK_LEN {
                self.filled = 0;
                let now = u64::from_be_bytes(self.partial);
                if now < self.acked {
                    return Err(AckError::Backwards {
                        was: self.acked,
                        now,
                    });
                }
                if now > self.sent {
                    return Err(AckError::Unsent {
                        acked: now,
                        sent: self.sent,
                    });
                }
                self.acked = now;
            }
        }
        Ok(self.acked - before)
    }
}

/// The receiver's side: how many frame bytes it took, and when an acknowledgement is due
/// — every [`ACK_EVERY`] bytes, or [`ACK_DELAY`] after the last frame when fewer came.
#[derive(Clone, Debug, Default)]
pub struct Acks {
    taken: u64,
    unacked: u64,
    last: Option<Instant>,
}

impl Acks {
    /// Notes a frame of `bytes` (length prefix included) taken at `now`; the
    /// acknowledgement to send at once, if [`ACK_EVERY`] bytes are unacknowledged.
    pub fn took(&mut self, bytes: u64, now: Instant) -> Option<[u8; ACK_LEN]> {
        self.taken += bytes;
        self.unacked += bytes;
        self.last = Some(now);
        (self.unacked >= ACK_EVERY).then(|| self.ack())
    }

    /// When an acknowledgement falls due with no more frames; `None` when all are
    /// acknowledged.
    pub fn deadline(&self) -> Option<Instant> {
        match self.unacked {
            0 => None,
            _ => self.last.map(|t| t + ACK_DELAY),
        }
    }

    /// The acknowledgement due at `now`, if its deadline has passed.
    pub fn poll(&mut self, now: Instant) -> Option<[u8; ACK_LEN]> {
        self.deadline()
            .is_some_and(|d| now >= d)
            .then(|| self.ack())
    }

    /// Total frame bytes taken.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    fn ack(&mut self) -> [u8; ACK_LEN] {
        self.unacked = 0;
        encode_ack(self.taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_open_the_window_and_split_anywhere() {
        let mut c = Credit::default();
        c.sent(MIN_WINDOW);
        assert!(!c.open());
        let ack = encode_ack(1000);
        assert_eq!(c.feed(&ack[..3]), Ok(0));
        assert_eq!(c.feed(&ack[3..]), Ok(1000));
        assert!(c.open());
        assert_eq!(c.in_flight(), MIN_WINDOW - 1000);
    }

    #[test]
    fn bad_acks_are_errors() {
        let mut c = Credit::default();
        c.sent(10);
        assert!(matches!(
            c.feed(&encode_ack(11)),
            Err(AckError::Unsent { .. })
        ));
        let mut c = Credit::default();
        c.sent(10);
        c.feed(&encode_ack(8)).unwrap();
        assert!(matches!(
            c.feed(&encode_ack(7)),
            Err(AckError::Backwards { .. })
        ));
    }

    #[test]
    fn the_window_follows_the_path_within_bounds() {
        let mut c = Credit::default();
        c.set_window(0, 0);
        assert_eq!(c.window(), MIN_WINDOW);
        c.set_window(10_000_000, 50_000); // 10 MB/s over 50 ms: BDP 500 kB
        assert_eq!(c.window(), 1_000_000);
        c.set_window(u64::MAX, u64::MAX);
        assert_eq!(c.window(), MAX_WINDOW);
    }

    #[test]
    fn the_window_grows_with_the_rate_acknowledged_on_a_simulated_clock() {
        let t0 = Instant::now();
        let rtt = || Duration::from_millis(50);
        let mut c = Credit::default();
        assert!(!c.tick(t0, rtt), "the first tick starts the clock");
        // 1 MB acknowledged in 100 ms: 10 MB/s over 50 ms, a 1 MB window.
        c.sent(1_000_000);
        c.feed(&encode_ack(1_000_000)).unwrap();
        assert!(!c.tick(t0 + Duration::from_millis(99), rtt));
        assert_eq!(c.window(), MIN_WINDOW);
        assert!(c.tick(t0 + WINDOW_EVERY, rtt));
        assert_eq!(c.window(), 1_000_000);
        // Nothing acknowledged for the next period: back to the smallest window.
        assert!(c.tick(t0 + 2 * WINDOW_EVERY, rtt));
        assert_eq!(c.window(), MIN_WINDOW);
        // A clock that goes backwards is no time at all.
        assert!(!c.tick(t0, rtt));
    }

    #[test]
    fn acks_come_every_16_kib_or_2_ms_after_the_last_frame() {
        let t0 = Instant::now();
        let mut a = Acks::default();
        assert_eq!(a.deadline(), None);
        assert_eq!(a.took(1000, t0), None);
        assert_eq!(a.deadline(), Some(t0 + ACK_DELAY));
        // A later frame moves the deadline.
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(a.took(1000, t1), None);
        assert_eq!(a.poll(t0 + ACK_DELAY), None);
        assert_eq!(a.poll(t1 + ACK_DELAY), Some(encode_ack(2000)));
        assert_eq!(a.deadline(), None);
        assert_eq!(
            a.poll(t1 + 10 * ACK_DELAY),
            None,
            "nothing new to acknowledge"
        );
        // A burst acknowledges at once.
        assert_eq!(a.took(ACK_EVERY - 1, t1), None);
        assert_eq!(a.took(1, t1), Some(encode_ack(2000 + ACK_EVERY)));
        assert_eq!(a.taken(), 2000 + ACK_EVERY);
    }
}
