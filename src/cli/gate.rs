//! `warp gate`: expose, unexpose, open, close and list TCP gates on the running node.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{GateAction, GateArgs};
use crate::control::{Request, Response};
use crate::gate_book::{Exposed, Opened};

/// Runs `warp gate`.
pub async fn run(dir: &Path, args: GateArgs) -> Result<ExitCode, String> {
    let req = match args.action {
        None => Request::Gates,
        Some(GateAction::Expose {
            name,
            target,
            allow,
            udp,
            public,
        }) => Request::GateExpose(Exposed {
            name,
            target,
            allow,
            udp,
            public,
        }),
        Some(GateAction::Unexpose { name }) => Request::GateUnexpose { name },
        Some(GateAction::Open {
            listen,
            peer,
            name,
            udp,
            gateway,
            mode,
        }) => Request::GateOpen(Opened {
            // A bare port means loopback, as with `ssh -L 2222:...`.
            listen: match listen.parse::<u16>() {
                Ok(port) => format!("127.0.0.1:{port}"),
                Err(_) => listen,
            },
            peer,
            name,
            udp,
            gateway,
            mode,
        }),
        Some(GateAction::Close { listen }) => Request::GateClose { listen },
    };
    let told = match &req {
        Request::GateExpose(g) => Some(format!(
            "exposed {} ({}): reachable by {}",
            g.name,
            g.target,
            g.reach()
        )),
        Request::GateOpen(g) if g.gateway => Some(format!(
            "{} leads to {} on {}: ANY host that can reach {} may use it (--gateway)",
            g.listen, g.name, g.peer, g.listen
        )),
        _ => None,
    };
    let listing = matches!(req, Request::Gates).then_some(offline as super::offline::ReadBooks);
    match super::offline::answer(dir, &req, listing).await? {
        Response::Gates {
            exposed,
            opened,
            config_exposed,
            config_opened,
        } if args.json => {
            let doc = serde_json::json!({
                "exposed": exposed,
                "opened": opened,
                "config_exposed": config_exposed,
                "config_opened": config_opened,
            });
            println!("{doc}");
        }
        Response::Gates {
            exposed,
            opened,
            config_exposed,
            config_opened,
        } => {
            let exposed: Vec<(Exposed, &str)> = exposed
                .into_iter()
                .map(|g| (g, ""))
                .chain(config_exposed.into_iter().map(|g| (g, "  [config]")))
                .collect();
            let opened: Vec<(Opened, &str)> = opened
                .into_iter()
                .map(|g| (g, ""))
                .chain(config_opened.into_iter().map(|g| (g, "  [config]")))
                .collect();
            if exposed.is_empty() && opened.is_empty() {
                println!("no gates: `warp gate expose NAME HOST:PORT` or `warp gate open HOST:PORT PEER NAME`");
            }
            for (g, origin) in exposed {
                let who = match g.allow.is_empty() {
                    true => g.reach(),
                    false => g.allow.join(","),
                };
                let proto = if g.udp { "udp" } else { "tcp" };
                println!(
                    "exposed  {:<16} -> {proto} {}  ({who}){origin}",
                    g.name, g.target
                );
            }
            for (g, origin) in opened {
                let proto = if g.udp { "udp" } else { "tcp" };
                let mode = match crate::bond_mode::is_default(&g.mode) {
                    true => String::new(),
                    false => format!("  ({} over several paths)", g.mode),
                };
                println!(
                    "open     {proto} {:<16} -> {} on {}{mode}{origin}",
                    g.listen, g.name, g.peer
                );
            }
        }
        Response::Ok => {
            if let Some(t) = told {
                println!("{t}");
            }
        }
        Response::Note(n) => {
            if let Some(t) = told {
                println!("{t}");
            }
            eprintln!("warp: {n}");
        }
        Response::Error(e) => return Err(e.message),
        other => return Err(format!("unexpected answer from the node: {other:?}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The gates as kept in the books and the configuration file, while no node runs.
fn offline(dir: &Path) -> Result<Response, String> {
    let books = super::offline::Offline::open(dir)?;
    let gates = crate::gate_book::GateBook::open(&books.db).map_err(|e| e.to_string())?;
    let file = crate::config::load(&dir.join("warp.toml")).unwrap_or_default();
    Ok(Response::Gates {
        exposed: gates.all_exposed(),
        opened: gates.all_opened(),
        config_exposed: file.gate.expose,
        config_opened: file.gate.open,
    })
}
