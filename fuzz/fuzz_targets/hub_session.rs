//! A link-hub session fed any text frames (one per line), as a hostile WebSocket client
//! would send them: it never panics, stops at the first frame that ends the session, and
//! everything it queues for the client is a valid WARP envelope.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use warp::links::session::Session;
use warp::links::{Hub, LinksConfig};

/// One hub for every input, as one node serves many clients (its lanes keep state).
fn hub() -> &'static Arc<Hub> {
    static HUB: OnceLock<Arc<Hub>> = OnceLock::new();
    HUB.get_or_init(|| {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("links_lanes").unwrap();
        Hub::new(tree, &LinksConfig::default(), "owner".into())
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut session = Session::new(hub().clone());
    for line in text.split('\n') {
        if session.frame(line).is_err() {
            break;
        }
    }
    let mut out = Vec::new();
    session
        .sink
        .outbox
        .lock()
        .unwrap()
        .drain(usize::MAX, &mut out);
    for f in &out {
        assert!(
            protocols::warp::Envelope::decode(f.as_str()).is_ok(),
            "the hub queued a frame that is not an envelope: {f}"
        );
    }
    session.drop_links();
});
