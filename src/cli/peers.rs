//! `warp peers`: through the running node, or on the book directly when none runs.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{PeersAction, PeersArgs};
use crate::control::{Client, Fault, PeerStatus, Request, Response};
use crate::store::{PeerBook, PeerEntry};

/// Runs `warp peers`.
pub async fn run(dir: &Path, args: PeersArgs) -> Result<ExitCode, String> {
    let json = args.json;
    let req = match args.action {
        None => Request::Peers,
        Some(PeersAction::Add { alias, id, addrs }) => Request::PeerAdd { alias, id, addrs },
        Some(PeersAction::Rm { peer }) => Request::PeerRemove { peer },
        Some(PeersAction::Rename { peer, alias }) => Request::PeerRename { peer, alias },
        Some(PeersAction::Set {
            peer,
            setting,
            value,
        }) => match setting.as_str() {
            "links" => Request::PeerLinks {
                peer,
                links: value
                    .parse()
                    .map_err(|e: crate::bad_word::BadWord| e.to_string())?,
            },
            _ => Request::PeerPolicy {
                peer,
                policy: value
                    .parse()
                    .map_err(|e: crate::bad_word::BadWord| e.to_string())?,
            },
        },
    };
    let resp = match Client::connect(dir).await {
        Some(mut client) => {
            client.send(&req).await.map_err(|e| e.to_string())?;
            client.next().await.map_err(|e| e.to_string())?
        }
        None => offline(dir, req.clone())?,
    };
    let removing = matches!(req, Request::PeerRemove { .. });
    if json {
        let doc = match resp {
            Response::Peers(list) => serde_json::to_string(&list),
            Response::Peer(e) => serde_json::to_string(&e),
            Response::Error(e) => return Err(e.message),
            _ => Ok("{}".to_string()),
        };
        println!("{}", doc.map_err(|e| e.to_string())?);
        return Ok(ExitCode::SUCCESS);
    }
    match resp {
        Response::Peers(list) => print_table(&list),
        Response::Peer(e) if removing => println!("removed {}  {}", e.alias, e.id),
        Response::Peer(e) => println!(
            "{}  {}  {}  policy {}",
            e.alias,
            e.id,
            e.addrs.join(","),
            e.policy
        ),
        Response::Error(e) => return Err(e.message),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Serves the request from the book itself while no node runs.
pub(super) fn offline(dir: &Path, req: Request) -> Result<Response, String> {
    let books = super::offline::Offline::open(dir)?;
    let db = &books.db;
    let me = crate::identity::Identity::load_or_create(dir)
        .map(|i| i.peer_id())
        .ok();
    let book = PeerBook::open(db, me).map_err(|e| e.to_string())?;
    let one = |r: Result<PeerEntry, crate::store::BookError>| {
        r.map_or_else(|e| Response::error(&e), Response::Peer)
    };
    Ok(match req {
        Request::Peers => Response::Peers(
            book.list()
                .into_iter()
                .map(|entry| PeerStatus {
                    entry,
                    connected: false,
                    rtt_us: None,
                    remote: None,
                    paths: Vec::new(),
                })
                .collect(),
        ),
        Request::PeerAdd { alias, id, addrs } => match id.parse() {
            Ok(id) => one(book.add(&alias, id, addrs)),
            Err(e) => Response::invalid(format!("{e}")),
        },
        Request::PeerRemove { peer } => one(book.remove(&peer)),
        Request::PeerRename { .. } => Response::fail(
            Fault::Unavailable,
            format!(
                "{} to rename a peer (its gates and flows follow it)",
                crate::control::not_running(dir)
            ),
        ),
        Request::PeerPolicy { peer, policy } => one(book.set_policy(&peer, policy)),
        Request::PeerLinks { peer, links } => one(book.set_links(&peer, links)),
        _ => Response::fail(Fault::Unavailable, crate::control::not_running(dir)),
    })
}

fn print_table(list: &[PeerStatus]) {
    if list.is_empty() {
        println!("no peers yet: add one with `warp peers add <alias> <peer-id> --addr HOST:PORT`");
        return;
    }
    println!(
        "{:<12} {:<52} {:<22} {:<6} {:<13} RTT",
        "ALIAS", "ID", "ADDRESSES", "POLICY", "STATE"
    );
    for p in list {
        let state = if p.connected {
            "connected"
        } else {
            "not connected"
        };
        let rtt = p.rtt_us.map_or("-".to_string(), |us| {
            format!("{:.3} ms", us as f64 / 1000.0)
        });
        let addrs = if p.entry.addrs.is_empty() {
            "-".to_string()
        } else {
            p.entry.addrs.join(",")
        };
        // A connected key that is not in the book (the node lets them in with
        // unknown = ask): `warp peers add` or `warp peers set <id> policy ...` takes it in.
        let alias = match p.entry.alias.as_str() {
            "" => "(unknown)",
            a => a,
        };
        println!(
            "{:<12} {:<52} {:<22} {:<6} {:<13} {rtt}",
            alias,
            p.entry.id,
            addrs,
            p.entry.policy.to_string(),
            state
        );
        for path in &p.paths {
            println!(
                "  path {} -> {}  {} {}  rtt {:.3} ms  sending {}/s  loss {:.1} %  sent {}  received {}",
                path.local,
                path.remote,
                path.kind,
                path.state,
                path.rtt_ms,
                bytes(path.tx_rate),
                path.loss_percent,
                bytes(path.tx_bytes),
                bytes(path.rx_bytes)
            );
        }
    }
}

/// A byte count for a person: `512 B`, `12.3 KiB`, `4.0 MiB`, `1.2 GiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}
