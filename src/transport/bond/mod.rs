//! Bonded channels: one channel over several paths to a peer. Each side runs an
//! [`engine`] per channel; its user holds the two [`halves`]; each path carries one
//! stream of the channel, written and read by the tasks in [`streams`]. The wire format
//! is `docs/bond.md`; the sans-IO parts are `protocols::bond`.
//!
//! The opener opens the first stream on its best path with a `WB` open header; once it
//! hears from the other side it opens a stream with a join header on every other live
//! path, and on each path that comes later. Everything the channel carries — the
//! service's header and reply included — travels as segments.

pub mod engine;
pub mod halves;
pub mod streams;

use std::sync::Arc;

use protocols::bond::head::Head;
use protocols::bond::schedule::Mode;
use tokio::sync::mpsc;

use super::paths::{Joined, PathTable, PathView};
use engine::{Engine, Start};
use halves::WriteState;
pub use halves::{BondEnd, BondReader, BondWriter};

/// Pieces of user writes waiting for the engine.
const APP_QUEUE: usize = 32;

/// Starts the engine of a channel over `first`, and gives the user's halves.
fn start(
    table: Arc<PathTable>,
    bond: u64,
    mode: Mode,
    first: Joined,
    joins: Option<mpsc::Receiver<Joined>>,
) -> (BondWriter, BondReader) {
    let (app_in_tx, app_in) = mpsc::channel(APP_QUEUE);
    let (app_out, app_out_rx) = mpsc::channel(APP_QUEUE);
    let write_state = Arc::new(WriteState::default());
    let (joins_tx, joins) = match joins {
        Some(rx) => (None, rx),
        None => {
            let (tx, rx) = mpsc::channel(8);
            (Some(tx), rx)
        }
    };
    let engine = Engine::new(Start {
        table,
        bond,
        mode,
        opener: joins_tx.is_some(),
        first,
        joins,
        joins_tx,
        app_in,
        app_out,
        write_state: write_state.clone(),
    });
    tokio::spawn(engine.run());
    (
        BondWriter::new(app_in_tx, write_state),
        BondReader::new(app_out_rx),
    )
}

/// Opens a bonded channel to the peer of `table`, its first stream on `path`.
pub(crate) async fn open(
    table: Arc<PathTable>,
    path: &PathView,
    mode: Mode,
) -> Result<(BondWriter, BondReader), quinn::ConnectionError> {
    let bond = table.next_bond();
    let (mut send, recv) = path.conn.open_bi().await?;
    if let Err(e) = send.write_all(&Head::Open { bond, mode }.encode()).await {
        return Err(match e {
            quinn::WriteError::ConnectionLost(c) => c,
            _ => quinn::ConnectionError::LocallyClosed,
        });
    }
    let first = Joined {
        path: path.id,
        send,
        recv,
        early: Vec::new(),
    };
    Ok(start(table, bond, mode, first, None))
}

/// Takes a bonded channel the peer opened with `first` (its header read); `None` when
/// the peer already has a channel of that number.
pub(crate) fn accept(
    table: Arc<PathTable>,
    bond: u64,
    mode: Mode,
    first: Joined,
) -> Option<(BondWriter, BondReader)> {
    let (tx, rx) = mpsc::channel(8);
    if !table.register_bond(bond, tx) {
        let mut send = first.send;
        let _ = send.reset(streams::REFUSED_CODE.into());
        return None;
    }
    Some(start(table, bond, mode, first, Some(rx)))
}
