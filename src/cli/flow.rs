//! `warp flow`: add, remove and list flows and their members on the running node.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{FlowAction, FlowArgs, MemberAction};
use crate::control::{FlowStatus, MemberStatus, Request, Response};
use crate::flow_book::Flow;

/// Runs `warp flow`.
pub async fn run(dir: &Path, args: FlowArgs) -> Result<ExitCode, String> {
    let req = match args.action {
        None => Request::Flows,
        Some(FlowAction::Add {
            name,
            mode,
            port,
            ip,
            deliver,
            members,
            send,
            recv,
            paths,
        }) => Request::FlowAdd(Flow {
            name,
            mode,
            port,
            ip,
            deliver,
            members,
            send,
            recv,
            paths,
        }),
        Some(FlowAction::Rm { name }) => Request::FlowRemove { name },
        Some(FlowAction::Join {
            name,
            role,
            as_name,
            map,
        }) => Request::FlowJoin {
            name,
            role,
            as_name,
            map,
        },
        Some(FlowAction::Member {
            action: MemberAction::Add { name, peer, role },
        }) => Request::FlowMemberAdd { name, peer, role },
        Some(FlowAction::Member {
            action: MemberAction::Rm { name, peer },
        }) => Request::FlowMemberRemove { name, peer },
    };
    let listing = matches!(req, Request::Flows).then_some(offline as super::offline::ReadBooks);
    match super::offline::answer(dir, &req, listing).await? {
        Response::Flows(list) if args.json => {
            println!(
                "{}",
                serde_json::to_string(&list).map_err(|e| e.to_string())?
            );
        }
        Response::Flows(list) => {
            if list.is_empty() {
                println!("no flows: `warp flow add NAME MODE PORT --member self --member PEER`");
            }
            for f in list {
                print_flow(&f);
            }
        }
        Response::Ok => {}
        Response::Note(n) => println!("{n}"),
        Response::Error(e) => return Err(e.message),
        other => return Err(format!("unexpected answer from the node: {other:?}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// The flows as kept in the book and the configuration file, while no node runs: no
/// counters, and each member's state says so.
fn offline(dir: &Path) -> Result<Response, String> {
    let books = super::offline::Offline::open(dir)?;
    let book = crate::flow_book::FlowBook::open(&books.db).map_err(|e| e.to_string())?;
    let file = crate::config::load(&dir.join("warp.toml")).unwrap_or_default();
    let mine = book.all();
    let from_file = file
        .flow
        .into_iter()
        .filter(|f| !mine.iter().any(|m| m.name == f.name));
    let mut list: Vec<FlowStatus> = mine
        .iter()
        .cloned()
        .map(|f| (f, false))
        .chain(from_file.map(|f| (f, true)))
        .map(|(flow, from_config)| FlowStatus {
            origin: match from_config {
                true => crate::flow_book::Origin::File,
                false => crate::flow_book::Origin::Command,
            },
            members: flow
                .roles()
                .filter(|(m, _)| *m != crate::flow_book::SELF)
                .map(|(peer, role)| MemberStatus {
                    peer: peer.to_string(),
                    name: None,
                    role,
                    sent: 0,
                    sent_bytes: 0,
                    dropped: 0,
                    queued: 0,
                    rate_out: 0,
                    received: 0,
                    received_bytes: 0,
                    rate_in: 0,
                    congested: false,
                    state: "node not running".into(),
                })
                .collect(),
            flow,
            from_config,
            from_apps: 0,
            not_sent: 0,
            delivered: 0,
            undeliverable: 0,
            congested: false,
        })
        .collect();
    list.sort_by(|a, b| a.flow.name.cmp(&b.flow.name));
    Ok(Response::Flows(list))
}

fn print_flow(f: &FlowStatus) {
    let def = &f.flow;
    let role = def.own_role().map(String::from).unwrap_or_default();
    let deliver = def
        .deliver
        .map(|d| format!(", delivers to {d}"))
        .unwrap_or_default();
    let origin = match &f.origin {
        crate::flow_book::Origin::Command => String::new(),
        crate::flow_book::Origin::File => "  [config]".to_string(),
        crate::flow_book::Origin::Map(m) => format!("  [map {m}]"),
    };
    let paths = match crate::bond_mode::is_default(&def.paths) {
        true => String::new(),
        false => format!(", {} over several paths", def.paths),
    };
    println!(
        "flow {}  {}  udp {}{deliver}{paths}  (self: {role}){origin}",
        def.name,
        def.mode,
        def.local_addr()
    );
    println!(
        "  from apps {}  not sent {}  delivered {}  undeliverable {}{}",
        f.from_apps,
        f.not_sent,
        f.delivered,
        f.undeliverable,
        if f.congested { "  CONGESTED" } else { "" }
    );
    for m in &f.members {
        println!(
            "  {:<12} {:<4}  out {} ({} B, {} B/s) dropped {} queued {}  in {} ({} B, {} B/s)  {}{}",
            m.name.as_deref().unwrap_or(&m.peer),
            String::from(m.role),
            m.sent,
            m.sent_bytes,
            m.rate_out,
            m.dropped,
            m.queued,
            m.received,
            m.received_bytes,
            m.rate_in,
            m.state,
            if m.congested { "  CONGESTED" } else { "" }
        );
    }
}
