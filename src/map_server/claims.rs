//! Pairing-code numbers a map hands out, so that two nodes sharing by code through the
//! same map never wait with the same number: each is held for the node that claimed it
//! for an hour at most, and freed when it releases it. Only the number is here — the
//! code's words never leave the two nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocols::pair::code::MAX_NAMEPLATE;
use rand::Rng;

use crate::identity::PeerId;

/// How long a number is held.
pub const CLAIM_FOR: Duration = Duration::from_secs(3600);
/// Most numbers one node holds at once.
pub const PER_NODE: usize = 16;

/// Why no number was handed out.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Every number is held.
    #[error("every code number of this map is in use; try again later")]
    Full,
    /// The node holds as many as it may.
    #[error("this node already holds {PER_NODE} code numbers")]
    TooMany,
}

/// The numbers held.
#[derive(Default)]
pub struct Claims {
    held: Mutex<HashMap<u16, (PeerId, Instant)>>,
}

impl Claims {
    /// Holds a free number for `id` from `now`.
    pub fn claim(&self, id: PeerId, now: Instant) -> Result<u16, ClaimError> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.retain(|_, (_, until)| *until > now);
        if held.values().filter(|(who, _)| *who == id).count() >= PER_NODE {
            return Err(ClaimError::TooMany);
        }
        if held.len() >= MAX_NAMEPLATE as usize {
            return Err(ClaimError::Full);
        }
        let start: u16 = rand::thread_rng().gen_range(1..=MAX_NAMEPLATE);
        let n = (0..MAX_NAMEPLATE)
            .map(|k| (start - 1 + k) % MAX_NAMEPLATE + 1)
            .find(|n| !held.contains_key(n))
            .ok_or(ClaimError::Full)?;
        held.insert(n, (id, now + CLAIM_FOR));
        Ok(n)
    }

    /// Frees `n` if `id` holds it; whether it did.
    pub fn release(&self, id: PeerId, n: u16) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match held.get(&n) {
            Some((who, _)) if *who == id => held.remove(&n).is_some(),
            _ => false,
        }
    }

    /// The node that holds `n` at `now`.
    pub fn holder(&self, n: u16, now: Instant) -> Option<PeerId> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&n)
            .filter(|(_, until)| *until > now)
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_limited_per_node_and_freed_by_their_holder_only() {
        let claims = Claims::default();
        let (a, b) = (PeerId([1; 32]), PeerId([2; 32]));
        let now = Instant::now();
        let mine: Vec<u16> = (0..PER_NODE)
            .map(|_| claims.claim(a, now).unwrap())
            .collect();
        let mut distinct = mine.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), PER_NODE);
        assert_eq!(claims.claim(a, now), Err(ClaimError::TooMany));
        assert_eq!(claims.holder(mine[0], now), Some(a));
        assert!(
            !claims.release(b, mine[0]),
            "only the holder frees a number"
        );
        assert!(claims.release(a, mine[0]));
        assert_eq!(claims.holder(mine[0], now), None);
        // Held for an hour at most.
        assert_eq!(claims.holder(mine[1], now + CLAIM_FOR), None);
        assert!(claims.claim(b, now).is_ok());
    }
}
