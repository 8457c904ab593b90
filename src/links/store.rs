//! Durable lanes in sled: a value lane's value, a map lane's entries, as Recon text, under
//! `node NUL lane NUL`. Written on every change (sled batches the disk writes) and read
//! when the lane is first used after a start. A map lane comes back in key order.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use indexmap::IndexMap;
use recon::Value;

/// Bytes every durable lane of the hub may keep together; commands that would write more
/// are dropped while the lanes are over it.
pub const MAX_DURABLE_BYTES: usize = 64 << 20;

/// The bytes the hub's durable lanes keep, over all lanes.
#[derive(Clone, Default)]
pub struct Usage(Arc<AtomicUsize>);

impl Usage {
    /// What `tree` holds now (read once at start).
    pub fn of(tree: &sled::Tree) -> Usage {
        let bytes = tree
            .iter()
            .filter_map(|e| e.ok())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        Usage(Arc::new(AtomicUsize::new(bytes)))
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.0.load(Relaxed)
    }

    /// Whether the lanes keep [`MAX_DURABLE_BYTES`] or more.
    pub fn full(&self) -> bool {
        self.bytes() >= MAX_DURABLE_BYTES
    }

    /// Counts `n` more bytes.
    pub fn add(&self, n: usize) {
        self.0.fetch_add(n, Relaxed);
    }

    /// Counts `n` bytes fewer.
    pub fn sub(&self, n: usize) {
        let _ = self
            .0
            .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(n)));
    }

    /// Accounts for `key` written with `new` over `old`.
    fn wrote(&self, key: usize, old: Option<sled::IVec>, new: Option<usize>) {
        if let Some(o) = old {
            self.0.fetch_sub(key + o.len(), Relaxed);
        }
        if let Some(n) = new {
            self.0.fetch_add(key + n, Relaxed);
        }
    }
}

/// Where one lane is kept.
#[derive(Clone)]
pub struct Durable {
    tree: sled::Tree,
    prefix: Vec<u8>,
    usage: Usage,
}

impl Durable {
    /// The place of `node`'s lane `lane` in `tree`, counted in `usage`.
    pub fn new(tree: &sled::Tree, node: &str, lane: &str, usage: &Usage) -> Durable {
        let mut prefix = Vec::with_capacity(node.len() + lane.len() + 2);
        prefix.extend_from_slice(node.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(lane.as_bytes());
        prefix.push(0);
        Durable {
            tree: tree.clone(),
            prefix,
            usage: usage.clone(),
        }
    }

    fn entry_key(&self, key: &Value) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.push(b'k');
        k.extend_from_slice(recon::to_compact_string(key).as_bytes());
        k
    }

    /// The stored value, if any.
    pub fn load_value(&self) -> Option<Value> {
        let v = self.tree.get(&self.prefix).ok()??;
        recon::parse(std::str::from_utf8(&v).ok()?).ok()
    }

    /// Whether the hub's durable lanes are full: new writes are refused.
    pub fn full(&self) -> bool {
        self.usage.full()
    }

    /// Stores a value.
    pub fn store_value(&self, v: &Value) {
        let text = recon::to_compact_string(v);
        if let Ok(old) = self.tree.insert(&self.prefix, text.as_bytes()) {
            self.usage.wrote(self.prefix.len(), old, Some(text.len()));
        }
    }

    /// The stored entries.
    pub fn load_map(&self) -> IndexMap<Value, Value> {
        let mut p = self.prefix.clone();
        p.push(b'k');
        self.tree
            .scan_prefix(&p)
            .filter_map(|e| e.ok())
            .filter_map(|(k, v)| {
                let key = recon::parse(std::str::from_utf8(&k[p.len()..]).ok()?).ok()?;
                let value = recon::parse(std::str::from_utf8(&v).ok()?).ok()?;
                Some((key, value))
            })
            .collect()
    }

    /// Stores (or, with `None`, removes) one entry.
    pub fn store_entry(&self, key: &Value, value: Option<&Value>) {
        let k = self.entry_key(key);
        let klen = k.len();
        match value {
            Some(v) => {
                let text = recon::to_compact_string(v);
                if let Ok(old) = self.tree.insert(k, text.as_bytes()) {
                    self.usage.wrote(klen, old, Some(text.len()));
                }
            }
            None => {
                if let Ok(old) = self.tree.remove(k) {
                    self.usage.wrote(klen, old, None);
                }
            }
        }
    }

    /// Removes every entry.
    pub fn clear_map(&self) {
        let mut p = self.prefix.clone();
        p.push(b'k');
        for k in self.tree.scan_prefix(&p).keys().filter_map(|k| k.ok()) {
            let klen = k.len();
            if let Ok(old) = self.tree.remove(k) {
                self.usage.wrote(klen, old, None);
            }
        }
    }
}
