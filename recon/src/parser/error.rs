//! Parse errors: where (line, column, byte offset) and what was expected.

use std::fmt;

/// What the parser met where it expected something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// A character.
    Char(char),
    /// The end of the input.
    End,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Char(c) if c.is_control() => write!(f, "{:?}", c),
            Found::Char(c) => write!(f, "'{}'", c),
            Found::End => f.write_str("end of input"),
        }
    }
}

/// The kinds of parse error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A character (or the end) where something else was expected.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows here.
        expected: &'static str,
        /// What the input holds instead.
        found: Found,
    },
    /// A backslash escape that Recon does not define.
    #[error("invalid escape sequence '\\{0}'")]
    InvalidEscape(char),
    /// A `\u` escape naming half of a UTF-16 surrogate pair without the other half.
    #[error("unpaired UTF-16 surrogate in \\u escape")]
    UnpairedSurrogate,
    /// A number literal that does not follow the grammar, or is too long.
    #[error("malformed number: {0}")]
    BadNumber(&'static str),
    /// `%` data that is not padded, canonical base64.
    #[error("malformed base64 data (standard alphabet, '=' padded to a multiple of 4)")]
    BadBase64,
    /// Records, attributes or markup nested deeper than the parser's limit.
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
}

/// A parse error: its position (1-based line and column, in characters, and the byte
/// offset) and its kind. Displays as `line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Byte offset into the input.
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl ParseError {
    /// Builds an error at byte `offset` of `src`, working out its line and column.
    /// Only called on failure, so the scan costs nothing on the success path.
    pub(crate) fn at(src: &str, offset: usize, kind: ErrorKind) -> ParseError {
        let offset = offset.min(src.len());
        let mut cut = offset;
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        let before = &src[..cut];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            line,
            column,
            offset,
            kind,
        }
    }

    /// The error with its offset moved `by` bytes later and its line and column
    /// recomputed against `src`: for errors in a slice that starts `by` bytes into `src`.
    pub fn shifted(&self, src: &str, by: usize) -> ParseError {
        ParseError::at(src, self.offset + by, self.kind.clone())
    }
}
