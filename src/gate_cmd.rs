//! `warp gate`: expose, unexpose, open, close and list TCP gates on the running node.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{GateAction, GateArgs};
use crate::control::{Client, Request, Response};
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
        }) => Request::GateExpose(Exposed {
            name,
            target,
            allow,
            udp,
        }),
        Some(GateAction::Unexpose { name }) => Request::GateUnexpose { name },
        Some(GateAction::Open {
            listen,
            peer,
            name,
            udp,
        }) => Request::GateOpen(Opened {
            listen,
            peer,
            name,
            udp,
        }),
        Some(GateAction::Close { listen }) => Request::GateClose { listen },
    };
    let mut client = Client::request(dir, &req).await?;
    match client.next().await.map_err(|e| e.to_string())? {
        Response::Gates { exposed, opened } => {
            if exposed.is_empty() && opened.is_empty() {
                println!("no gates: `warp gate expose NAME HOST:PORT` or `warp gate open HOST:PORT PEER NAME`");
            }
            for g in exposed {
                let who = if g.allow.is_empty() {
                    "any peer not blocked".to_string()
                } else {
                    g.allow.join(",")
                };
                let proto = if g.udp { "udp" } else { "tcp" };
                println!("exposed  {:<16} -> {proto} {}  ({who})", g.name, g.target);
            }
            for g in opened {
                let proto = if g.udp { "udp" } else { "tcp" };
                println!(
                    "open     {proto} {:<16} -> {} on {}",
                    g.listen, g.name, g.peer
                );
            }
        }
        Response::Ok => {}
        Response::Error(e) => return Err(e),
        other => return Err(format!("unexpected answer from the node: {other:?}")),
    }
    Ok(ExitCode::SUCCESS)
}
