//! The fate of each datagram: dropped, or sent once or twice at some time. Pure: the
//! caller supplies the clock, the model supplies the decisions from a seeded generator.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::spec::ImpairSpec;

/// How much a rate-limited link may queue before it drops (tail drop), as time.
const MAX_BACKLOG: Duration = Duration::from_millis(100);

/// The impairment model's state.
#[derive(Debug)]
pub struct Model {
    spec: ImpairSpec,
    rng: StdRng,
    /// When the rate-limited link is free again.
    link_free: Option<Instant>,
    /// The latest departure scheduled in order, so jitter alone does not reorder.
    last_due: Option<Instant>,
}

impl Model {
    /// A model for `spec`, seeded with `spec.seed`.
    pub fn new(spec: ImpairSpec) -> Model {
        let rng = StdRng::seed_from_u64(spec.seed);
        Model {
            spec,
            rng,
            link_free: None,
            last_due: None,
        }
    }

    /// When a datagram of `len` bytes handed over at `now` leaves: none if it is lost, two
    /// times if it is duplicated.
    pub fn fate(&mut self, now: Instant, len: usize) -> Vec<Instant> {
        if self.spec.loss > 0.0 && self.rng.gen_bool(self.spec.loss) {
            return Vec::new();
        }
        let mut start = now;
        if let Some(bits) = self.spec.rate {
            let free = self.link_free.map_or(now, |f| f.max(now));
            if free.duration_since(now) > MAX_BACKLOG {
                return Vec::new();
            }
            let tx = Duration::from_secs_f64(len as f64 * 8.0 / bits as f64);
            self.link_free = Some(free + tx);
            start = free + tx;
        }
        let copies = if self.spec.duplicate > 0.0 && self.rng.gen_bool(self.spec.duplicate) {
            2
        } else {
            1
        };
        (0..copies).map(|_| self.departure(start)).collect()
    }

    fn departure(&mut self, start: Instant) -> Instant {
        let jitter = self.spec.jitter.as_secs_f64();
        let offset = if jitter > 0.0 {
            self.rng.gen_range(-jitter..=jitter)
        } else {
            0.0
        };
        let delay = (self.spec.delay.as_secs_f64() + offset).max(0.0);
        let due = start + Duration::from_secs_f64(delay);
        if self.spec.reorder > 0.0 && self.rng.gen_bool(self.spec.reorder) {
            // Held back past the ones that follow: they overtake it.
            return due + self.spec.jitter * 2 + self.spec.delay / 2 + Duration::from_millis(1);
        }
        let due = self.last_due.map_or(due, |last| due.max(last));
        self.last_due = Some(due);
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ImpairSpec {
        s.parse().unwrap()
    }

    #[test]
    fn loss_and_duplication_follow_their_rates() {
        let now = Instant::now();
        let mut m = Model::new(spec("loss=10%,duplicate=5%,seed=1"));
        let fates: Vec<usize> = (0..100_000).map(|_| m.fate(now, 1200).len()).collect();
        let lost = fates.iter().filter(|&&n| n == 0).count() as f64 / 1e5;
        let doubled = fates.iter().filter(|&&n| n == 2).count() as f64 / 1e5;
        assert!((lost - 0.10).abs() < 0.01, "{lost}");
        assert!((doubled - 0.045).abs() < 0.01, "{doubled}");
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let now = Instant::now();
        let run = |seed| {
            let mut m = Model::new(spec(&format!("loss=20%,jitter=5ms,delay=10ms,seed={seed}")));
            (0..1000).map(|_| m.fate(now, 100)).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn delay_and_jitter_stay_in_bounds_and_keep_order() {
        let now = Instant::now();
        let mut m = Model::new(spec("delay=20ms,jitter=5ms"));
        let mut last = now;
        for _ in 0..10_000 {
            let t = m.fate(now, 100)[0];
            let d = t - now;
            assert!(
                d >= Duration::from_millis(15) && d <= Duration::from_millis(25),
                "{d:?}"
            );
            assert!(t >= last);
            last = t;
        }
    }

    #[test]
    fn reordering_lets_later_datagrams_overtake() {
        let now = Instant::now();
        let mut m = Model::new(spec("delay=10ms,reorder=10%,seed=2"));
        let times: Vec<Instant> = (0..1000).map(|_| m.fate(now, 100)[0]).collect();
        let overtaken = times.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(overtaken > 50, "{overtaken}");
    }

    #[test]
    fn the_rate_limit_spaces_datagrams_and_drops_past_the_backlog() {
        let now = Instant::now();
        // 1 Mbit/s: a 1250-byte datagram takes 10 ms on the wire.
        let mut m = Model::new(spec("rate=1mbit"));
        let first = m.fate(now, 1250)[0];
        let second = m.fate(now, 1250)[0];
        assert_eq!(second - first, Duration::from_millis(10));
        let sent = (0..100).filter(|_| !m.fate(now, 1250).is_empty()).count();
        assert!(sent <= 10, "{sent} queued beyond 100 ms of backlog");
    }
}
