//! The gates' owner: the book of gates set from the command line or the API, the
//! configuration file's gates beside it, and the listeners running. Which gate a name
//! means, and opening a gate and keeping its listener, are decided here only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::JoinHandle;

use super::gate_error::GateOpenError;
use super::Node;
use crate::gate_book::{Exposed, GateBook, Opened};

/// Every gate of the node.
pub struct GateSet {
    /// Gates set from the command line or the API, kept in sled.
    pub book: GateBook,
    /// Listeners of opened gates, by listen address.
    listeners: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Gates exposed by the configuration file, by name and kind (UDP or not).
    file_exposed: Mutex<HashMap<(String, bool), Exposed>>,
    /// Gates opened by the configuration file, by listen address.
    file_opened: Mutex<HashMap<String, Opened>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GateSet {
    /// The gates of `book`, none running yet.
    pub fn new(book: GateBook) -> GateSet {
        GateSet {
            book,
            listeners: Mutex::default(),
            file_exposed: Mutex::default(),
            file_opened: Mutex::default(),
        }
    }

    /// The exposed gate `name` of the given kind: the command line's, else the file's.
    pub fn exposed(&self, name: &str, udp: bool) -> Option<Exposed> {
        self.book
            .exposed(name)
            .filter(|g| g.udp == udp)
            .or_else(|| {
                locked(&self.file_exposed)
                    .get(&(name.to_string(), udp))
                    .cloned()
            })
    }

    /// The gates the configuration file exposes.
    pub fn file_exposed(&self) -> Vec<Exposed> {
        locked(&self.file_exposed).values().cloned().collect()
    }

    /// The gates the configuration file opens.
    pub fn file_opened(&self) -> Vec<Opened> {
        locked(&self.file_opened).values().cloned().collect()
    }

    /// Replaces the file's exposed gates with `new`; the gates added or changed, and the
    /// names of those removed.
    pub fn set_file_exposed(&self, new: Vec<Exposed>) -> (Vec<Exposed>, Vec<String>) {
        let new: HashMap<(String, bool), Exposed> = new
            .into_iter()
            .map(|g| ((g.name.clone(), g.udp), g))
            .collect();
        let mut old = locked(&self.file_exposed);
        let changed = new
            .iter()
            .filter(|(k, g)| old.get(*k) != Some(*g))
            .map(|(_, g)| g.clone())
            .collect();
        let removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .map(|(name, _)| name.clone())
            .collect();
        *old = new;
        (changed, removed)
    }

    /// The file's opened gate at `listen`, if any.
    pub fn file_opened_at(&self, listen: &str) -> Option<Opened> {
        locked(&self.file_opened).get(listen).cloned()
    }

    /// Whether a gate listens on `listen`.
    pub fn is_listening(&self, listen: &str) -> bool {
        locked(&self.listeners).contains_key(listen)
    }

    /// Opens `g` and keeps its listener, replacing a gate at the same address (whose
    /// connections carry on).
    pub async fn start(&self, node: Arc<Node>, g: &Opened) -> Result<(), GateOpenError> {
        self.stop(&g.listen).await;
        let task = super::gate_open::open(node, g.clone()).await?;
        locked(&self.listeners).insert(g.listen.clone(), task);
        Ok(())
    }

    /// Opens `g` for the configuration file, unless the command line holds its address.
    pub async fn start_from_file(&self, node: Arc<Node>, g: &Opened) -> Result<(), GateOpenError> {
        if self.is_listening(&g.listen) {
            return Err(GateOpenError::Taken(g.listen.clone()));
        }
        self.start(node, g).await?;
        locked(&self.file_opened).insert(g.listen.clone(), g.clone());
        Ok(())
    }

    /// Stops the listener on `listen`, if any, and waits until it is closed, so the
    /// address can be bound again at once; `false` if none ran. Connections already
    /// made through it carry on. A gate of the file is forgotten too.
    pub async fn stop(&self, listen: &str) -> bool {
        locked(&self.file_opened).remove(listen);
        let task = locked(&self.listeners).remove(listen);
        match task {
            Some(task) => {
                task.abort();
                let _ = task.await;
                true
            }
            None => false,
        }
    }

    /// Stops every listener.
    pub async fn stop_all(&self) {
        let all: Vec<String> = locked(&self.listeners).keys().cloned().collect();
        for listen in all {
            self.stop(&listen).await;
        }
    }
}
