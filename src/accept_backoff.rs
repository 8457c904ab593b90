//! What an accept loop does when `accept` fails (EMFILE, ENFILE, ENOBUFS...): log, wait a
//! little, and go on — a listener must never stop for good because the process ran out of
//! descriptors for a moment. The wait doubles from 10 ms to 1 s while failures go on.

use std::time::Duration;

/// The first wait after a failed accept.
const FIRST: Duration = Duration::from_millis(10);
/// The longest wait.
const MAX: Duration = Duration::from_secs(1);

/// The backoff of one accept loop.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
}

impl AcceptBackoff {
    /// After a failed accept: logs the first failure of a run and waits.
    pub async fn failed(&mut self, what: &str, e: &std::io::Error) {
        let wait = self.next.unwrap_or(FIRST);
        if self.next.is_none() {
            tracing::warn!("{what}: accept failed: {e}; retrying");
        }
        self.next = Some((wait * 2).min(MAX));
        tokio::time::sleep(wait).await;
    }

    /// After a good accept: the next failure starts over.
    pub fn succeeded(&mut self) {
        if self.next.take().is_some() {
            tracing::info!("accepting again");
        }
    }
}
