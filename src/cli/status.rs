//! `warp status`: the running node at a glance.

use std::path::Path;
use std::process::ExitCode;

use crate::control::{Client, NodeStatus, Request, Response};

/// Runs `warp status`.
pub async fn run(dir: &Path, json: bool) -> Result<ExitCode, String> {
    let mut client = Client::request(dir, &Request::Status)
        .await
        .map_err(|e| e.to_string())?;
    match client.next().await.map_err(|e| e.to_string())? {
        Response::Status(s) if json => {
            println!("{}", serde_json::to_string(&s).map_err(|e| e.to_string())?);
        }
        Response::Status(s) => print(&s),
        Response::Error(e) => return Err(e.message),
        other => return Err(format!("unexpected answer from the node: {other:?}")),
    }
    Ok(ExitCode::SUCCESS)
}

fn print(s: &NodeStatus) {
    println!("warp node {}  (warp {})", s.id, s.version);
    println!("  data      {}", s.data_dir);
    println!("  peers     udp {}", s.quic);
    if let Some(a) = &s.api {
        println!("  REST API  http://{a}");
    }
    if let Some(w) = &s.ws {
        println!("  links     ws://{w}");
    }
    println!(
        "  {} in the book, {} connected; gates: {} exposed, {} open; {} running",
        count(s.peers, "peer", "peers"),
        s.connected,
        s.gates_exposed,
        s.gates_open,
        count(s.flows, "flow", "flows"),
    );
    println!(
        "  {}, {} waiting for you",
        count(s.offers, "offer", "offers"),
        s.offers_waiting
    );
    for m in &s.maps {
        let state = match (&m.observed, &m.error) {
            (_, Some(e)) => format!("failing: {e}"),
            (_, None) if m.tcp => {
                "registered over TCP (UDP to it is blocked), reached through its relay".into()
            }
            (Some(seen), None) => {
                let nat = match m.nat {
                    Some(crate::control::Nat::EndpointIndependent) => {
                        ", NAT: one mapping for every destination (cone or none)"
                    }
                    Some(crate::control::Nat::EndpointDependent) => {
                        ", NAT: a mapping per destination (symmetric)"
                    }
                    None => "",
                };
                format!("registered, sees this node at {seen}{nat}")
            }
            (None, None) => "not reached yet".to_string(),
        };
        println!("  map       {}  {state}", m.addr);
    }
}

/// `1 peer`, `2 peers`.
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}
