//! `warp speed`: the tunnel's throughput to a peer, with the data checked by SHA-256.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::SpeedArgs;
use crate::control::{Client, Request, Response};

/// Runs `warp speed`. Exits 0 when the bytes arrived intact, 1 when they did not.
pub async fn run(dir: &Path, args: SpeedArgs) -> Result<ExitCode, String> {
    let req = Request::Speed {
        peer: args.peer.clone(),
        bytes: args.bytes,
        seed: args.seed,
        verify: !args.no_verify,
    };
    let mut client = Client::request(dir, &req).await?;
    match client.next().await.map_err(|e| e.to_string())? {
        Response::SpeedDone {
            bytes,
            micros,
            verified,
        } => {
            let secs = micros.max(1) as f64 / 1e6;
            let mib = bytes as f64 / (1 << 20) as f64;
            println!(
                "sent {mib:.1} MiB to {} in {secs:.2} s: {:.1} MiB/s ({:.0} Mbit/s), {}",
                args.peer,
                mib / secs,
                bytes as f64 * 8.0 / secs / 1e6,
                match (verified, args.no_verify) {
                    (true, false) => "SHA-256 verified",
                    (true, true) => "byte count verified",
                    (false, false) => "SHA-256 MISMATCH",
                    (false, true) => "byte count MISMATCH",
                }
            );
            Ok(if verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Response::Error(e) => Err(e.message),
        other => Err(format!("unexpected answer from the node: {other:?}")),
    }
}
