//! The engine of one bonded channel, on each side: it cuts what the user writes into
//! segments and sends each on the path (or paths) the channel's mode picks, keeps them
//! until acknowledged and sends again what a dying path took with it; it puts arriving
//! segments back in order, drops copies, acknowledges, and reports to the sender what
//! each path delivered so the scheduler knows each path's queue and rate. The sans-IO
//! parts are `protocols::bond`; this is where they meet streams and time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocols::bond::frame::Frame;
use protocols::bond::head::Head;
use protocols::bond::health::PathState;
use protocols::bond::reorder::{Reorder, Taken};
use protocols::bond::schedule::{Mode, PathLoad, Scheduler, UNKNOWN_RATE};
use protocols::bond::send_log::SendLog;
use protocols::bond::PathId;
use tokio::sync::{mpsc, watch};

use super::super::close::Closed;
use super::super::paths::{Joined, PathTable};
use super::halves::{BondEnd, WriteState};
use super::streams::{self, Event, StreamEnd, END_CODE, REFUSED_CODE};

/// The receiver's buffer for segments that come early, in bytes.
pub const REORDER_LIMIT: usize = 4 << 20;
/// Bytes in order but not yet read by the user, past which no more frames are taken.
const READY_LIMIT: usize = 1 << 20;
/// Bytes written by the user and not yet acknowledged, past which writes wait.
const HELD_LIMIT: u64 = 4 << 20;
/// The least a path may have queued (sent and not yet reported delivered).
const MIN_QUEUE: u64 = 64 * 1024;
/// The most a path may have queued.
const MAX_QUEUE: u64 = 16 << 20;
/// How long the channel waits for a live path before it is lost.
const NO_PATH_LIMIT: Duration = Duration::from_secs(10);
/// Streams the opener opens on one path at most.
const MAX_JOINS: u8 = 3;
/// How often the engine looks again at its paths without being woken.
const TICK: Duration = Duration::from_millis(100);

/// One path's stream of the channel, as the engine sees it.
struct Stream {
    frames: mpsc::UnboundedSender<Vec<u8>>,
    state: PathState,
    rtt: Duration,
    /// Whether the path can carry anything (its connection and this stream live).
    alive: bool,
    /// Segment bytes sent on it, and how many of them the peer reported received.
    sent: u64,
    got: u64,
    /// Bytes per second it delivers, measured from the reports (0: not yet).
    rate: u64,
    mark: Option<(Instant, u64)>,
    /// Segment bytes received on it, and how many of them were reported to the peer.
    received: u64,
    reported: u64,
    fin_sent: bool,
}

impl Stream {
    fn queued(&self) -> u64 {
        self.sent.saturating_sub(self.got)
    }

    /// How much may be queued on it: two of its bandwidth-delay products, within bounds.
    fn room(&self) -> u64 {
        let rate = if self.rate == 0 {
            UNKNOWN_RATE
        } else {
            self.rate
        };
        let bdp = rate as u128 * self.rtt.max(Duration::from_millis(10)).as_micros() / 1_000_000;
        (2 * bdp as u64).clamp(MIN_QUEUE, MAX_QUEUE)
    }

    /// The path died with bytes on it: they go again elsewhere, so none count as
    /// queued here any more.
    fn forget_queue(&mut self) {
        self.got = self.sent;
        self.mark = None;
    }

    fn usable(&self) -> bool {
        self.alive && self.state != PathState::Down
    }

    /// The peer reports `got` bytes received: what is queued, and the rate it delivers.
    fn delivered(&mut self, got: u64, now: Instant) {
        let busy = self.queued() > self.room() / 2;
        self.got = got.min(self.sent).max(self.got);
        let Some((at, was)) = self.mark else {
            self.mark = Some((now, self.got));
            return;
        };
        let dt = now.saturating_duration_since(at);
        if dt < self.rtt.max(Duration::from_millis(20)) {
            return;
        }
        let sample = ((self.got - was) as u128 * 1_000_000 / dt.as_micros().max(1)) as u64;
        self.rate = match (self.rate, busy) {
            (0, _) => sample,
            (r, true) => (3 * r + sample) / 4,
            (r, false) => r.max(sample),
        };
        self.mark = Some((now, self.got));
    }
}

/// What a new engine is given.
pub(crate) struct Start {
    /// The peer's paths.
    pub table: Arc<PathTable>,
    /// The channel's number (the opener's).
    pub bond: u64,
    /// How the channel uses its paths.
    pub mode: Mode,
    /// Whether this side opened the channel (and so opens its streams on other paths).
    pub opener: bool,
    /// The first stream.
    pub first: Joined,
    /// Streams on other paths (the acceptor's come from the peer).
    pub joins: mpsc::Receiver<Joined>,
    /// Where the opener's own join streams go.
    pub joins_tx: Option<mpsc::Sender<Joined>>,
    /// What the user writes.
    pub app_in: mpsc::Receiver<Vec<u8>>,
    /// What the user reads.
    pub app_out: mpsc::Sender<Result<Vec<u8>, BondEnd>>,
    /// Shared with the writing half.
    pub write_state: Arc<WriteState>,
}

pub(crate) struct Engine {
    table: Arc<PathTable>,
    bond: u64,
    opener: bool,
    sched: Scheduler,
    log: SendLog,
    reorder: Reorder,
    streams: HashMap<PathId, Stream>,
    joining: HashSet<PathId>,
    /// Streams opened on each path so far (a path that keeps refusing is left alone).
    join_tries: HashMap<PathId, u8>,
    joins: mpsc::Receiver<Joined>,
    joins_tx: Option<mpsc::Sender<Joined>>,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    app_in: Option<mpsc::Receiver<Vec<u8>>>,
    app_out: Option<mpsc::Sender<Result<Vec<u8>, BondEnd>>>,
    write_state: Arc<WriteState>,
    ready: VecDeque<Vec<u8>>,
    ready_bytes: usize,
    abort: watch::Sender<Option<u32>>,
    stop: watch::Sender<bool>,
    /// Our direction is over: finished and acknowledged, reset, or stopped by the peer.
    send_done: bool,
    /// Theirs is over: read to its end, reset, or the user stopped reading.
    recv_done: bool,
    heard: bool,
    /// Whether the end went out on some path.
    fin_out: bool,
    /// Whether an acknowledgement should go out: data or the end arrived (a copy of
    /// what we had means the sender missed our last one), or the path it went on died.
    ack_due: bool,
    reports_due: bool,
    /// Early bytes charged to the peer's budget.
    early: u64,
    no_path_since: Option<Instant>,
}

/// What woke the engine.
enum Wake {
    Event(Option<Event>),
    Written(Option<Vec<u8>>),
    /// The user's reader has room (`None`: it is gone).
    Reader(Option<mpsc::OwnedPermit<Result<Vec<u8>, BondEnd>>>),
    /// The paths changed or it is time to look (`false`: the peer is gone).
    Paths(bool),
    Joined(Joined),
}

async fn maybe_recv<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Engine {
    pub fn new(s: Start) -> Engine {
        let (events_tx, events) = mpsc::channel(256);
        let mut engine = Engine {
            table: s.table,
            bond: s.bond,
            opener: s.opener,
            sched: Scheduler::new(s.mode),
            log: SendLog::default(),
            reorder: Reorder::new(REORDER_LIMIT),
            streams: HashMap::new(),
            joining: HashSet::new(),
            join_tries: HashMap::new(),
            joins: s.joins,
            joins_tx: s.joins_tx,
            events,
            events_tx,
            app_in: Some(s.app_in),
            app_out: Some(s.app_out),
            write_state: s.write_state,
            ready: VecDeque::new(),
            ready_bytes: 0,
            abort: watch::Sender::new(None),
            stop: watch::Sender::new(false),
            send_done: false,
            recv_done: false,
            heard: false,
            fin_out: false,
            ack_due: false,
            reports_due: false,
            early: 0,
            no_path_since: None,
        };
        engine.add_stream(s.first);
        engine.refresh();
        engine
    }

    fn add_stream(&mut self, j: Joined) {
        self.joining.remove(&j.path);
        if let Some(old) = self.streams.get(&j.path) {
            if old.alive {
                // One stream per path: a second is refused, that stream only.
                let mut send = j.send;
                let _ = send.reset(REFUSED_CODE.into());
                return;
            }
        }
        let (frames, frames_rx) = mpsc::unbounded_channel();
        tokio::spawn(streams::write(
            j.path,
            j.send,
            frames_rx,
            self.abort.subscribe(),
            self.events_tx.clone(),
        ));
        tokio::spawn(streams::read(
            j.path,
            j.recv,
            j.early,
            self.stop.subscribe(),
            self.events_tx.clone(),
        ));
        let view = self.table.views().into_iter().find(|v| v.id == j.path);
        let mut stream = Stream {
            frames,
            state: view.as_ref().map_or(PathState::Probing, |v| v.state),
            rtt: view.as_ref().map_or(Duration::from_millis(100), |v| v.rtt),
            alive: true,
            sent: 0,
            got: 0,
            rate: 0,
            mark: None,
            received: 0,
            reported: 0,
            fin_sent: false,
        };
        // A stream that joins after the end was announced carries the end too.
        if self.app_in.is_none() && !self.write_state.reset() {
            let _ = stream.frames.send(encode(&Frame::Fin {
                seq: self.log.made(),
            }));
            stream.fin_sent = true;
            self.fin_out = true;
        }
        self.streams.insert(j.path, stream);
    }

    /// Runs the channel to its end.
    pub async fn run(mut self) {
        let mut paths = self.table.subscribe();
        let mut tick = tokio::time::interval(TICK);
        let result = loop {
            self.pump();
            if self.send_done && self.recv_done {
                break Ok(());
            }
            if let Err(e) = self.check_paths() {
                break Err(e);
            }
            let take_frames = self.ready_bytes < READY_LIMIT;
            let take_writes = self.log.held() < HELD_LIMIT && !self.send_done;
            let wake = tokio::select! {
                ev = self.events.recv(), if take_frames => Wake::Event(ev),
                data = maybe_recv(&mut self.app_in), if take_writes => Wake::Written(data),
                permit = reserve(&self.app_out, !self.ready.is_empty()) => Wake::Reader(permit),
                _ = closed(&self.app_out), if !self.recv_done => Wake::Reader(None),
                changed = paths.changed() => Wake::Paths(changed.is_ok()),
                Some(j) = self.joins.recv() => Wake::Joined(j),
                _ = tick.tick() => Wake::Paths(true),
            };
            match wake {
                Wake::Event(None) => break Ok(()),
                Wake::Event(Some(ev)) => {
                    if let Err(e) = self.batch(ev) {
                        break Err(e);
                    }
                }
                Wake::Written(data) => self.written(data),
                Wake::Reader(Some(permit)) => {
                    let piece = self.ready.pop_front().expect("checked non-empty");
                    self.ready_bytes -= piece.len();
                    permit.send(Ok(piece));
                }
                Wake::Reader(None) => self.user_stopped_reading(),
                Wake::Paths(true) => self.refresh(),
                Wake::Paths(false) => {
                    break Err(BondEnd::Lost(
                        self.table.closed().unwrap_or(Closed::Locally),
                    ))
                }
                Wake::Joined(j) => self.add_stream(j),
            }
        };
        if let Err(e) = result {
            self.fail(e);
        }
        self.table.unregister_bond(self.bond);
        self.table.charge_early(0, self.early);
        // Dropping the streams' senders finishes them, after the last frames.
    }

    /// Charges the peer for the bytes now waiting in the reorder buffer (see
    /// [`super::super::paths::EARLY_BUDGET`]); a peer past its budget breaks the channel.
    fn charge_early(&mut self) -> Result<(), BondEnd> {
        let now = self.reorder.buffered() as u64;
        let (more, less) = (
            now.saturating_sub(self.early),
            self.early.saturating_sub(now),
        );
        if !self.table.charge_early(more, less) {
            return Err(BondEnd::Broken(
                "too many bytes ahead of missing segments across the peer's channels".into(),
            ));
        }
        self.early = now;
        Ok(())
    }

    /// Takes one event and whatever else is waiting, then sends reports once.
    fn batch(&mut self, first: Event) -> Result<(), BondEnd> {
        self.event(first)?;
        for _ in 0..256 {
            if self.ready_bytes >= READY_LIMIT {
                break;
            }
            match self.events.try_recv() {
                Ok(ev) => self.event(ev)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn event(&mut self, ev: Event) -> Result<(), BondEnd> {
        match ev {
            Event::Frame(path, frame) => self.frame(path, frame),
            Event::Bad(path, e) => Err(BondEnd::Broken(format!("path {path}: {e}"))),
            Event::ReadEnded(path, end) => {
                match end {
                    StreamEnd::Ended(code) if code == u64::from(END_CODE) => {
                        if !self.recv_done {
                            self.deliver_end(Err(BondEnd::Reset));
                        }
                    }
                    StreamEnd::Finished => {}
                    _ => self.path_lost(path),
                }
                Ok(())
            }
            Event::WriteEnded(path, end) => {
                match end {
                    StreamEnd::Ended(code) if code == u64::from(END_CODE) => {
                        // The peer stopped reading: our direction is over.
                        self.write_state.fail(BondEnd::Reset);
                        self.app_in = None;
                        self.send_done = true;
                    }
                    _ => self.path_lost(path),
                }
                Ok(())
            }
        }
    }

    fn frame(&mut self, path: PathId, frame: Frame) -> Result<(), BondEnd> {
        self.heard = true;
        let broken = |e: &dyn std::fmt::Display| BondEnd::Broken(e.to_string());
        match frame {
            Frame::Data { seq, payload } => {
                if let Some(s) = self.streams.get_mut(&path) {
                    s.received += payload.len() as u64;
                }
                self.reports_due = true;
                self.ack_due = true;
                if self.recv_done {
                    return Ok(());
                }
                if let Taken::Delivered(parts) =
                    self.reorder.take(seq, payload).map_err(|e| broken(&e))?
                {
                    for p in parts {
                        self.ready_bytes += p.len();
                        self.ready.push_back(p);
                    }
                }
                self.charge_early()?;
            }
            Frame::Ack { next, window } => {
                self.log.ack(next, window).map_err(|e| broken(&e))?;
            }
            Frame::Fin { seq } => {
                self.reorder.fin(seq).map_err(|e| broken(&e))?;
                self.reports_due = true;
                self.ack_due = true;
            }
            Frame::Got { bytes } => {
                if let Some(s) = self.streams.get_mut(&path) {
                    s.delivered(bytes, Instant::now());
                }
            }
        }
        Ok(())
    }

    /// The user wrote `data`, or (`None`) finished or reset its direction.
    fn written(&mut self, data: Option<Vec<u8>>) {
        if self.write_state.reset() {
            self.app_in = None;
            self.send_done = true;
            self.abort.send_replace(Some(END_CODE));
            return;
        }
        let Some(data) = data else {
            self.app_in = None;
            return;
        };
        // The writing half cuts pieces to one segment; an empty one carries nothing.
        if !data.is_empty() {
            let _ = self.log.push(data);
        }
    }

    fn user_stopped_reading(&mut self) {
        if !self.recv_done {
            self.recv_done = true;
            self.ready.clear();
            self.ready_bytes = 0;
            self.stop.send_replace(true);
        }
    }

    /// Ends the user's reading with `end` (`Ok`: the peer's clean end).
    fn deliver_end(&mut self, end: Result<(), BondEnd>) {
        self.recv_done = true;
        self.ready.clear();
        self.ready_bytes = 0;
        if let (Err(e), Some(out)) = (end, self.app_out.take()) {
            let _ = out.try_send(Err(e));
        }
    }

    /// Path `path`'s connection or stream ended: it carries nothing more.
    fn path_lost(&mut self, path: PathId) {
        if self.streams.get(&path).is_some_and(|s| s.alive) {
            self.give_back(path);
            if let Some(s) = self.streams.get_mut(&path) {
                s.alive = false;
            }
        }
    }

    /// What `path` held goes again elsewhere, and our last acknowledgement may have
    /// gone with it: acknowledge again.
    fn give_back(&mut self, path: PathId) {
        if let Some(s) = self.streams.get_mut(&path) {
            s.forget_queue();
        }
        self.log.path_lost(path);
        self.ack_due |= self.heard;
        self.reports_due = true;
    }

    /// Looks at the peer's paths: states and round trips; a path gone or down gives
    /// back what it held; the opener opens streams on paths the channel lacks.
    fn refresh(&mut self) {
        let views = self.table.views();
        let ids: Vec<PathId> = self.streams.keys().copied().collect();
        for id in ids {
            let Some(v) = views.iter().find(|v| v.id == id) else {
                self.path_lost(id);
                continue;
            };
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            let went_down = s.state != PathState::Down && v.state == PathState::Down;
            s.state = v.state;
            s.rtt = v.rtt;
            if went_down {
                self.give_back(id);
            }
        }
        self.streams
            .retain(|_, s| s.alive || s.received > s.reported);
        if !self.opener || !self.heard || self.send_done && self.recv_done {
            return;
        }
        let Some(joins) = self.joins_tx.clone() else {
            return;
        };
        for v in views {
            let tries = self.join_tries.entry(v.id).or_default();
            if v.state == PathState::Down
                || *tries >= MAX_JOINS
                || self.joining.contains(&v.id)
                || self.streams.contains_key(&v.id)
            {
                continue;
            }
            *tries += 1;
            self.joining.insert(v.id);
            let bond = self.bond;
            let joins = joins.clone();
            tokio::spawn(async move {
                let Ok((mut send, recv)) = v.conn.open_bi().await else {
                    return;
                };
                if send.write_all(&Head::Join { bond }.encode()).await.is_ok() {
                    let _ = joins
                        .send(Joined {
                            path: v.id,
                            send,
                            recv,
                            early: Vec::new(),
                        })
                        .await;
                }
            });
        }
    }

    /// Fails when no path has lived for too long, or the peer is gone.
    fn check_paths(&mut self) -> Result<(), BondEnd> {
        if self.streams.values().any(|s| s.usable()) {
            self.no_path_since = None;
            return Ok(());
        }
        if let Some(why) = self.table.closed() {
            return Err(BondEnd::Lost(why));
        }
        let since = *self.no_path_since.get_or_insert_with(Instant::now);
        if since.elapsed() > NO_PATH_LIMIT {
            return Err(BondEnd::Lost(Closed::TimedOut));
        }
        Ok(())
    }

    /// Sends what can be sent: segments on the paths the mode picks while they have
    /// room, the end once the user finished, acknowledgements and delivery reports.
    fn pump(&mut self) {
        if !self.send_done {
            self.send_segments();
            if self.app_in.is_none() {
                let fin = encode(&Frame::Fin {
                    seq: self.log.made(),
                });
                for s in self.streams.values_mut().filter(|s| s.alive && !s.fin_sent) {
                    let _ = s.frames.send(fin.clone());
                    s.fin_sent = true;
                    self.fin_out = true;
                }
                if self.fin_out && self.log.all_acked() {
                    self.send_done = true;
                }
            }
        }
        if self.reports_due || self.ack_due {
            self.reports_due = false;
            self.report();
        }
        if !self.recv_done && self.reorder.finished() && self.ready.is_empty() {
            self.deliver_end(Ok(()));
        }
    }

    fn send_segments(&mut self) {
        let mode = self.sched.mode();
        while let Some(seq) = self.log.next_to_send() {
            let Some(len) = self.log.payload(seq).map(<[u8]>::len) else {
                break;
            };
            let loads: Vec<PathLoad> = self
                .streams
                .iter()
                .map(|(&id, s)| PathLoad {
                    id,
                    up: s.usable() && (mode == Mode::Failover || s.queued() < s.room()),
                    rtt: s.rtt,
                    rate: s.rate,
                    queued: s.queued(),
                })
                .collect();
            let mut picked = self.sched.pick(&loads, len);
            picked.retain(|id| self.streams.get(id).is_some_and(|s| s.queued() < s.room()));
            if picked.is_empty() {
                break;
            }
            let frame = encode(&Frame::Data {
                seq,
                payload: self.log.payload(seq).unwrap_or_default().to_vec(),
            });
            for id in picked {
                let Some(s) = self.streams.get_mut(&id) else {
                    continue;
                };
                if s.frames.send(frame.clone()).is_err() {
                    s.alive = false;
                    continue;
                }
                s.sent += len as u64;
                self.log.sent(seq, id);
            }
        }
    }

    /// Acknowledges on the best path, and tells each path's sender what it delivered.
    fn report(&mut self) {
        if self.ack_due {
            let best = self
                .streams
                .iter()
                .filter(|(_, s)| s.usable())
                .min_by_key(|(_, s)| s.rtt)
                .map(|(&id, _)| id);
            if let Some(s) = best.and_then(|id| self.streams.get(&id)) {
                if s.frames.send(encode(&self.reorder.ack())).is_ok() {
                    self.ack_due = false;
                }
            }
        }
        for s in self.streams.values_mut() {
            if s.received > s.reported {
                s.reported = s.received;
                let _ = s.frames.send(encode(&Frame::Got { bytes: s.received }));
            }
        }
    }

    /// Ends the channel with `why`: the user's reads and writes fail, every stream is
    /// reset.
    fn fail(&mut self, why: BondEnd) {
        self.write_state.fail(why.clone());
        self.app_in = None;
        if !self.recv_done {
            self.deliver_end(Err(why));
        }
        self.abort.send_replace(Some(END_CODE));
        self.stop.send_replace(true);
    }
}

fn encode(frame: &Frame) -> Vec<u8> {
    // Segments are cut to the limit before they are kept, so every frame encodes.
    frame.encode().unwrap_or_default()
}

async fn reserve<T>(out: &Option<mpsc::Sender<T>>, want: bool) -> Option<mpsc::OwnedPermit<T>> {
    match out {
        Some(out) if want => out.clone().reserve_owned().await.ok(),
        _ => std::future::pending().await,
    }
}

async fn closed<T>(out: &Option<mpsc::Sender<T>>) {
    match out {
        Some(out) => out.closed().await,
        None => std::future::pending().await,
    }
}
