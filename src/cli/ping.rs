//! `warp ping`: one line per probe and a summary like ping(8), after `-c` probes or on
//! Ctrl-C.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::cli::PingArgs;
use crate::control::{Client, Request, Response};

/// Runs `warp ping`. Exits 0 when any probe came back, 1 when none did, 2 on error.
pub async fn run(dir: &Path, args: PingArgs) -> Result<ExitCode, String> {
    if !(args.interval.is_finite() && args.interval >= 0.0) {
        return Err("the interval must be a number of seconds".into());
    }
    let req = Request::Ping {
        peer: args.peer.clone(),
        count: args.count.unwrap_or(u32::MAX),
        interval_ms: (args.interval * 1000.0) as u64,
        size: args.size,
    };
    let mut client = Client::request(dir, &req)
        .await
        .map_err(|e| e.to_string())?;
    let mut rtts: Vec<f64> = Vec::new();
    let mut sent = 0u32;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let next = tokio::select! {
            n = client.next() => n.map_err(|e| e.to_string())?,
            // Ctrl-C: the summary of what was sent so far, as ping(8) prints it.
            _ = &mut interrupted => break,
        };
        match next {
            Response::PingStart { id, remote } if args.json => {
                println!(
                    "{}",
                    json!({ "peer": args.peer, "id": id, "remote": remote })
                )
            }
            Response::PingStart { id, remote } => {
                println!(
                    "PING {} ({id}) via {remote}: {} bytes",
                    args.peer, args.size
                )
            }
            Response::PingReply { seq, size, rtt_us } => {
                sent += 1;
                let ms = rtt_us as f64 / 1000.0;
                rtts.push(ms);
                match args.json {
                    true => println!("{}", json!({ "seq": seq, "size": size, "rtt_us": rtt_us })),
                    false => {
                        println!("{size} bytes from {}: seq={seq} time={ms:.3} ms", args.peer)
                    }
                }
            }
            Response::PingLost { seq } => {
                sent += 1;
                match args.json {
                    true => println!("{}", json!({ "seq": seq, "lost": true })),
                    false => println!("no reply from {}: seq={seq}", args.peer),
                }
            }
            Response::PingDone => break,
            Response::Error(e) => {
                if sent == 0 {
                    return Err(e.message);
                }
                eprintln!("warp: {e}");
                break;
            }
            _ => {}
        }
    }
    summary(&args.peer, sent, &rtts, args.json);
    Ok(if rtts.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The statistics, as ping(8) prints them, or as the last JSON line
/// (`{"transmitted","received","loss_percent","rtt_ms":{"min","avg","max","mdev"}}`).
fn summary(peer: &str, sent: u32, rtts: &[f64], json: bool) {
    let received = rtts.len() as u32;
    let loss = if sent == 0 {
        0.0
    } else {
        100.0 * f64::from(sent - received) / f64::from(sent)
    };
    let stats = (!rtts.is_empty()).then(|| {
        let n = rtts.len() as f64;
        let min = rtts.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().cloned().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / n;
        let mdev = (rtts.iter().map(|r| (r - avg).powi(2)).sum::<f64>() / n).sqrt();
        (min, avg, max, mdev)
    });
    if json {
        let rtt = stats.map(
            |(min, avg, max, mdev)| json!({ "min": min, "avg": avg, "max": max, "mdev": mdev }),
        );
        let doc = json!({
            "transmitted": sent,
            "received": received,
            "loss_percent": loss,
            "rtt_ms": rtt,
        });
        println!("{doc}");
        return;
    }
    println!("--- {peer} ping statistics ---");
    println!("{sent} probes transmitted, {received} received, {loss:.0}% loss");
    if let Some((min, avg, max, mdev)) = stats {
        println!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
}
