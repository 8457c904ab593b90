//! The pairing codes this node waits with (`warp share PATH` with no peer), and the keys
//! paired through one while their offer runs. A code is taken out by the first pairing
//! that names its number, so it gets one try; its holder learns how the pairing ended.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use protocols::pair::code::MAX_NAMEPLATE;
use protocols::pair::Code;
use rand::Rng;
use tokio::sync::oneshot;

use crate::identity::PeerId;

/// Most codes one node waits with at once (each is announced on the local network).
pub const MAX_WAITING: usize = 16;

/// How a pairing ended, as its code's holder hears it.
pub type Outcome = Result<(PeerId, warpdrive::Offer), PairFailure>;

/// Why a pairing made no offer.
#[derive(Debug, thiserror::Error)]
pub enum PairFailure {
    /// The other side's key exchange did not confirm: it typed another code.
    #[error("someone tried a code that does not match; this code is spent: `warp share` again gives a new one")]
    WrongCode,
    /// The other side refused or broke the protocol.
    #[error("the other side broke off the pairing: {0}")]
    Broken(String),
    /// A step got no answer.
    #[error("the other side broke off the pairing: {0}")]
    Step(#[from] super::pair_step::StepError),
    /// The offer could not be made.
    #[error("making the offer: {0}")]
    Share(#[from] warpdrive::ShareError),
}

/// Why no code could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// As many codes wait as may.
    #[error("this node already waits with {MAX_WAITING} pairing codes")]
    TooMany,
    /// The number a map handed out is one this node already waits with.
    #[error("this node already waits with a code numbered {0}")]
    Taken(u16),
}

/// A code waiting for the side that types it.
pub struct Waiting {
    /// The code.
    pub code: Code,
    /// What to offer to the side that pairs.
    pub paths: Vec<PathBuf>,
    /// How long the offer then waits for that side if it goes away.
    pub wait: Duration,
    /// Where the outcome goes.
    pub done: oneshot::Sender<Outcome>,
}

/// The codes waiting and the keys paired.
#[derive(Default)]
pub struct Pairings {
    waiting: Mutex<HashMap<u16, Waiting>>,
    paired: Mutex<HashSet<PeerId>>,
}

impl Pairings {
    /// Opens a new code for `paths` — numbered `nameplate` when a map handed that
    /// number out, else a free one picked here; the receiver hears the outcome.
    pub fn open(
        &self,
        paths: Vec<PathBuf>,
        wait: Duration,
        nameplate: Option<u16>,
    ) -> Result<(Code, oneshot::Receiver<Outcome>), OpenError> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.len() >= MAX_WAITING {
            return Err(OpenError::TooMany);
        }
        let mut rng = rand::rngs::OsRng;
        let code = loop {
            let n = nameplate.map_or_else(|| rng.gen_range(0..MAX_NAMEPLATE), |n| n - 1);
            let c = Code::new(n, rng.gen());
            if !waiting.contains_key(&c.nameplate) {
                break c;
            }
            if let Some(n) = nameplate {
                return Err(OpenError::Taken(n));
            }
        };
        let (done, outcome) = oneshot::channel();
        waiting.insert(
            code.nameplate,
            Waiting {
                code,
                paths,
                wait,
                done,
            },
        );
        Ok((code, outcome))
    }

    /// Takes the code numbered `nameplate` out for a pairing: it gets this one try.
    pub fn take(&self, nameplate: u16) -> Option<Waiting> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.remove(&nameplate)
    }

    /// Withdraws the code numbered `nameplate` if it still waits.
    pub fn close(&self, nameplate: u16) {
        self.take(nameplate);
    }

    /// The numbers of the codes waiting.
    pub fn numbers(&self) -> Vec<u16> {
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut n: Vec<u16> = waiting.keys().copied().collect();
        n.sort_unstable();
        n
    }

    /// Whether any code waits (a stranger may then connect, to pair only).
    pub fn any_waiting(&self) -> bool {
        !self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Lets `peer`, paired by a code, fetch the offer made to it.
    pub fn pair(&self, peer: PeerId) {
        let mut paired = self.paired.lock().unwrap_or_else(|p| p.into_inner());
        paired.insert(peer);
    }

    /// Ends what a pairing let `peer` do (its offer ended).
    pub fn unpair(&self, peer: &PeerId) {
        let mut paired = self.paired.lock().unwrap_or_else(|p| p.into_inner());
        paired.remove(peer);
    }

    /// Whether `peer` was paired by a code and its offer still runs.
    pub fn is_paired(&self, peer: &PeerId) -> bool {
        self.paired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_taken_once_and_numbers_are_distinct() {
        let p = Pairings::default();
        let mut numbers = HashSet::new();
        for _ in 0..MAX_WAITING {
            let (code, _) = p.open(Vec::new(), Duration::from_secs(1), None).unwrap();
            assert!((1..=MAX_NAMEPLATE).contains(&code.nameplate));
            assert!(numbers.insert(code.nameplate));
        }
        assert!(p.open(Vec::new(), Duration::from_secs(1), None).is_err());
        let n = *numbers.iter().next().unwrap();
        assert_eq!(p.take(n).unwrap().code.nameplate, n);
        assert!(p.take(n).is_none(), "a code gets one try");
        assert_eq!(p.numbers().len(), MAX_WAITING - 1);
        assert!(p.any_waiting());
    }
}
