//! The header peeler: reads a document's first attribute and hands back the rest of the
//! input unparsed. The WARP link hub routes frames on their headers alone this way, and
//! parses a body only when a lane needs it.

use super::error::{ErrorKind, Found, ParseError};
use super::{tokens, Parser};
use crate::value::{Text, Value};

/// The first attribute of a document and the unparsed text after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Header<'a> {
    /// The attribute's name: for a WARP envelope its tag (`link`, `event`, ...).
    pub tag: Text,
    /// The attribute's parameters: extant for `@tag` and `@tag()`, the single value for
    /// `@tag(x)`, otherwise the record of the items (`node:..., lane:...`).
    pub params: Value,
    /// The rest of the input after the attribute and any whitespace: the body.
    pub body: &'a str,
    /// The byte offset of `body` in the input, to place errors found in it later.
    pub body_offset: usize,
}

/// Reads the first attribute of `src` and returns it with the rest of the input, without
/// parsing that rest. Leading whitespace is skipped; the input must then start with `@`.
pub fn peel_header(src: &str) -> Result<Header<'_>, ParseError> {
    let start = src.len() - src.trim_start_matches([' ', '\t', '\n', '\r']).len();
    let rest = &src[start..];
    if !rest.starts_with('@') {
        let found = rest.chars().next().map_or(Found::End, Found::Char);
        return Err(ParseError::at(
            src,
            start,
            ErrorKind::Unexpected {
                expected: "'@' starting a header attribute",
                found,
            },
        ));
    }
    let name_at = start + 1;
    let name_src = &src[name_at..];
    let named = match name_src.as_bytes().first() {
        Some(b'"') | Some(b'\'') => tokens::quoted(name_src).map(|(r, s)| (r, Text::new(s))),
        _ => tokens::identifier(name_src).map(|(r, s)| (r, Text::new(s))),
    };
    let (after_name, tag) = named.map_err(|(at, kind)| ParseError::at(src, name_at + at, kind))?;
    let mut pos = src.len() - after_name.len();
    let params = if after_name.starts_with('(') {
        let (v, end) = Parser::new(src).parse_params(pos + 1)?;
        pos = end;
        v
    } else {
        Value::Extant
    };
    let body = src[pos..].trim_start_matches([' ', '\t', '\n', '\r']);
    Ok(Header {
        tag,
        params,
        body,
        body_offset: src.len() - body.len(),
    })
}
