//! What a connection still has to send, arranged so a slow client costs bounded memory and
//! never holds up the lanes that write to it: link control frames go first; a value link
//! keeps its last few events (the oldest dropped first), a map link its latest event per
//! key; command and supply links queue, and a client whose queues pass the bound is
//! disconnected.

use std::collections::VecDeque;
use std::sync::Mutex;

use indexmap::IndexMap;
use recon::Value;
use tokio::sync::Notify;

/// Queued frames (command and supply links together) a connection may hold before it is
/// closed as too slow.
pub const MAX_QUEUED: usize = 65_536;

/// Events a value link keeps pending before it drops the oldest: a client that keeps up
/// sees every change, one that falls behind sees the latest ones.
pub const VALUE_BUFFER: usize = 256;

/// Bytes of frames a connection may have pending. Past it a value link drops its oldest
/// events, and a command, supply or map event marks the client too slow (it is closed):
/// frames are shared between connections, but a client that never reads must not pin
/// more than this.
pub const MAX_BYTES: usize = 16 << 20;

/// A frame ready to send, shared (not copied) by every connection it goes to.
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// Where a map link's pending events are kept: per key, or a clear that supersedes them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapSlot {
    /// The latest event for this key.
    Key(Value),
    /// The map was cleared.
    Clear,
}

/// The index of a link in its connection.
pub type LinkId = u32;

/// Pending frames of one connection.
#[derive(Default)]
pub struct Outbox {
    control: VecDeque<Frame>,
    values: IndexMap<LinkId, VecDeque<Frame>>,
    value_count: usize,
    maps: IndexMap<LinkId, IndexMap<MapSlot, Frame>>,
    queues: IndexMap<LinkId, VecDeque<Frame>>,
    queued: usize,
    /// Bytes of every frame pending.
    bytes: usize,
    /// Set when the client fell too far behind.
    pub overflowed: bool,
    /// A close frame (code, reason) to send once everything before it is sent.
    pub close: Option<(u16, String)>,
}

impl Outbox {
    /// A link or auth frame: always sent, in order, before lane events.
    pub fn control(&mut self, f: Frame) {
        self.bytes += f.len();
        self.control.push_back(f);
    }

    /// An event of a value link. Past [`VALUE_BUFFER`] pending events on the link (or
    /// [`MAX_QUEUED`] on the connection) the oldest is dropped: the link conflates
    /// towards the latest value instead of growing.
    pub fn value(&mut self, link: LinkId, f: Frame) {
        let full = self.value_count >= MAX_QUEUED;
        let q = self.values.entry(link).or_default();
        if q.len() >= VALUE_BUFFER || (full && !q.is_empty()) {
            if let Some(old) = q.pop_front() {
                self.bytes -= old.len();
            }
            self.value_count -= 1;
        }
        while self.bytes + f.len() > MAX_BYTES {
            let Some(old) = q.pop_front() else { break };
            self.bytes -= old.len();
            self.value_count -= 1;
        }
        if self.bytes + f.len() > MAX_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += f.len();
        q.push_back(f);
        self.value_count += 1;
    }

    /// The latest event for `key` of a map link.
    pub fn map(&mut self, link: LinkId, key: Value, f: Frame) {
        let pending = self.maps.entry(link).or_default();
        // Moved to the end, so it follows a clear queued before it.
        if let Some(old) = pending.shift_remove(&MapSlot::Key(key.clone())) {
            self.bytes -= old.len();
        }
        if self.bytes + f.len() > MAX_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += f.len();
        pending.insert(MapSlot::Key(key), f);
    }

    /// A map link's `@clear`: every pending key event before it is dropped.
    pub fn map_clear(&mut self, link: LinkId, f: Frame) {
        let pending = self.maps.entry(link).or_default();
        self.bytes -= pending.values().map(|f| f.len()).sum::<usize>();
        pending.clear();
        self.bytes += f.len();
        pending.insert(MapSlot::Clear, f);
    }

    /// An event of a command or supply link, queued.
    pub fn queue(&mut self, link: LinkId, f: Frame) {
        if self.queued >= MAX_QUEUED || self.bytes + f.len() > MAX_BYTES {
            self.overflowed = true;
            return;
        }
        self.bytes += f.len();
        self.queues.entry(link).or_default().push_back(f);
        self.queued += 1;
    }

    /// Forgets what a closed link had pending.
    pub fn forget(&mut self, link: LinkId) {
        let size = |q: &VecDeque<Frame>| q.iter().map(|f| f.len()).sum::<usize>();
        if let Some(q) = self.values.shift_remove(&link) {
            self.value_count -= q.len();
            self.bytes -= size(&q);
        }
        if let Some(m) = self.maps.shift_remove(&link) {
            self.bytes -= m.values().map(|f| f.len()).sum::<usize>();
        }
        if let Some(q) = self.queues.shift_remove(&link) {
            self.queued -= q.len();
            self.bytes -= size(&q);
        }
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.control.is_empty()
            && self.values.is_empty()
            && self.maps.is_empty()
            && self.queues.is_empty()
    }

    /// Takes up to `max` frames in sending order: control frames, then lane events.
    pub fn drain(&mut self, max: usize, out: &mut Vec<Frame>) {
        let before = out.len();
        self.drain_in_order(max, out);
        self.bytes -= out[before..].iter().map(|f| f.len()).sum::<usize>();
    }

    fn drain_in_order(&mut self, max: usize, out: &mut Vec<Frame>) {
        while out.len() < max {
            let Some(f) = self.control.pop_front() else {
                break;
            };
            out.push(f);
        }
        while out.len() < max {
            let Some(entry) = self.values.get_index_mut(0) else {
                break;
            };
            while out.len() < max {
                let Some(f) = entry.1.pop_front() else {
                    break;
                };
                self.value_count -= 1;
                out.push(f);
            }
            if entry.1.is_empty() {
                self.values.shift_remove_index(0);
            }
        }
        while out.len() < max {
            let Some(entry) = self.maps.get_index_mut(0) else {
                break;
            };
            while out.len() < max {
                let Some((_, f)) = entry.1.shift_remove_index(0) else {
                    break;
                };
                out.push(f);
            }
            if entry.1.is_empty() {
                self.maps.shift_remove_index(0);
            }
        }
        while out.len() < max {
            let Some(entry) = self.queues.get_index_mut(0) else {
                break;
            };
            while out.len() < max {
                let Some(f) = entry.1.pop_front() else { break };
                self.queued -= 1;
                out.push(f);
            }
            if entry.1.is_empty() {
                self.queues.shift_remove_index(0);
            }
        }
    }
}

/// A connection's outbox and the signal that wakes its writer.
#[derive(Default)]
pub struct Sink {
    /// What waits to be sent.
    pub outbox: Mutex<Outbox>,
    /// Wakes the writer.
    pub notify: Notify,
}

impl Sink {
    /// Moves up to `max` frames into `out`, for a writer: with the close frame once
    /// nothing is left before it, and whether the client fell too far behind.
    pub fn take(&self, max: usize, out: &mut Vec<Frame>) -> (Option<(u16, String)>, bool) {
        let mut o = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        o.drain(max, out);
        let close = if o.is_empty() { o.close.take() } else { None };
        (close, o.overflowed)
    }

    /// Changes the outbox and wakes the writer.
    pub fn push(&self, f: impl FnOnce(&mut Outbox)) {
        f(&mut self.outbox.lock().unwrap_or_else(|p| p.into_inner()));
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &'static str) -> Frame {
        Frame::from_static(s)
    }

    #[test]
    fn control_goes_first_then_values_maps_per_key_and_queues() {
        let mut o = Outbox::default();
        o.value(1, f("v1"));
        o.value(1, f("v2"));
        o.map(2, Value::from(1), f("k1a"));
        o.map(2, Value::from(2), f("k2"));
        o.map(2, Value::from(1), f("k1b"));
        o.queue(3, f("s1"));
        o.queue(3, f("s2"));
        o.control(f("linked"));
        let mut out = Vec::new();
        o.drain(100, &mut out);
        let got: Vec<&str> = out.iter().map(|s| s.as_str()).collect();
        // A key updated again moves behind the others: events leave in the order of their
        // latest change.
        assert_eq!(got, ["linked", "v1", "v2", "k2", "k1b", "s1", "s2"]);
        assert!(o.is_empty());
        // A clear drops the key events before it and keeps those after it in order.
        o.map(2, Value::from(1), f("old"));
        o.map_clear(2, f("clear"));
        o.map(2, Value::from(3), f("new"));
        out.clear();
        o.drain(100, &mut out);
        let got: Vec<&str> = out.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, ["clear", "new"]);
    }

    #[test]
    fn a_value_link_that_falls_behind_keeps_its_latest_events() {
        let mut o = Outbox::default();
        let n = VALUE_BUFFER + 100;
        let frames: Vec<Frame> = (0..n).map(|i| Frame::from(i.to_string())).collect();
        for fr in &frames {
            o.value(7, fr.clone());
        }
        let mut out = Vec::new();
        o.drain(1000, &mut out);
        assert_eq!(out, frames[n - VALUE_BUFFER..]);
        assert!(o.is_empty());
    }

    #[test]
    fn a_queue_past_the_bound_marks_the_client_too_slow() {
        let mut o = Outbox::default();
        for _ in 0..MAX_QUEUED {
            o.queue(1, f("e"));
        }
        assert!(!o.overflowed);
        o.queue(1, f("e"));
        assert!(o.overflowed);
        o.forget(1);
        assert!(o.is_empty());
    }

    #[test]
    fn pending_bytes_are_bounded_whatever_the_frame_sizes() {
        let big = Frame::from("x".repeat(1 << 20));
        // A value link keeps what fits and drops its oldest events.
        let mut o = Outbox::default();
        for _ in 0..VALUE_BUFFER {
            o.value(1, big.clone());
        }
        assert!(!o.overflowed);
        assert_eq!(o.bytes, MAX_BYTES);
        // A supply link past the bound marks the client too slow.
        o.queue(2, big.clone());
        assert!(o.overflowed);
        let mut out = Vec::new();
        o.drain(usize::MAX, &mut out);
        assert_eq!(out.len(), MAX_BYTES >> 20);
        assert_eq!(o.bytes, 0);
        // Map events and forgetting keep the count exact.
        let mut o = Outbox::default();
        o.map(3, Value::from(1), big.clone());
        o.map(3, Value::from(1), f("small"));
        o.queue(4, f("q"));
        assert_eq!(o.bytes, 6);
        o.forget(3);
        o.forget(4);
        assert_eq!(o.bytes, 0);
    }
}
