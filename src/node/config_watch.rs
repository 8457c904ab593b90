//! Applies the configuration file, and applies it again whenever it is saved: gates and
//! flows are added, changed and removed one by one, so the others — and their connections — are
//! not disturbed. A file that does not parse, is empty (cut short) or has gone (renamed,
//! deleted) is reported and the running configuration kept, all of it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::Node;
use crate::config::NodeConfig;
use crate::config_error::ConfigError;

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(300);

/// The file's bytes, to tell when it changed (an editor may save twice within the
/// file system's time resolution, so times alone are not enough). Files are small.
fn stamp(path: &PathBuf) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Applies `path` now (if it exists) and then on every change, until the node stops.
pub async fn watch(node: Arc<Node>, path: PathBuf) {
    let mut seen = None;
    loop {
        let now = stamp(&path);
        if now != seen {
            let cfg = match &now {
                // No file at start: the embedded defaults.
                None if seen.is_none() => Ok(NodeConfig::default()),
                None => Err(ConfigError::Gone(path.clone())),
                Some(bytes) if bytes.is_empty() => Err(ConfigError::Empty(path.clone())),
                Some(_) => crate::config::load(&path),
            };
            seen = now;
            match cfg {
                Ok(cfg) => {
                    apply(&node, cfg).await;
                    info!("config {}: applied", path.display());
                }
                Err(e) => warn!("config {e}; keeping the running configuration"),
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn apply(node: &Arc<Node>, cfg: NodeConfig) {
    *node.unknown_file.write().unwrap_or_else(|p| p.into_inner()) = cfg.unknown;
    node.maps.set_file(
        cfg.node
            .map
            .iter()
            .filter_map(|m| m.to_use().ok())
            .collect(),
    );
    if node.unknown() == crate::store::Unknown::Block {
        node.close_strangers();
    }
    if node.flows.maps.set_ip(cfg.node.flow_ip) {
        node.apply_map_flows().await;
    }
    let mut checked = Vec::new();
    for g in cfg.gate.expose {
        match node.own.check(&g.target, g.udp).await {
            Ok(()) => checked.push(g),
            Err(e) => warn!("config: gate {}: {e}", g.name),
        }
    }
    let (changed, removed) = node.gates.set_file_exposed(checked);
    for g in changed {
        info!("config: exposing {} -> {}", g.name, g.target);
    }
    for name in removed {
        info!("config: no longer exposing {name}");
    }
    node.hub.configure(&cfg.links);
    apply_flows(node, cfg.flow).await;
    let wanted = cfg.gate.open;
    for g in node.gates.file_opened() {
        if !wanted.contains(&g) {
            node.gates.stop(&g.listen).await;
            info!("config: closed gate {}", g.listen);
        }
    }
    for g in wanted {
        if node.gates.file_opened_at(&g.listen).as_ref() == Some(&g) {
            continue;
        }
        if let Err(e) = node.gates.start_from_file(node.clone(), &g).await {
            warn!("config: gate {}: {e}", g.listen);
        }
    }
}

async fn apply_flows(node: &Arc<Node>, wanted: Vec<crate::flow_book::Flow>) {
    let wanted: std::collections::HashMap<String, _> =
        wanted.into_iter().map(|f| (f.name.clone(), f)).collect();
    let running: Vec<(String, crate::flow_book::Flow)> = node
        .flows
        .running()
        .iter()
        .filter(|(_, r)| r.origin == crate::flow_book::Origin::File)
        .map(|(name, r)| (name.clone(), r.def()))
        .collect();
    let mut removed = false;
    for (name, _) in &running {
        if !wanted.contains_key(name) {
            super::flows::stop(node, name).await;
            info!("config: flow {name} removed");
            removed = true;
        }
    }
    // A map's flow of the same name may run now.
    if removed {
        node.apply_map_flows().await;
    }
    for (name, f) in wanted {
        if running.iter().any(|(n, def)| *n == name && *def == f) {
            continue;
        }
        let file = (crate::flow_book::Origin::File, Default::default());
        match super::flows::apply(node, f, file).await {
            Ok(()) => info!("config: flow {name} applied"),
            Err(e) => warn!("config: {e}"),
        }
    }
}
