//! The page's logins (as Jupyter does): `warp page` asks the running node for a one-time
//! login token and prints the page's address with it; the page redeems it once for a
//! session token, which it then presents as the owner's token would be (`Authorization:
//! Bearer` to the REST API, `@auth` to the link hub's `/hub`). A page from elsewhere has
//! neither: the login is used up on first use, sessions live only in the node's memory
//! (gone at restart) and in the page's own tab, and every request a browser sends from
//! another origin is refused before it is looked at (see `loopback.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login token may wait to be used.
pub const LOGIN_FOR: Duration = Duration::from_secs(600);
/// How long a session lasts after its last use.
pub const SESSION_IDLE: Duration = Duration::from_secs(24 * 3600);
/// Most logins waiting, and most sessions, at once (the oldest goes first).
pub const MAX: usize = 64;

/// Logins waiting and sessions open.
#[derive(Default)]
pub struct Logins {
    logins: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashMap<String, Instant>>,
}

/// A random token: 32 bytes as hex.
fn token() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    data_encoding::HEXLOWER.encode(&raw)
}

/// Keeps `map` under [`MAX`] entries and without those older than `age`, at `now`.
fn prune(map: &mut HashMap<String, Instant>, age: Duration, now: Instant) {
    map.retain(|_, at| now.duration_since(*at) < age);
    while map.len() >= MAX {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl Logins {
    /// A new one-time login token.
    pub fn login(&self) -> String {
        let now = Instant::now();
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut logins, LOGIN_FOR, now);
        let t = token();
        logins.insert(t.clone(), now);
        t
    }

    /// Uses up `login`: a new session token, if it was a login waiting.
    pub fn redeem(&self, login: &str) -> Option<String> {
        let now = Instant::now();
        let found = {
            let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
            prune(&mut logins, LOGIN_FOR, now);
            let key = logins
                .keys()
                .find(|k| crate::api_token::equal(k, login))
                .cloned();
            key.and_then(|k| logins.remove(&k))
        };
        found?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut sessions, SESSION_IDLE, now);
        let s = token();
        sessions.insert(s.clone(), now);
        Some(s)
    }

    /// Whether `session` is an open session (its idle time starts again).
    pub fn valid(&self, session: &str) -> bool {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let key = sessions
            .keys()
            .find(|k| crate::api_token::equal(k, session))
            .cloned();
        match key.and_then(|k| sessions.get_mut(&k)) {
            Some(at) if now.duration_since(*at) < SESSION_IDLE => {
                *at = now;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_login_is_used_once_for_a_session_and_nothing_else_opens_one() {
        let l = super::Logins::default();
        let login = l.login();
        assert!(!l.valid(&login), "a login is not a session");
        let session = l.redeem(&login).unwrap();
        assert!(l.valid(&session));
        assert_eq!(l.redeem(&login), None, "used up");
        assert_eq!(l.redeem("guess"), None);
        assert!(!l.valid("guess") && !l.valid(""));
    }

    #[test]
    fn logins_and_sessions_are_bounded() {
        let l = super::Logins::default();
        let first = l.login();
        for _ in 0..super::MAX {
            l.login();
        }
        assert_eq!(l.redeem(&first), None, "the oldest login went first");
    }
}
