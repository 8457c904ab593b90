//! `warp share` and `warp offers`: make, list, follow, accept, reject and cancel offers on
//! the running node, with a progress bar (or JSON lines for scripts).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use warpdrive::{Offer, Status};

use crate::cli::{OffersAction, OffersArgs, ShareArgs};
use crate::control::{Client, Request, Response};

/// Runs `warp share`.
pub async fn share(dir: &Path, args: ShareArgs) -> Result<ExitCode, String> {
    let mut paths = Vec::new();
    for p in &args.paths {
        let abs = std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if !abs.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
        paths.push(abs.display().to_string());
    }
    let req = Request::Share {
        peer: args.peer.clone(),
        paths,
        wait: !args.no_wait,
    };
    if !args.json {
        let n = args.paths.len();
        let what = match n {
            1 => "1 path".to_string(),
            n => format!("{n} paths"),
        };
        eprintln!("hashing and offering {what} to {}…", args.peer);
    }
    follow(dir, &req, args.json).await
}

/// Runs `warp offers`.
pub async fn run(dir: &Path, args: OffersArgs) -> Result<ExitCode, String> {
    let json = args.json;
    match args.action {
        None => {
            let answer = match Client::connect(dir).await {
                Some(mut client) => {
                    client
                        .send(&Request::Offers)
                        .await
                        .map_err(|e| e.to_string())?;
                    client.next().await.map_err(|e| e.to_string())?
                }
                // No node: the offers as the store keeps them.
                None => {
                    let books = super::offline::Offline::open(dir)?;
                    let store =
                        warpdrive::store::Store::open(&books.db).map_err(|e| e.to_string())?;
                    Response::OfferList(store.all())
                }
            };
            match answer {
                Response::OfferList(list) => {
                    let shown: Vec<Offer> = list
                        .into_iter()
                        .filter(|o| {
                            (!args.incoming || o.incoming) && (!args.outgoing || !o.incoming)
                        })
                        .collect();
                    if json {
                        // A listing is one document (`[]` when empty); `listen` streams
                        // JSON lines.
                        println!(
                            "{}",
                            serde_json::to_string(&shown).map_err(|e| e.to_string())?
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    if shown.is_empty() {
                        println!("no offers: `warp share PEER PATH` makes one");
                        return Ok(ExitCode::SUCCESS);
                    }
                    let names = aliases(dir).await;
                    println!(
                        "{:<36}  {:<3}  {:<11}  {:<12}  {:>11}  {:>21}  NAMES",
                        "ID", "WAY", "STATUS", "PEER", "ENTRIES", "DONE / SIZE"
                    );
                    for o in shown {
                        println!("{}", row(&o, &names));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Response::Error(e) => Err(e.message),
                other => Err(format!("unexpected answer from the node: {other:?}")),
            }
        }
        Some(OffersAction::Listen) => {
            let mut client = Client::request(dir, &Request::OffersListen)
                .await
                .map_err(|e| e.to_string())?;
            let mut names = aliases(dir).await;
            loop {
                match client.next().await.map_err(|e| e.to_string())? {
                    Response::OfferUpdate(o) => {
                        // A peer added since: its alias, once.
                        if !json && !names.contains_key(&o.peer) {
                            names = aliases(dir).await;
                        }
                        print_offer(&o, json, &names)
                    }
                    Response::Error(e) => return Err(e.message),
                    other => return Err(format!("unexpected answer from the node: {other:?}")),
                }
            }
        }
        Some(OffersAction::Accept { id, to, no_wait }) => {
            let to = match to {
                Some(t) => Some(
                    std::path::absolute(&t)
                        .map_err(|e| format!("{}: {e}", t.display()))?
                        .display()
                        .to_string(),
                ),
                None => None,
            };
            follow(
                dir,
                &Request::OfferAccept {
                    id,
                    to,
                    wait: !no_wait,
                },
                json,
            )
            .await
        }
        Some(OffersAction::Reject { id }) => follow(dir, &Request::OfferReject { id }, json).await,
        Some(OffersAction::Cancel { id }) => follow(dir, &Request::OfferCancel { id }, json).await,
    }
}

/// Sends `req` and follows the offer it answers about: status lines, a progress bar while
/// bytes move, a summary at the end. Exits 0 for an offer that completed or still runs,
/// 1 for one that failed, was rejected or cancelled.
async fn follow(dir: &Path, req: &Request, json: bool) -> Result<ExitCode, String> {
    let names = aliases(dir).await;
    let mut client = Client::request(dir, req).await.map_err(|e| e.to_string())?;
    let mut bar: Option<ProgressBar> = None;
    let mut last_status = None;
    let started = Instant::now();
    loop {
        let (o, done) = match client.next().await.map_err(|e| e.to_string())? {
            Response::OfferUpdate(o) => (o, false),
            Response::OfferDone(o) => (o, true),
            Response::Error(e) => return Err(e.message),
            other => return Err(format!("unexpected answer from the node: {other:?}")),
        };
        if json {
            print_offer(&o, true, &names);
        } else {
            if last_status.is_none() {
                let way = if o.incoming { "from" } else { "to" };
                println!(
                    "offer {}: {}, {} {way} {}",
                    o.id,
                    entries(o.entries),
                    size(o.bytes),
                    peer_name(&o.peer, &names)
                );
            }
            if last_status != Some(o.status) && o.status != Status::InProgress {
                match o.status {
                    Status::Awaiting => println!("awaiting acceptance"),
                    s if !s.is_final() => println!("{s}"),
                    _ => {}
                }
            }
            if o.status == Status::InProgress {
                let b = bar.get_or_insert_with(|| new_bar(o.bytes));
                b.set_position(o.bytes_done);
            }
        }
        last_status = Some(o.status);
        if done {
            if let Some(b) = bar.take() {
                b.set_position(o.bytes_done);
                b.finish_and_clear();
            }
            if !json {
                summary(&o, started.elapsed().as_secs_f64());
            }
            return Ok(match o.status {
                Status::Failed | Status::Rejected | Status::Cancelled => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            });
        }
    }
}

fn new_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

fn summary(o: &Offer, secs: f64) {
    match o.status {
        Status::Completed => {
            let who = if o.incoming { "here" } else { "by the peer" };
            println!(
                "completed: {}, {} in {secs:.1} s ({}/s), verified {who}",
                entries(o.entries),
                size(o.bytes),
                size((o.bytes as f64 / secs.max(0.001)) as u64)
            );
        }
        Status::Failed | Status::Rejected | Status::Cancelled => {
            println!("{}: {}", o.status, o.reason);
        }
        // Not followed to its end (--no-wait): the status line above says where it stands.
        _ if !o.incoming => {}
        _ => println!("downloading into {}; `warp offers` shows how far", o.dir),
    }
}

fn print_offer(o: &Offer, json: bool, names: &HashMap<String, String>) {
    if json {
        println!("{}", serde_json::to_string(o).unwrap_or_default());
        return;
    }
    println!("{}", row(o, names));
}

/// A peer as the user knows it: its alias, else the start of its id.
fn peer_name(peer: &str, aliases: &HashMap<String, String>) -> String {
    aliases
        .get(peer)
        .cloned()
        .unwrap_or_else(|| peer[..peer.len().min(12)].to_string())
}

/// `1 entry`, `2 entries`.
fn entries(n: u64) -> String {
    match n {
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    }
}

/// Peer ids and their aliases, from the running node's book.
async fn aliases(dir: &Path) -> HashMap<String, String> {
    let Ok(mut client) = Client::request(dir, &Request::Peers).await else {
        return Default::default();
    };
    match client.next().await {
        Ok(Response::Peers(list)) => list
            .into_iter()
            .filter(|p| !p.entry.alias.is_empty())
            .map(|p| (p.entry.id, p.entry.alias))
            .collect(),
        _ => Default::default(),
    }
}

/// One offer as a row of the table: the peer by alias, sizes in units, names shortened
/// to fit (with how many more there are).
fn row(o: &Offer, aliases: &HashMap<String, String>) -> String {
    const NAMES: usize = 40;
    let way = if o.incoming { "in" } else { "out" };
    let peer = peer_name(&o.peer, aliases);
    let entries = entries(o.entries);
    let mut names = String::new();
    let mut shown = 0;
    for n in &o.names {
        let sep = if shown == 0 { "" } else { ", " };
        if names.chars().count() + sep.len() + n.chars().count() > NAMES {
            break;
        }
        names.push_str(sep);
        names.push_str(n);
        shown += 1;
    }
    if shown == 0 {
        if let Some(first) = o.names.first() {
            names = first.chars().take(NAMES - 1).collect::<String>() + "…";
            shown = 1;
        }
    }
    if shown < o.names.len() {
        names.push_str(&format!(" (+{} more)", o.names.len() - shown));
    }
    let mut line = format!(
        "{:<36}  {way:<3}  {:<11}  {peer:<12}  {entries:>11}  {:>21}  {names}",
        o.id,
        o.status.to_string(),
        format!("{} / {}", size(o.bytes_done), size(o.bytes)),
    );
    if !o.reason.is_empty() {
        line.push_str(&format!("  ({})", o.reason));
    }
    line
}

fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
