//! Whether a path is alive. Anything heard on it (a frame, a probe's answer) keeps it
//! up; silence for max(3 × its round trip, 500 ms) takes it down. A live path is probed
//! every 150 ms, so an idle path is known alive; a dead one every second, and it rejoins
//! when it answers. The caller passes `now`.

use std::time::{Duration, Instant};

/// How often a live (or not yet heard) path is probed.
pub const PROBE_EVERY: Duration = Duration::from_millis(150);

/// How often a dead path is probed.
pub const PROBE_DEAD_EVERY: Duration = Duration::from_secs(1);

/// The shortest silence that takes a path down.
pub const MIN_SILENCE: Duration = Duration::from_millis(500);

/// A path's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathState {
    /// Not heard from yet.
    Probing,
    /// Heard from recently.
    Up,
    /// Silent too long.
    Down,
}

/// One path's health.
#[derive(Clone, Debug)]
pub struct Health {
    state: PathState,
    srtt: Option<Duration>,
    /// When it was last heard from, or (before that) when it was made.
    heard: Instant,
    probed: Option<Instant>,
}

impl Health {
    /// A path made at `now`, not yet heard from.
    pub fn new(now: Instant) -> Health {
        Health {
            state: PathState::Probing,
            srtt: None,
            heard: now,
            probed: None,
        }
    }

    /// Something arrived on the path at `now`; `rtt` is a round-trip sample when it was
    /// a probe's answer. Returns whether the path came up with it.
    pub fn heard(&mut self, now: Instant, rtt: Option<Duration>) -> bool {
        if let Some(sample) = rtt {
            self.srtt = Some(match self.srtt {
                None => sample,
                Some(s) => (s * 7 + sample) / 8,
            });
        }
        self.heard = self.heard.max(now);
        let came_up = self.state != PathState::Up;
        self.state = PathState::Up;
        came_up
    }

    /// How long the path may be silent before it is down: max(3 × round trip, 500 ms).
    pub fn silence_limit(&self) -> Duration {
        self.srtt.map_or(MIN_SILENCE, |r| (r * 3).max(MIN_SILENCE))
    }

    /// The state at `now`; a path silent past its limit goes down (and is reported
    /// down from then until it is heard again).
    pub fn tick(&mut self, now: Instant) -> PathState {
        if self.state != PathState::Down
            && now.saturating_duration_since(self.heard) > self.silence_limit()
        {
            self.state = PathState::Down;
        }
        self.state
    }

    /// When the next probe is due.
    pub fn probe_due(&self) -> Instant {
        let every = match self.state {
            PathState::Down => PROBE_DEAD_EVERY,
            _ => PROBE_EVERY,
        };
        match self.probed {
            None => self.heard,
            Some(at) => at + every,
        }
    }

    /// A probe was sent at `now`.
    pub fn probed(&mut self, now: Instant) {
        self.probed = Some(now);
    }

    /// The smoothed round trip, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The state as last ticked.
    pub fn state(&self) -> PathState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_silent_path_goes_down_after_its_limit_and_rejoins_when_heard() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        assert_eq!(h.tick(t0), PathState::Probing);
        assert!(h.heard(t0 + 10 * MS, Some(10 * MS)));
        assert_eq!(h.silence_limit(), MIN_SILENCE, "3 × 10 ms is under 500 ms");
        assert_eq!(h.tick(t0 + 510 * MS), PathState::Up);
        assert_eq!(h.tick(t0 + 511 * MS), PathState::Down);
        assert_eq!(h.probe_due(), t0 + 10 * MS, "never probed: due at once");
        h.probed(t0 + 511 * MS);
        assert_eq!(h.probe_due(), t0 + 1511 * MS, "a dead path every second");
        assert!(h.heard(t0 + 600 * MS, None));
        assert_eq!(h.tick(t0 + 600 * MS), PathState::Up);
        assert_eq!(h.probe_due(), t0 + 661 * MS);
    }

    #[test]
    fn a_long_round_trip_waits_three_times_it() {
        let t0 = Instant::now();
        let mut h = Health::new(t0);
        h.heard(t0, Some(300 * MS));
        assert_eq!(h.silence_limit(), 900 * MS);
        assert_eq!(h.tick(t0 + 900 * MS), PathState::Up);
        assert_eq!(h.tick(t0 + 901 * MS), PathState::Down);
        // A path never heard from goes down after the limit too.
        let mut never = Health::new(t0);
        assert_eq!(never.tick(t0 + 501 * MS), PathState::Down);
        // Heard again, it is up; a clock that goes backwards then changes nothing.
        assert!(h.heard(t0 + 950 * MS, None), "it comes back up");
        assert_eq!(h.tick(t0), PathState::Up);
        assert_eq!(h.rtt(), Some(300 * MS));
    }
}
