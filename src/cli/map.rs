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
    let ready = |id: &str, bound: &[std::net::SocketAddr]| {
        let first = bound.first().map(|a| a.to_string()).unwrap_or_default();
        println!("map {id} listening on {bound:?}");
        println!("nodes use it with: warp node --map {first}");
    };
    let relay_rate = args.relay_rate.saturating_mul(1_000_000 / 8);
    map_server::run(
        &data,
        (&listen, relay_rate),
        ready,
        crate::node::shutdown_signal(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
