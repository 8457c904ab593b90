//! `warp share` and `warp offers`: make, list, follow, accept, reject and cancel offers on
//! the running node, with a progress bar (or JSON lines for scripts). Sharing and
//! accepting need no running node: the command then runs one until the transfer ends
//! (`one_off.rs`).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use warpdrive::{Offer, Status};

use crate::cli::one_off;
use crate::cli::{OffersAction, OffersArgs, ReceiveArgs, ShareArgs};
use crate::control::{Client, Request, Response};

/// Absolute forms of `paths`, each of which must exist.
fn absolute(paths: &[std::path::PathBuf]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for p in paths {
        let abs = std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if !abs.exists() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
        out.push(abs.display().to_string());
    }
    Ok(out)
}

/// Whether `name` is an alias or id in the peer book on `dir` (asking the node, or
/// reading the book when none runs).
async fn names_peer(dir: &Path, name: &str) -> bool {
    let listing = match Client::connect(dir).await {
        Some(mut client) => match client.send(&Request::Peers).await {
            Ok(()) => client.next().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        None => super::peers::offline(dir, Request::Peers),
    };
    match listing {
        Ok(Response::Peers(list)) => list
            .iter()
            .any(|p| p.entry.alias == name || p.entry.id == name),
        _ => false,
    }
}

/// Runs `warp share`.
pub async fn share(dir: &Path, args: ShareArgs) -> Result<ExitCode, String> {
    // `warp share PATH...`: the first argument is a file and no peer of the book.
    let first = std::path::PathBuf::from(&args.peer);
    let by_code = args.paths.is_empty() || (first.exists() && !names_peer(dir, &args.peer).await);
    if by_code {
        if args.no_wait {
            return Err(
                "--no-wait needs a peer: a code waits for the other side while this command runs"
                    .into(),
            );
        }
        let mut all = vec![first];
        all.extend(args.paths.iter().cloned());
        let req = Request::ShareCode {
            paths: absolute(&all)?,
            expires: args.expires.map(|d| d.as_secs().max(1)),
        };
        return with_node(dir, false, |own| follow(dir, &req, args.json, own)).await;
    }
    let paths = absolute(&args.paths)?;
    let req = Request::Share {
        peer: args.peer.clone(),
        paths,
        wait: !args.no_wait,
        expires: args.expires.map(|d| d.as_secs().max(1)),
    };
    if !args.json {
        let n = args.paths.len();
        let what = match n {
            1 => "1 path".to_string(),
            n => format!("{n} paths"),
        };
        eprintln!("offering {what} to {}…", args.peer);
    }
    with_node(dir, args.no_wait, |own| follow(dir, &req, args.json, own)).await
}

/// Runs `warp receive`.
pub async fn receive(dir: &Path, args: ReceiveArgs) -> Result<ExitCode, String> {
    let to = args.to.unwrap_or_else(|| std::path::PathBuf::from("."));
    let to = std::path::absolute(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    let req = Request::Receive {
        code: args.code.clone(),
        to: Some(to.display().to_string()),
        remember: args.remember.clone(),
    };
    if !args.json {
        eprintln!("looking for the node that printed {}…", args.code.trim());
    }
    with_node(dir, false, |own| follow(dir, &req, args.json, own)).await
}

/// Runs `f` with a node on `dir`: the running one, else one of this command's own
/// (`f` is told which), stopped when `f` returns. `no_wait` commands need a running node:
/// nothing would carry on their transfer.
async fn with_node<F, Fut, T>(dir: &Path, no_wait: bool, f: F) -> Result<T, String>
where
    F: FnOnce(bool) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    if no_wait && !one_off::node_runs(dir).await {
        return Err(format!(
            "no node runs for {}: --no-wait leaves the transfer to a running node (`warp node`); without --no-wait this command runs one until the transfer ends",
            dir.display()
        ));
    }
    let own = one_off::ensure(dir).await.map_err(|e| e.to_string())?;
    let result = f(own.is_some()).await;
    if let Some(node) = own {
        node.stop().await;
    }
    result
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
                    let names = aliases(dir).await;
                    if json {
                        // A listing is one document (`[]` when empty); `listen` streams
                        // JSON lines.
                        let docs: Vec<_> = shown.iter().map(|o| offer_json(o, &names)).collect();
                        println!("{}", serde_json::Value::Array(docs));
                        return Ok(ExitCode::SUCCESS);
                    }
                    if shown.is_empty() {
                        println!("no offers: `warp share PEER PATH` makes one");
                        return Ok(ExitCode::SUCCESS);
                    }
                    println!(
                        "{:<36}  {:<3}  {:<16}  {:<12}  {:>11}  {:>21}  NAMES",
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
            let req = Request::OfferAccept {
                id,
                to,
                wait: !no_wait,
            };
            with_node(dir, no_wait, |own| follow(dir, &req, json, own)).await
        }
        // Ending an offer as asked is a success.
        Some(OffersAction::Reject { id }) => {
            let req = Request::OfferReject { id };
            follow_to(dir, &req, json, Some(Status::Rejected), false).await
        }
        Some(OffersAction::Cancel { id }) => {
            let req = Request::OfferCancel { id };
            follow_to(dir, &req, json, Some(Status::Cancelled), false).await
        }
    }
}

/// Sends `req` and follows the offer it answers about: status lines, a progress bar while
/// bytes move, a summary at the end. Exits 0 for an offer that completed or still runs,
/// 1 for one that failed, was rejected or cancelled. `own_node`: the node is this
/// command's, and stops with it.
async fn follow(dir: &Path, req: &Request, json: bool, own_node: bool) -> Result<ExitCode, String> {
    follow_to(dir, req, json, None, own_node).await
}

/// [`follow`], where ending in `asked` (the request was to cancel or reject) exits 0.
async fn follow_to(
    dir: &Path,
    req: &Request,
    json: bool,
    asked: Option<Status>,
    own_node: bool,
) -> Result<ExitCode, String> {
    let names = aliases(dir).await;
    let mut client = Client::request(dir, req).await.map_err(|e| e.to_string())?;
    let mut bar: Option<ProgressBar> = None;
    let mut last_status = None;
    let mut current: Option<Offer> = None;
    let started = Instant::now();
    loop {
        let next = tokio::select! {
            next = client.next() => next,
            _ = tokio::signal::ctrl_c() => {
                if let Some(b) = bar.take() {
                    b.abandon();
                }
                interrupted(current.as_ref(), own_node);
                return Ok(ExitCode::from(130));
            }
        };
        let (o, done) = match next.map_err(|e| e.to_string())? {
            Response::PairCode(code) => {
                match json {
                    true => println!("{}", serde_json::json!({ "code": code })),
                    false => println!(
                        "code: {code}\non the other machine: warp receive {code}\n(waiting; Ctrl-C withdraws the code)"
                    ),
                }
                continue;
            }
            Response::Paired { peer, note } => {
                match json {
                    true => println!("{}", serde_json::json!({ "paired": peer, "note": note })),
                    false if note.is_empty() => println!("paired with {peer}"),
                    false => println!("paired with {peer}; {note}"),
                }
                continue;
            }
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
                    Status::WaitingForPeer => println!("waiting for peer: {}", o.reason),
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
        current = Some(o.clone());
        if done {
            if let Some(b) = bar.take() {
                b.set_position(o.bytes_done);
                b.finish_and_clear();
            }
            if !json {
                summary(&o, started.elapsed().as_secs_f64());
            }
            return Ok(match o.status {
                s if Some(s) == asked => ExitCode::SUCCESS,
                Status::Failed | Status::Rejected | Status::Cancelled => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            });
        }
    }
}

/// Ctrl-C while following an offer: it goes on in the node; says how to stop it. With
/// the command's own node, it stops with the command: says how to go on.
fn interrupted(o: Option<&Offer>, own_node: bool) {
    match o {
        Some(o) if !o.status.is_final() && own_node => {
            let (what, on) = match o.incoming {
                true => (
                    "the download",
                    format!("`warp offers accept {}` resumes it", o.id),
                ),
                false => (
                    "the offer",
                    "it goes on when a node runs for this data directory (`warp node`)".to_string(),
                ),
            };
            eprintln!(
                "warp: {what} {} stops with this command's node; {on}, `warp offers cancel {}` withdraws it",
                o.id, o.id
            );
        }
        Some(o) if !o.status.is_final() => {
            let (what, stop) = match o.incoming {
                true => ("the download", "stops it"),
                false => ("the offer", "withdraws it"),
            };
            eprintln!(
                "warp: {what} {} goes on in the node: `warp offers` shows how far, `warp offers cancel {}` {stop}",
                o.id, o.id
            );
        }
        Some(o) => eprintln!("warp: offer {} is {}", o.id, o.status),
        None => eprintln!("warp: interrupted; `warp offers` shows what the node has"),
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
            // Where it went: each top-level entry under the download directory.
            if o.incoming && !o.dir.is_empty() {
                let dir = std::path::Path::new(&o.dir);
                for top in &o.tops {
                    println!("  {}", dir.join(top).display());
                }
                if o.tops.len() == warpdrive::offer::TOPS {
                    println!("  (and maybe more, in {})", dir.display());
                }
            }
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
        println!("{}", offer_json(o, names));
        return;
    }
    println!("{}", row(o, names));
}

/// An offer as JSON, with `alias`: the peer's name in the book (`null` when it has none).
fn offer_json(o: &Offer, names: &HashMap<String, String>) -> serde_json::Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("alias".into(), names.get(&o.peer).cloned().into());
    }
    v
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
        "{:<36}  {way:<3}  {:<16}  {peer:<12}  {entries:>11}  {:>21}  {names}",
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
