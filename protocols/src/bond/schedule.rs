//! Which path the next segment of a bonded channel takes, by the channel's mode:
//! - `aggregate`: the live path that will deliver it soonest — half its round trip plus
//!   the time to send what is queued on it and the segment itself at its rate — so one
//!   channel approaches the sum of its paths and a small message takes the fastest one;
//! - `redundant`: every live path (the receiver keeps the first copy);
//! - `failover`: one primary, the live path with the lowest round trip, kept while it
//!   lives; the others stand by.

use std::time::Duration;

use super::PathId;

/// The rate assumed for a path that has not measured one yet (10 Mbit/s).
pub const UNKNOWN_RATE: u64 = 1_250_000;

/// How a channel uses its paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Each segment on the path that delivers it soonest.
    #[default]
    Aggregate,
    /// Every segment on every live path.
    Redundant,
    /// One primary path; the others stand by.
    Failover,
}

impl std::str::FromStr for Mode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Mode, UnknownMode> {
        match s {
            "aggregate" => Ok(Mode::Aggregate),
            "redundant" => Ok(Mode::Redundant),
            "failover" => Ok(Mode::Failover),
            other => Err(UnknownMode(other.to_string())),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Aggregate => "aggregate",
            Mode::Redundant => "redundant",
            Mode::Failover => "failover",
        })
    }
}

/// A mode name that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a mode: use aggregate, redundant or failover")]
pub struct UnknownMode(pub String);

/// What the scheduler knows of one path now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathLoad {
    /// The path.
    pub id: PathId,
    /// Whether it is alive.
    pub up: bool,
    /// Its smoothed round trip.
    pub rtt: Duration,
    /// Bytes per second it delivers (0: not measured yet).
    pub rate: u64,
    /// Bytes sent on it and not yet delivered.
    pub queued: u64,
}

impl PathLoad {
    /// When a segment of `bytes` sent on it now would arrive, from now.
    fn arrival(&self, bytes: usize) -> Duration {
        let rate = if self.rate == 0 {
            UNKNOWN_RATE
        } else {
            self.rate
        };
        let send = (self.queued + bytes as u64) as u128 * 1_000_000 / rate as u128;
        self.rtt / 2 + Duration::from_micros(u64::try_from(send).unwrap_or(u64::MAX))
    }
}

/// The scheduler of one channel.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    mode: Mode,
    primary: Option<PathId>,
}

impl Scheduler {
    /// A scheduler for `mode`.
    pub fn new(mode: Mode) -> Scheduler {
        Scheduler {
            mode,
            primary: None,
        }
    }

    /// The channel's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The paths the next segment of `bytes` goes on: none when no path is alive.
    pub fn pick(&mut self, paths: &[PathLoad], bytes: usize) -> Vec<PathId> {
        let live = paths.iter().filter(|p| p.up);
        match self.mode {
            Mode::Redundant => live.map(|p| p.id).collect(),
            Mode::Aggregate => live
                .min_by_key(|p| (p.arrival(bytes), p.id))
                .map(|p| p.id)
                .into_iter()
                .collect(),
            Mode::Failover => {
                let kept = self
                    .primary
                    .filter(|id| paths.iter().any(|p| p.id == *id && p.up));
                self.primary = kept.or_else(|| {
                    paths
                        .iter()
                        .filter(|p| p.up)
                        .min_by_key(|p| (p.rtt, p.id))
                        .map(|p| p.id)
                });
                self.primary.into_iter().collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(id: PathId, rtt_ms: u64, rate: u64, queued: u64) -> PathLoad {
        PathLoad {
            id,
            up: true,
            rtt: Duration::from_millis(rtt_ms),
            rate,
            queued,
        }
    }

    #[test]
    fn aggregate_takes_the_path_that_delivers_soonest() {
        let mut s = Scheduler::new(Mode::Aggregate);
        // 10 MB/s each; the slower round trip loses while queues are equal...
        let mut paths = [path(1, 10, 10_000_000, 0), path(2, 40, 10_000_000, 0)];
        assert_eq!(s.pick(&paths, 1000), vec![1]);
        // ...and wins once the fast one has 200 ms of bytes queued.
        paths[0].queued = 2_000_000;
        assert_eq!(s.pick(&paths, 1000), vec![2]);
        // A dead path is never picked; none alive, no path.
        paths[1].up = false;
        assert_eq!(s.pick(&paths, 1000), vec![1]);
        paths[0].up = false;
        assert!(s.pick(&paths, 1000).is_empty());
    }

    #[test]
    fn redundant_takes_every_live_path() {
        let mut s = Scheduler::new(Mode::Redundant);
        let mut paths = [path(1, 10, 0, 0), path(2, 40, 0, 0), path(3, 5, 0, 0)];
        paths[2].up = false;
        assert_eq!(s.pick(&paths, 10), vec![1, 2]);
    }

    #[test]
    fn failover_keeps_its_primary_while_it_lives() {
        let mut s = Scheduler::new(Mode::Failover);
        let mut paths = [path(1, 10, 0, 0), path(2, 40, 0, 0)];
        assert_eq!(s.pick(&paths, 10), vec![1]);
        // A better path appears: the primary stays.
        paths[1].rtt = Duration::from_millis(1);
        assert_eq!(s.pick(&paths, 10), vec![1]);
        paths[0].up = false;
        assert_eq!(s.pick(&paths, 10), vec![2]);
        // The old primary comes back: no flapping back.
        paths[0].up = true;
        assert_eq!(s.pick(&paths, 10), vec![2]);
        assert_eq!("failover".parse::<Mode>(), Ok(Mode::Failover));
        assert!("both".parse::<Mode>().is_err());
    }
}
