//! `warp page`: the address of the running node's live page, with a one-time login, and
//! a browser opened on it where one can be (`--print`: only printed).

use std::path::Path;
use std::process::ExitCode;

use crate::control::{Client, Request, Response};

/// Runs `warp page`.
pub async fn run(dir: &Path, print_only: bool) -> Result<ExitCode, String> {
    let mut client = Client::request(dir, &Request::PageLogin)
        .await
        .map_err(|e| e.to_string())?;
    let url = match client.next().await.map_err(|e| e.to_string())? {
        Response::Note(url) => url,
        Response::Error(e) => return Err(e.message),
        other => return Err(format!("unexpected answer from the node: {other:?}")),
    };
    println!("{url}");
    let graphical = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if !print_only && graphical {
        let opened = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !opened.is_ok_and(|s| s.success()) {
            eprintln!("(no browser could be opened: open the address above in one)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
