//! `warp speed`: the tunnel's throughput to a peer, with the data checked by SHA-256; a
//! progress bar while the bytes move.

use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::SpeedArgs;
use crate::control::{Client, Request, Response};

/// Runs `warp speed`. Exits 0 when the bytes arrived intact, 1 when they did not.
pub async fn run(dir: &Path, args: SpeedArgs) -> Result<ExitCode, String> {
    let req = Request::Speed {
        peer: args.peer.clone(),
        bytes: args.bytes,
        seed: args.seed,
        verify: !args.no_verify,
        mode: args.mode,
    };
    let mut client = Client::request(dir, &req)
        .await
        .map_err(|e| e.to_string())?;
    // Drawn only on a terminal (indicatif hides itself elsewhere), and never with --json.
    let bar = match args.json {
        true => ProgressBar::hidden(),
        false => ProgressBar::new(args.bytes).with_style(
            ProgressStyle::with_template(
                "{bytes}/{total_bytes} [{bar:30}] {bytes_per_sec}, {eta} left",
            )
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
        ),
    };
    loop {
        match client.next().await.map_err(|e| e.to_string())? {
            Response::SpeedProgress { bytes, .. } => bar.set_position(bytes),
            Response::SpeedDone {
                bytes,
                micros,
                verified,
            } => {
                bar.finish_and_clear();
                report(&args, bytes, micros, verified)?;
                return Ok(if verified {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            Response::Error(e) => {
                bar.finish_and_clear();
                return Err(e.message);
            }
            other => return Err(format!("unexpected answer from the node: {other:?}")),
        }
    }
}

/// The result: a line, or one JSON document.
fn report(args: &SpeedArgs, bytes: u64, micros: u64, verified: bool) -> Result<(), String> {
    let secs = micros.max(1) as f64 / 1e6;
    let mib = bytes as f64 / (1 << 20) as f64;
    let mbit = bytes as f64 * 8.0 / secs / 1e6;
    let check = if args.no_verify { "count" } else { "sha256" };
    if args.json {
        let doc = json!({
            "peer": args.peer,
            "bytes": bytes,
            "seconds": secs,
            "mib_per_s": mib / secs,
            "mbit_per_s": mbit,
            "check": check,
            "verified": verified,
        });
        println!("{doc}");
        return Ok(());
    }
    println!(
        "sent {mib:.1} MiB to {} in {secs:.2} s: {:.1} MiB/s ({mbit:.0} Mbit/s), {}",
        args.peer,
        mib / secs,
        match (verified, args.no_verify) {
            (true, false) => "SHA-256 verified",
            (true, true) => "byte count verified",
            (false, false) => "SHA-256 MISMATCH",
            (false, true) => "byte count MISMATCH",
        }
    );
    Ok(())
}
