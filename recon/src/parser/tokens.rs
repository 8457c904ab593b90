//! Lexical tokens of Recon, built with nom: identifiers, numbers, strings, data, comments.
//!
//! Each token function takes the input from the token's first character and returns the
//! rest of the input with the token's value, or the byte position (relative to the input it
//! was given) and kind of the error.

use std::borrow::Cow;
use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{char as nchar, digit1, one_of};
use nom::combinator::{opt, recognize};
use nom::sequence::{pair, tuple};
use nom::IResult;
use num_bigint::BigInt;
use num_traits::Num;

use super::error::{ErrorKind, Found};
use crate::ident::{is_ident_char, is_ident_start};
use crate::value::Value;

/// The longest integer literal accepted, in digits. Converting a decimal big integer is
/// quadratic in its length; this bound keeps every input linear.
pub const MAX_INTEGER_DIGITS: usize = 4096;

/// A token error: byte position relative to the token's input, and what went wrong.
pub type TokenError = (usize, ErrorKind);

/// A token result: the rest of the input and the token's value.
pub type TokenResult<'a, T> = Result<(&'a str, T), TokenError>;

/// Base64 as SwimOS writes it: standard alphabet, canonical `=` padding. Non-zero
/// trailing bits are tolerated, as the Java implementation does.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

fn found(rest: &str) -> Found {
    rest.chars().next().map_or(Found::End, Found::Char)
}

fn pos(input: &str, rest: &str) -> usize {
    input.len() - rest.len()
}

fn ident_raw(input: &str) -> IResult<&str, &str> {
    recognize(pair(
        nom::character::complete::satisfy(is_ident_start),
        take_while(is_ident_char),
    ))(input)
}

/// An identifier: a name start character, then name characters.
pub fn identifier(input: &str) -> TokenResult<'_, &str> {
    // Fast path: an all-ASCII identifier ends at the first byte that is neither an ASCII
    // name character nor the start of a multi-byte character.
    let bytes = input.as_bytes();
    if bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
    {
        let end = bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .unwrap_or(bytes.len());
        if end == bytes.len() || bytes[end] < 0x80 {
            return Ok((&input[end..], &input[..end]));
        }
    }
    ident_raw(input).map_err(|_| {
        (
            0,
            ErrorKind::Unexpected {
                expected: "an identifier",
                found: found(input),
            },
        )
    })
}

/// Skips spaces and tabs.
pub fn space(input: &str) -> &str {
    input.trim_start_matches([' ', '\t'])
}

/// Skips a `#` comment up to (not including) the end of its line. `input` starts at `#`.
pub fn comment(input: &str) -> &str {
    match input.find(['\n', '\r']) {
        Some(i) => &input[i..],
        None => "",
    }
}

fn decimal(input: &str) -> IResult<&str, &str> {
    recognize(tuple((
        digit1,
        opt(pair(nchar('.'), digit1)),
        opt(tuple((one_of("eE"), opt(one_of("+-")), digit1))),
    )))(input)
}

/// A number: optional `-`, then `0x` hex, `0b` binary, or a decimal integer or float.
/// Integers become `Int`, `UInt` or `BigInt`, the smallest that holds them; anything
/// with a fraction or exponent is a float. `-inf` reads as negative infinity.
pub fn number(input: &str) -> TokenResult<'_, Value> {
    let (body, negative) = match input.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (input, false),
    };
    if negative && body.starts_with("inf") && !body[3..].starts_with(is_ident_char) {
        return Ok((&body[3..], Value::Float(f64::NEG_INFINITY)));
    }
    // Fast path: a decimal integer of at most 18 digits always fits an i64.
    let bytes = body.as_bytes();
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=18).contains(&n)
        && !matches!(
            bytes.get(n),
            Some(b'.' | b'e' | b'E' | b'x' | b'X' | b'b' | b'B')
        )
    {
        let v = bytes[..n]
            .iter()
            .fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
        return Ok((&body[n..], Value::Int(if negative { -v } else { v })));
    }
    let radix_prefix = body.get(..2).map(|p| p.to_ascii_lowercase());
    let (radix, digits_from) = match radix_prefix.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ => (10, body),
    };
    if radix != 10 {
        let ok = |c: char| c.is_digit(radix);
        let (rest, digits) = take_while1::<_, _, nom::error::Error<&str>>(ok)(digits_from)
            .map_err(|_| {
                let what = if radix == 16 {
                    "expected hex digits after 0x"
                } else {
                    "expected binary digits after 0b"
                };
                (pos(input, digits_from), ErrorKind::BadNumber(what))
            })?;
        if rest.starts_with(is_ident_char) {
            return Err((pos(input, rest), ErrorKind::BadNumber("invalid digit")));
        }
        return Ok((rest, integer(digits, radix, negative).map_err(|k| (0, k))?));
    }
    let (rest, text) = decimal(body).map_err(|_| {
        (
            pos(input, body),
            ErrorKind::Unexpected {
                expected: "a digit",
                found: found(body),
            },
        )
    })?;
    if rest.starts_with(['.', 'e', 'E']) {
        let what = if rest.starts_with('.') {
            "expected digits after '.'"
        } else {
            "expected digits in the exponent"
        };
        return Err((pos(input, rest), ErrorKind::BadNumber(what)));
    }
    let value = if text.bytes().all(|b| b.is_ascii_digit()) {
        integer(text, 10, negative).map_err(|k| (0, k))?
    } else {
        let literal = &input[..input.len() - rest.len()];
        let f: f64 = literal
            .parse()
            .map_err(|_| (0, ErrorKind::BadNumber("not a float")))?;
        Value::Float(f)
    };
    Ok((rest, value))
}

fn integer(digits: &str, radix: u32, negative: bool) -> Result<Value, ErrorKind> {
    if let Ok(u) = u64::from_str_radix(digits, radix) {
        return Ok(match (negative, i64::try_from(u)) {
            (false, Ok(i)) => Value::Int(i),
            (false, Err(_)) => Value::UInt(u),
            (true, _) if u <= i64::MAX as u64 + 1 => Value::Int((u as i64).wrapping_neg()),
            (true, _) => Value::big_int(-BigInt::from(u)),
        });
    }
    if digits.len() > MAX_INTEGER_DIGITS {
        return Err(ErrorKind::BadNumber(
            "integer literal longer than 4096 digits",
        ));
    }
    let n = BigInt::from_str_radix(digits, radix)
        .map_err(|_| ErrorKind::BadNumber("invalid digits"))?;
    Ok(Value::big_int(if negative { -n } else { n }))
}

/// `%` data: base64 up to the first character outside the alphabet. `input` starts at `%`.
pub fn data(input: &str) -> TokenResult<'_, Value> {
    let body = &input[1..];
    let end = body
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
        .unwrap_or(body.len());
    let (b64, rest) = body.split_at(end);
    if b64.len() % 4 != 0 {
        return Err((1, ErrorKind::BadBase64));
    }
    let bytes = BASE64.decode(b64).map_err(|_| (1, ErrorKind::BadBase64))?;
    Ok((rest, Value::Data(Arc::from(bytes))))
}

/// A quoted string, `"..."` or `'...'`, with every Recon escape including `\uXXXX` and
/// surrogate pairs. `input` starts at the quote. Borrows when there are no escapes.
pub fn quoted(input: &str) -> TokenResult<'_, Cow<'_, str>> {
    let quote = input.as_bytes()[0];
    let body = &input[1..];
    let bytes = body.as_bytes();
    let first = bytes.iter().position(|&b| b == quote || b == b'\\');
    match first {
        None => Err((
            input.len(),
            ErrorKind::Unexpected {
                expected: "a closing quote",
                found: Found::End,
            },
        )),
        Some(i) if bytes[i] == quote => Ok((&body[i + 1..], Cow::Borrowed(&body[..i]))),
        Some(i) => {
            let mut out = String::with_capacity(body.len().min(i + 64));
            out.push_str(&body[..i]);
            let mut at = i;
            loop {
                let rest = &body[at..];
                match rest
                    .as_bytes()
                    .iter()
                    .position(|&b| b == quote || b == b'\\')
                {
                    None => {
                        return Err((
                            input.len(),
                            ErrorKind::Unexpected {
                                expected: "a closing quote",
                                found: Found::End,
                            },
                        ))
                    }
                    Some(j) if rest.as_bytes()[j] == quote => {
                        out.push_str(&rest[..j]);
                        return Ok((&rest[j + 1..], Cow::Owned(out)));
                    }
                    Some(j) => {
                        out.push_str(&rest[..j]);
                        let esc_at = at + j;
                        let used = escape(&body[esc_at..], &mut out, quote as char)
                            .map_err(|(p, k)| (1 + esc_at + p, k))?;
                        at = esc_at + used;
                    }
                }
            }
        }
    }
}

/// Decodes one escape at the start of `s` (which starts with `\`) into `out`; returns the
/// bytes consumed.
fn escape(s: &str, out: &mut String, quote: char) -> Result<usize, TokenError> {
    let c = match s[1..].chars().next() {
        Some(c) => c,
        None => {
            return Err((
                1,
                ErrorKind::Unexpected {
                    expected: "an escaped character",
                    found: Found::End,
                },
            ))
        }
    };
    let simple = match c {
        '"' | '\\' | '/' | '@' | '{' | '}' | '[' | ']' | '\'' | '$' | '`' => Some(c),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        _ if c == quote => Some(c),
        _ => None,
    };
    if let Some(ch) = simple {
        out.push(ch);
        return Ok(2);
    }
    if c != 'u' {
        return Err((0, ErrorKind::InvalidEscape(c)));
    }
    let hi = hex4(s, 2)?;
    if (0xD800..0xDC00).contains(&hi) {
        if s.get(6..8) != Some("\\u") {
            return Err((6, ErrorKind::UnpairedSurrogate));
        }
        let lo = hex4(s, 8)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err((6, ErrorKind::UnpairedSurrogate));
        }
        let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        out.push(char::from_u32(code).ok_or((2, ErrorKind::UnpairedSurrogate))?);
        return Ok(12);
    }
    out.push(char::from_u32(hi).ok_or((2, ErrorKind::UnpairedSurrogate))?);
    Ok(6)
}

fn hex4(s: &str, at: usize) -> Result<u32, TokenError> {
    let digits = s
        .get(at..at + 4)
        .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
    match digits {
        Some(d) => Ok(u32::from_str_radix(d, 16).unwrap_or(0)),
        None => Err((at, ErrorKind::InvalidEscape('u'))),
    }
}

/// A raw string in backticks: `` `text` `` or ```` ```text``` ````; inside, `` \` `` is a
/// backtick and `\\` a backslash, and any other backslash is itself. `input` starts at
/// the first backtick.
pub fn raw(input: &str) -> TokenResult<'_, Cow<'_, str>> {
    let ticks = input.bytes().take_while(|&b| b == b'`').count();
    if ticks == 2 {
        return Ok((&input[2..], Cow::Borrowed("")));
    }
    let delim = if ticks >= 3 { "```" } else { "`" };
    let body = &input[delim.len()..];
    let mut out = String::new();
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        if body[i..].starts_with(delim) {
            return Ok((&body[i + delim.len()..], Cow::Owned(out)));
        }
        if bytes[i] == b'\\' && matches!(bytes.get(i + 1), Some(b'`') | Some(b'\\')) {
            out.push(bytes[i + 1] as char);
            i += 2;
            continue;
        }
        let ch = body[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    Err((
        input.len(),
        ErrorKind::Unexpected {
            expected: "a closing backtick",
            found: Found::End,
        },
    ))
}

/// Text inside markup up to the next `[`, `]`, `{`, `}`, `@` or end, with escapes
/// resolved. `input` is the markup content at the current position.
pub fn markup_text(input: &str) -> TokenResult<'_, String> {
    let mut out = String::new();
    let mut at = 0;
    loop {
        let rest = &input[at..];
        match rest.find(['[', ']', '{', '}', '@', '\\']) {
            None => {
                out.push_str(rest);
                return Ok(("", out));
            }
            Some(j) if rest.as_bytes()[j] == b'\\' => {
                out.push_str(&rest[..j]);
                let used = escape(&rest[j..], &mut out, '"').map_err(|(p, k)| (at + j + p, k))?;
                at += j + used;
            }
            Some(j) => {
                out.push_str(&rest[..j]);
                return Ok((&rest[j..], out));
            }
        }
    }
}
