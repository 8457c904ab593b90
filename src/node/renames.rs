//! After a peer is renamed in the book, what names it by its old alias follows: opened
//! gates (re-opened under the new name), exposed gates' allow lists and flow members, in
//! their books. The configuration file is the user's: entries there that use the old
//! alias are reported, not rewritten.

use std::sync::Arc;

use tracing::{info, warn};

use super::Node;

/// Moves every use of the alias `old` to `new`.
pub async fn follow(node: &Arc<Node>, old: &str, new: &str) {
    for mut g in node.gates.book.all_opened() {
        if g.peer != old {
            continue;
        }
        g.peer = new.to_string();
        if let Err(e) = node.gates.book.record_open(&g) {
            warn!("gate {}: {e}", g.listen);
            continue;
        }
        match node.gates.start(node.clone(), &g).await {
            Ok(()) => info!("gate {} now leads to {new}", g.listen),
            Err(e) => warn!("gate {}: {e}", g.listen),
        }
    }
    for mut g in node.gates.book.all_exposed() {
        if !g.allow.iter().any(|a| a == old) {
            continue;
        }
        for a in g.allow.iter_mut().filter(|a| *a == old) {
            *a = new.to_string();
        }
        if let Err(e) = node.gates.book.expose(&g) {
            warn!("gate {}: {e}", g.name);
        }
    }
    for mut f in node.flows.book.all() {
        let mut changed = false;
        for list in [&mut f.members, &mut f.send, &mut f.recv] {
            for m in list.iter_mut().filter(|m| *m == old) {
                *m = new.to_string();
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        let name = f.name.clone();
        if let Err(e) = node.flows.book.put(&f) {
            warn!("flow {name}: {e}");
            continue;
        }
        let origin = (crate::flow_book::Origin::Command, Default::default());
        if let Err(e) = super::flows::apply(node, f, origin).await {
            warn!("flow {name}: {e}");
        }
    }
    let in_file = node.gates.file_opened().iter().any(|g| g.peer == old)
        || node
            .gates
            .file_exposed()
            .iter()
            .any(|g| g.allow.iter().any(|a| a == old));
    if in_file {
        warn!("the configuration file still names {old}: change it to {new} there");
    }
}
