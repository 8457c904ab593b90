//! Paths inside an offer. A path from a peer is never trusted: only relative paths of
//! normal components are accepted, so that joining one to the download directory can
//! only name something inside it.

/// The longest path (Linux's `PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// The longest component (Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;

/// Why a path is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Nothing at all.
    #[error("empty path")]
    Empty,
    /// Over [`MAX_PATH`] bytes.
    #[error("path of {0} bytes is over the {MAX_PATH}-byte limit")]
    TooLong(usize),
    /// Starts at the root.
    #[error("{0:?} is absolute")]
    Absolute(String),
    /// A `..` component.
    #[error("{0:?} climbs out of its directory with '..'")]
    Parent(String),
    /// An empty or `.` component (`a//b`, `./a`, `a/`).
    #[error("{0:?} has an empty or '.' component")]
    NotNormal(String),
    /// A component over [`MAX_NAME`] bytes.
    #[error("{0:?} has a component over {MAX_NAME} bytes")]
    NameTooLong(String),
    /// A control character, NUL or a backslash.
    #[error("{0:?} holds a control character or a backslash")]
    BadCharacter(String),
    /// A Windows drive prefix (`C:`).
    #[error("{0:?} starts with a drive prefix")]
    Drive(String),
    /// An invisible formatting character, such as a bidirectional override that makes
    /// `evil\u{202e}txt.exe` show as `evilexe.txt`.
    #[error("{0:?} holds an invisible formatting character (such as a bidi override)")]
    Format(String),
}

/// Whether `c` is a Unicode format character (general category Cf): invisible, and able
/// to make a name look like another (bidi overrides and isolates, zero-width characters).
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// A checked relative path: `/`-separated normal components.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// Checks `s`.
    pub fn parse(s: &str) -> Result<RelPath, PathError> {
        let owned = || s.to_string();
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.len() > MAX_PATH {
            return Err(PathError::TooLong(s.len()));
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(owned()));
        }
        if s.chars().any(|c| c.is_control() || c == '\\') {
            return Err(PathError::BadCharacter(owned()));
        }
        if s.chars().any(is_format) {
            return Err(PathError::Format(owned()));
        }
        let b = s.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return Err(PathError::Drive(owned()));
        }
        for part in s.split('/') {
            match part {
                ".." => return Err(PathError::Parent(owned())),
                "" | "." => return Err(PathError::NotNormal(owned())),
                p if p.len() > MAX_NAME => return Err(PathError::NameTooLong(owned())),
                _ => {}
            }
        }
        Ok(RelPath(s.to_string()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normal_relative_paths_pass() {
        for ok in [
            "a",
            "a/b.txt",
            "dir/sub/file",
            "ünï/ço.de",
            "a..b",
            ".hidden/x",
        ] {
            assert!(RelPath::parse(ok).is_ok(), "{ok}");
        }
        let bad = [
            ("", PathError::Empty),
            ("/etc/passwd", PathError::Absolute("/etc/passwd".into())),
            ("../x", PathError::Parent("../x".into())),
            ("a/../../x", PathError::Parent("a/../../x".into())),
            ("a//b", PathError::NotNormal("a//b".into())),
            ("./a", PathError::NotNormal("./a".into())),
            ("a/", PathError::NotNormal("a/".into())),
            ("a\\b", PathError::BadCharacter("a\\b".into())),
            ("a\nb", PathError::BadCharacter("a\nb".into())),
            ("a\0b", PathError::BadCharacter("a\0b".into())),
            ("C:/x", PathError::Drive("C:/x".into())),
            (
                "evil\u{202e}txt.exe",
                PathError::Format("evil\u{202e}txt.exe".into()),
            ),
            ("a\u{200b}b", PathError::Format("a\u{200b}b".into())),
            ("d/\u{2066}x", PathError::Format("d/\u{2066}x".into())),
        ];
        for (s, e) in bad {
            assert_eq!(RelPath::parse(s), Err(e), "{s:?}");
        }
        assert!(matches!(
            RelPath::parse(&"a/".repeat(2049)),
            Err(PathError::TooLong(_))
        ));
        assert!(matches!(
            RelPath::parse(&"n".repeat(256)),
            Err(PathError::NameTooLong(_))
        ));
    }
}
