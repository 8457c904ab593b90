//! The node's side of the control socket: lines of Recon in, each request applied by
//! the command layer (`node/commands/`), its answer's lines out.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::warn;

use super::Node;
use crate::control::{Request, Response};

/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Binds the control socket (mode 0600) and serves it in a task.
pub fn start(node: Arc<Node>, dir: &Path) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = crate::home::control_socket(dir);
    // The node lock is held, so a socket file left here is stale.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        let mut backoff = crate::accept_backoff::AcceptBackoff::default();
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    backoff.failed("control socket", &e).await;
                    continue;
                }
            };
            backoff.succeeded();
            let node = node.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(node, stream).await {
                    warn!("control connection: {e}");
                }
            });
        }
    }))
}

async fn serve(node: Arc<Node>, stream: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r).take(MAX_LINE as u64);
    let mut line = String::new();
    loop {
        line.clear();
        reader.set_limit(MAX_LINE as u64);
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Response>();
        match recon::from_str::<Request>(line.trim_end()) {
            Ok(req) => {
                let node = node.clone();
                tokio::spawn(super::commands::handle(node, req, tx));
            }
            Err(e) => {
                let _ = tx.send(Response::invalid(format!("bad request: {e}")));
            }
        }
        // A client that goes away mid-answer ends the answer (dropping `rx` tells the
        // request, such as a pairing code waiting, that no one listens); a client that
        // already sent its next request is not watched further.
        let mut watching = true;
        loop {
            tokio::select! {
                resp = rx.recv() => {
                    let Some(resp) = resp else { break };
                    let mut out = recon::to_string(&resp).map_err(std::io::Error::other)?;
                    out.push('\n');
                    w.write_all(out.as_bytes()).await?;
                    if resp.is_final() {
                        break;
                    }
                }
                more = reader.fill_buf(), if watching => match more {
                    Ok([]) => return Ok(()),
                    Ok(_) => watching = false,
                    Err(e) => return Err(e),
                },
            }
        }
    }
}
