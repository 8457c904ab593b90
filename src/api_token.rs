//! The owner's credential: a random token in `api.token` in the data directory (mode
//! 0600), made when the node first starts. Only the node's user can read it, so a request
//! that carries it comes from the owner — not from a web page that reached the loopback
//! port, nor from another local user. The REST API wants it as `Authorization: Bearer
//! <token>`; WARP link clients present it with `@auth` to use the node's own `/hub` agent.

use std::path::{Path, PathBuf};

/// The token file's name in the data directory.
pub const FILE: &str = "api.token";

/// Random bytes in a token (printed as twice as many hex digits).
const BYTES: usize = 32;

/// The owner's token.
#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

/// Why the token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The token file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file holds something other than a token.
    #[error("{0}: not a warp API token (delete the file and restart the node to make a new one)")]
    Malformed(PathBuf),
}

impl ApiToken {
    /// The token of the node whose data directory is `dir`, made on first use.
    pub fn load_or_create(dir: &Path) -> Result<ApiToken, TokenError> {
        let path = dir.join(FILE);
        let io = |source| TokenError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let t = text.trim();
                if t.len() != 2 * BYTES || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(TokenError::Malformed(path));
                }
                Ok(ApiToken(t.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use rand::RngCore;
                let mut raw = [0u8; BYTES];
                rand::rngs::OsRng.fill_bytes(&mut raw);
                let token = data_encoding::HEXLOWER.encode(&raw);
                match crate::private_file::create(&path, format!("{token}\n").as_bytes()) {
                    Ok(()) => Ok(ApiToken(token)),
                    // Another process made it meanwhile: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        ApiToken::load_or_create(dir)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token (compared with [`equal`]).
    pub fn matches(&self, given: &str) -> bool {
        equal(&self.0, given)
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_and_only_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        let t = ApiToken::load_or_create(dir.path()).unwrap();
        let again = ApiToken::load_or_create(dir.path()).unwrap();
        assert!(again.matches(t.as_str()));
        assert_eq!(t.as_str().len(), 64);
        assert!(!t.matches(""));
        assert!(!t.matches(&t.as_str()[..63]));
        let mut wrong = t.as_str().to_string().into_bytes();
        wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
        assert!(!t.matches(std::str::from_utf8(&wrong).unwrap()));
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(matches!(
            ApiToken::load_or_create(dir.path()),
            Err(TokenError::Malformed(_))
        ));
    }
}
