//! The flows' owner: the book of flows set from the command line or the API, the tables
//! of flows maps define, and the flows running (from the book, the configuration file
//! and the maps). Starting, changing and
//! stopping a running flow, and deciding which origin wins, are in `flows.rs`
//! (`apply`, `stop`); nothing else keeps flow state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::flows::RunningFlow;
use crate::control::FlowStatus;
use crate::flow_book::FlowBook;

/// Every flow of the node.
pub struct FlowSet {
    /// Flows set from the command line or the API, kept in sled.
    pub book: FlowBook,
    /// Running flows, by name.
    running: Mutex<HashMap<String, Arc<RunningFlow>>>,
    /// The flows the maps trusted for them define for this node.
    pub maps: super::map_flows::MapTables,
}

impl FlowSet {
    /// The flows of `book` and of the maps' tables kept in `maps`, none running yet.
    pub fn new(book: FlowBook, maps: super::map_flows::MapTables) -> FlowSet {
        FlowSet {
            book,
            running: Mutex::default(),
            maps,
        }
    }

    /// The running flows, locked.
    pub fn running(&self) -> MutexGuard<'_, HashMap<String, Arc<RunningFlow>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every running flow with its counters, by name.
    pub fn statuses(&self) -> Vec<FlowStatus> {
        let flows: Vec<_> = self.running().values().cloned().collect();
        let mut list: Vec<_> = flows.iter().map(|f| f.status()).collect();
        list.sort_by(|a, b| a.flow.name.cmp(&b.flow.name));
        list
    }
}
