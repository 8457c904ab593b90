//! `warp map`: runs a map server in the foreground until Ctrl-C or SIGTERM.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::MapArgs;
use crate::map_server;

/// Runs `warp map`.
pub async fn run(dir: &Path, args: MapArgs) -> Result<ExitCode, String> {
    let data = args.data.unwrap_or_else(|| dir.join("map"));
    let listen = match args.listen.is_empty() {
        true => vec![map_server::DEFAULT_LISTEN],
        false => args.listen,
    };
    let api = match args.api.as_deref() {
        None => Some(map_server::rest::DEFAULT_ADDR),
        Some("off") => None,
        Some(a) => Some(
            a.parse()
                .map_err(|_| format!("--api {a}: not an address (like 127.0.0.1:7485) or off"))?,
        ),
    };
    let flows = args.flows.is_some();
    let ready = |id: &str, bound: &[std::net::SocketAddr], api: Option<std::net::SocketAddr>| {
        let first = bound.first().map(|a| a.to_string()).unwrap_or_default();
        println!("map {id} listening on {bound:?}");
        println!("nodes use it with: warp node --map {first}");
        if flows {
            println!(
                "nodes run its flows with, in warp.toml: map = [{{ addr = \"{first}\", key = \"{id}\", flows = true }}]"
            );
        }
        if let Some(api) = api {
            println!(
                "REST API on http://{api} (token: api.token in {})",
                data.display()
            );
        }
    };
    let settings = map_server::Settings {
        listen,
        relay_rate: args.relay_rate.saturating_mul(1_000_000 / 8),
        flows: args.flows,
        api,
    };
    map_server::run(&data, &settings, ready, crate::node::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
