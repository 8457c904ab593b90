//! Durable lanes in sled: a value lane's value, a map lane's entries, as Recon text, under
//! `node NUL lane NUL`. Written on every change (sled batches the disk writes) and read
//! when the lane is first used after a start. A map lane comes back in key order.

use indexmap::IndexMap;
use recon::Value;

/// Where one lane is kept.
#[derive(Clone)]
pub struct Durable {
    tree: sled::Tree,
    prefix: Vec<u8>,
}

impl Durable {
    /// The place of `node`'s lane `lane` in `tree`.
    pub fn new(tree: &sled::Tree, node: &str, lane: &str) -> Durable {
        let mut prefix = Vec::with_capacity(node.len() + lane.len() + 2);
        prefix.extend_from_slice(node.as_bytes());
        prefix.push(0);
        prefix.extend_from_slice(lane.as_bytes());
        prefix.push(0);
        Durable {
            tree: tree.clone(),
            prefix,
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

    /// Stores a value.
    pub fn store_value(&self, v: &Value) {
        let _ = self
            .tree
            .insert(&self.prefix, recon::to_compact_string(v).as_bytes());
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
        let _ = match value {
            Some(v) => self.tree.insert(k, recon::to_compact_string(v).as_bytes()),
            None => self.tree.remove(k),
        };
    }

    /// Removes every entry.
    pub fn clear_map(&self) {
        let mut p = self.prefix.clone();
        p.push(b'k');
        for k in self.tree.scan_prefix(&p).keys().filter_map(|k| k.ok()) {
            let _ = self.tree.remove(k);
        }
    }
}
