//! The node's identity: an Ed25519 key pair, and the peer id that names it.
//!
//! A peer id is the 32-byte Ed25519 public key in lowercase base32 (RFC 4648 alphabet,
//! no padding): 52 characters of `a-z` and `2-7`, safe to copy, paste and type. Upper
//! case is accepted on input.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

/// The name of a node: its Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 32]);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = data_encoding::BASE32_NOPAD.encode(&self.0);
        f.write_str(&s.to_ascii_lowercase())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

/// Why text is not a peer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a peer id (52 characters of base32, a-z and 2-7): {0:?}")]
pub struct BadPeerId(pub String);

impl FromStr for PeerId {
    type Err = BadPeerId;
    fn from_str(s: &str) -> Result<PeerId, BadPeerId> {
        let upper = s.trim().to_ascii_uppercase();
        let bytes = data_encoding::BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| BadPeerId(s.to_string()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| BadPeerId(s.to_string()))?;
        Ok(PeerId(key))
    }
}

/// This node's key pair.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// Loads the identity from `dir/identity.pem`, creating it (mode 0600, atomically) the
    /// first time. Errors name the file and the way out.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Identity> {
        let path = dir.join("identity.pem");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key = std::str::from_utf8(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string()))
                    .map_err(|e| {
                        std::io::Error::other(format!(
                            "{}: not an Ed25519 key in PEM ({e}). Restore the file from a backup to keep this node's peer id; or move it aside and a new identity (a new peer id) is made",
                            path.display()
                        ))
                    })?;
                Ok(Identity { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                let pem = key
                    .to_pkcs8_pem(Default::default())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                match crate::private_file::create(&path, pem.as_bytes()) {
                    Ok(()) => Ok(Identity { key }),
                    // Another process made it meanwhile: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Identity::load_or_create(dir)
                    }
                    Err(e) => Err(std::io::Error::other(format!("{}: {e}", path.display()))),
                }
            }
            Err(e) => Err(std::io::Error::other(format!("{}: {e}", path.display()))),
        }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        PeerId(self.key.verifying_key().to_bytes())
    }

    /// Signs `msg` with this node's key (Ed25519).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(msg).to_bytes()
    }

    /// The private key in PKCS#8 DER, for the TLS certificate.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.key
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_print_and_parse() {
        let id = PeerId([7; 32]);
        let s = id.to_string();
        assert_eq!(s.len(), 52);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(s.parse::<PeerId>().unwrap(), id);
        assert_eq!(s.to_uppercase().parse::<PeerId>().unwrap(), id);
        assert!("abc".parse::<PeerId>().is_err());
        assert!(format!("{s}aa").parse::<PeerId>().is_err());
    }

    #[test]
    fn identity_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(dir.path()).unwrap().peer_id();
        let b = Identity::load_or_create(dir.path()).unwrap().peer_id();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join("identity.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_bad_key_file_is_named_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("identity.pem"), [0xff, 0xfe, 0]).unwrap();
        let e = Identity::load_or_create(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("identity.pem") && e.contains("move it aside"),
            "{e}"
        );
        std::fs::write(dir.path().join("identity.pem"), "").unwrap();
        let e = Identity::load_or_create(dir.path())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("not an Ed25519 key"), "{e}");
    }
}
