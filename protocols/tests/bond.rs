//! Bonding, simulated without sockets or clocks: a sender, its scheduler and a receiver
//! joined by paths that deliver in order each, interleave at random between them, and die
//! (losing what they carried, acknowledgements included) and come back at random. The
//! receiver acknowledges every segment that arrives, copies included, on the fastest
//! live path, so acknowledgements arrive late, out of order across paths, or not at all.
//! Whatever happens, the receiver ends with the channel's bytes in order, each once, and
//! the window is never overrun.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use protocols::bond::frame::Frame;
use protocols::bond::head::Head;
use protocols::bond::reorder::{Reorder, Taken};
use protocols::bond::schedule::{Mode, PathLoad, Scheduler};
use protocols::bond::send_log::SendLog;

#[derive(Clone, Debug)]
enum Step {
    /// The sender sends what its window and the scheduler allow.
    Send,
    /// Path `i` delivers its oldest segment.
    Deliver(usize),
    /// Path `i` delivers its oldest acknowledgement to the sender.
    Ack(usize),
    /// Path `i` dies with what it carries.
    Kill(usize),
    /// Path `i` comes back.
    Revive(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Send),
        6 => (0..3usize).prop_map(Step::Deliver),
        4 => (0..3usize).prop_map(Step::Ack),
        1 => (0..3usize).prop_map(Step::Kill),
        1 => (0..3usize).prop_map(Step::Revive),
    ]
}

struct Path {
    up: bool,
    rtt: Duration,
    rate: u64,
    queue: VecDeque<(u64, Vec<u8>)>,
    /// Acknowledgements on their way back.
    acks: VecDeque<(u64, u32)>,
}

struct Sim {
    log: SendLog,
    scheduler: Scheduler,
    reorder: Reorder,
    paths: Vec<Path>,
    got: Vec<u8>,
    /// The receiver owes the sender an acknowledgement.
    ack_due: bool,
}

impl Sim {
    fn send(&mut self) {
        while let Some(seq) = self.log.next_to_send() {
            let payload = self.log.payload(seq).unwrap().to_vec();
            let loads: Vec<PathLoad> = self
                .paths
                .iter()
                .enumerate()
                .map(|(i, p)| PathLoad {
                    id: i as u32,
                    up: p.up,
                    rtt: p.rtt,
                    rate: p.rate,
                    queued: p.queue.iter().map(|(_, b)| b.len() as u64).sum(),
                })
                .collect();
            let picked = self.scheduler.pick(&loads, payload.len());
            if picked.is_empty() {
                return;
            }
            for id in picked {
                self.paths[id as usize]
                    .queue
                    .push_back((seq, payload.clone()));
                self.log.sent(seq, id);
            }
        }
    }

    fn deliver(&mut self, i: usize) -> Result<(), TestCaseError> {
        let Some((seq, payload)) = self.paths[i].queue.pop_front() else {
            return Ok(());
        };
        match self.reorder.take(seq, payload) {
            Ok(Taken::Delivered(parts)) => parts.iter().for_each(|p| self.got.extend(p)),
            Ok(_) => {}
            Err(e) => return Err(TestCaseError::fail(format!("the receiver refused: {e}"))),
        }
        // Every segment that arrives, a copy too, is acknowledged (a copy means the
        // sender missed an acknowledgement).
        self.ack_due = true;
        self.acknowledge();
        Ok(())
    }

    /// The receiver's acknowledgement, when one is due, on the fastest live path:
    /// cumulative, so any path may carry it, and a later one may overtake it. With no
    /// path alive it stays due.
    fn acknowledge(&mut self) {
        if !self.ack_due {
            return;
        }
        let Frame::Ack { next, window } = self.reorder.ack() else {
            unreachable!("ack() makes an Ack");
        };
        let fastest = (0..self.paths.len())
            .filter(|&k| self.paths[k].up)
            .min_by_key(|&k| self.paths[k].rtt);
        if let Some(k) = fastest {
            self.paths[k].acks.push_back((next, window));
            self.ack_due = false;
        }
    }

    fn ack(&mut self, i: usize) -> Result<(), TestCaseError> {
        let Some((next, window)) = self.paths[i].acks.pop_front() else {
            return Ok(());
        };
        self.log
            .ack(next, window)
            .map_err(|e| TestCaseError::fail(format!("the sender refused: {e}")))?;
        Ok(())
    }

    fn kill(&mut self, i: usize) {
        if self.paths[i].up {
            self.paths[i].up = false;
            self.paths[i].queue.clear();
            self.paths[i].acks.clear();
            self.log.path_lost(i as u32);
            // The receiver sees the path die too: its last acknowledgement may have gone
            // with it, so it sends one again.
            self.ack_due = true;
            self.acknowledge();
        }
    }

    fn revive(&mut self, i: usize) {
        self.paths[i].up = true;
        self.acknowledge();
    }
}

fn run(mode: Mode, sizes: Vec<usize>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut want = Vec::new();
    let mut log = SendLog::default();
    for (n, size) in sizes.iter().enumerate() {
        let payload: Vec<u8> = (0..*size).map(|k| (n * 31 + k) as u8).collect();
        want.extend_from_slice(&payload);
        log.push(payload).unwrap();
    }
    let paths = [(10, 10_000_000), (40, 5_000_000), (25, 0)]
        .into_iter()
        .map(|(ms, rate)| Path {
            up: true,
            rtt: Duration::from_millis(ms),
            rate,
            queue: VecDeque::new(),
            acks: VecDeque::new(),
        })
        .collect();
    let mut sim = Sim {
        log,
        scheduler: Scheduler::new(mode),
        reorder: Reorder::new(8 * 1024),
        paths,
        got: Vec::new(),
        ack_due: false,
    };
    // The receiver's window, as its first acknowledgement would say.
    sim.log.ack(0, 8 * 1024).unwrap();
    for s in steps {
        match s {
            Step::Send => sim.send(),
            Step::Deliver(i) => sim.deliver(i)?,
            Step::Ack(i) => sim.ack(i)?,
            Step::Kill(i) => sim.kill(i),
            Step::Revive(i) => sim.revive(i),
        }
    }
    // Then the network settles: one path back, everything sent and delivered.
    sim.revive(0);
    for _ in 0..100_000 {
        if sim.log.all_acked() {
            break;
        }
        sim.send();
        for i in 0..3 {
            sim.deliver(i)?;
            sim.ack(i)?;
        }
    }
    prop_assert!(sim.log.all_acked(), "not everything was acknowledged");
    sim.reorder.fin(sim.log.made()).unwrap();
    prop_assert!(sim.reorder.finished());
    prop_assert_eq!(sim.got.len(), want.len());
    prop_assert!(sim.got == want, "the bytes differ");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn aggregate_delivers_every_byte_once_in_order(
        sizes in prop::collection::vec(1..2000usize, 1..60),
        steps in prop::collection::vec(step(), 0..300),
    ) {
        run(Mode::Aggregate, sizes, steps)?;
    }

    #[test]
    fn redundant_delivers_every_byte_once_in_order(
        sizes in prop::collection::vec(1..2000usize, 1..60),
        steps in prop::collection::vec(step(), 0..300),
    ) {
        run(Mode::Redundant, sizes, steps)?;
    }

    #[test]
    fn failover_delivers_every_byte_once_in_order(
        sizes in prop::collection::vec(1..2000usize, 1..60),
        steps in prop::collection::vec(step(), 0..300),
    ) {
        run(Mode::Failover, sizes, steps)?;
    }

    #[test]
    fn bond_frames_never_panic_and_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(Some((f, n))) = Frame::decode(&bytes) {
            prop_assert_eq!(f.encode().unwrap(), bytes[..n].to_vec());
        }
    }

    #[test]
    fn stream_heads_never_panic_and_round_trip(
        tail in prop::collection::vec(any::<u8>(), 0..16),
        magic in any::<bool>(),
    ) {
        // Half the inputs start like a real head, so the fields behind the magic are
        // reached too.
        let bytes: Vec<u8> = if magic { b"WB\x01".iter().copied().chain(tail).collect() } else { tail };
        if let Ok(Some((h, n))) = Head::decode(&bytes) {
            prop_assert_eq!(h.encode(), bytes[..n].to_vec());
        }
    }
}
