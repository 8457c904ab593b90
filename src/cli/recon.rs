//! `warp recon`: parse Recon, print it compact, pretty or as JSON.

use std::io::{Read, Write};
use std::process::ExitCode;

use crate::cli::{InputFormat, ReconArgs};

/// Whether `text` is a JSON object or array (where Recon and JSON disagree).
fn looks_like_json(text: &str) -> bool {
    let t = text.trim_start();
    (t.starts_with('{') || t.starts_with('['))
        && t.contains('"')
        && serde_json::from_str::<serde_json::Value>(text).is_ok()
}

/// Runs `warp recon`.
pub fn run(args: &ReconArgs) -> ExitCode {
    let (name, bytes) = match read_input(args) {
        Ok(input) => input,
        Err((name, e)) => {
            eprintln!("warp recon: cannot read {name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = valid.rsplit(|&b| b == b'\n').next().map_or(0, |l| l.len()) + 1;
            eprintln!("{name}:{line}:{col}: input is not valid UTF-8");
            return ExitCode::FAILURE;
        }
    };
    let value = match args.from {
        InputFormat::Json => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(j) => recon::from_json(&j),
            Err(e) => {
                eprintln!("{name}:{}:{}: {e}", e.line(), e.column());
                return ExitCode::FAILURE;
            }
        },
        InputFormat::Recon => match recon::parse(text) {
            Ok(v) => {
                if looks_like_json(text) {
                    eprintln!(
                        "warp recon: note: {name} is JSON, which Recon reads differently (as markup); use --from json to read it as JSON"
                    );
                }
                v
            }
            Err(e) => {
                eprintln!("{name}:{}:{}: {}", e.line, e.column, e.kind);
                if looks_like_json(text) {
                    eprintln!("warp recon: {name} is JSON: use --from json");
                }
                return ExitCode::FAILURE;
            }
        },
    };
    let out = match (args.json, args.pretty) {
        (true, false) => recon::to_json(&value).to_string(),
        (true, true) => serde_json::to_string_pretty(&recon::to_json(&value)).unwrap_or_default(),
        (false, false) => recon::to_compact_string(&value),
        (false, true) => recon::to_pretty_string(&value),
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{out}")
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

type Input = (String, Vec<u8>);

fn read_input(args: &ReconArgs) -> Result<Input, (String, std::io::Error)> {
    match args.file.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            std::fs::read(p)
                .map(|b| (name.clone(), b))
                .map_err(|e| (name, e))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map(|_| ("<stdin>".to_string(), buf))
                .map_err(|e| ("<stdin>".to_string(), e))
        }
    }
}
