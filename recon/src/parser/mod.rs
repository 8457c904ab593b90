//! The Recon parser.
//!
//! Tokens are read by the nom parsers in [`tokens`]; structure (records, attribute
//! parameters, markup) is handled by an explicit stack of frames instead of recursion, so
//! deep input can never overflow the thread's stack: it is refused with
//! [`ErrorKind::TooDeep`] past [`MAX_DEPTH`] levels. Every byte is looked at a bounded
//! number of times, so parsing is linear in the input.

mod error;
mod header;
pub mod tokens;

pub use error::{ErrorKind, Found, ParseError};
pub use header::{peel_header, Header};

use crate::record::{Item, Record};
use crate::value::{text_of, Text, Value};

/// How deeply records, attribute parameters and markup may nest by default.
pub const MAX_DEPTH: usize = 256;

/// Parses a whole Recon document. An empty document (or one holding only comments) is
/// [`Value::Absent`]; a document of several items is the record of them.
pub fn parse(src: &str) -> Result<Value, ParseError> {
    Parser::new(src).parse_document()
}

/// A configurable Recon parser.
#[derive(Debug)]
pub struct Parser<'a> {
    src: &'a str,
    pos: usize,
    max_depth: usize,
    /// Recently made short texts: WARP bodies repeat their keys and identifiers, and
    /// cloning a small text is cheaper than building it again.
    /// Only documents of [`TEXT_CACHE_MIN`] bytes or more use it: for a small frame, making
    /// the cache would cost more than it saves.
    texts: Option<Box<[Option<Text>; TEXT_CACHE]>>,
}

/// Entries in the parser's text cache.
const TEXT_CACHE: usize = 64;

/// Smallest document that gets a text cache.
const TEXT_CACHE_MIN: usize = 4096;

/// What closes a frame, and so what kind of frame it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    /// The whole document: closed by the end of input.
    End,
    /// A record `{...}`.
    Brace,
    /// Attribute parameters `(...)`.
    Paren,
    /// Markup `[...]`.
    Bracket,
}

impl Close {
    fn char(self) -> &'static str {
        match self {
            Close::End => "end of input",
            Close::Brace => "'}'",
            Close::Paren => "')'",
            Close::Bracket => "']'",
        }
    }
}

/// The item being assembled in a block: a run of attributes and primary values written
/// without separators (`@a(1) {x:2} @b`), and the slot key if a `:` has been seen.
#[derive(Debug, Default)]
struct Seq {
    /// The only element so far, when it is a primary value.
    single: Option<Value>,
    /// The record once the run holds an attribute or more than one element.
    items: Option<Vec<Item>>,
    /// Whether the last element was a primary value (two may not touch).
    last_primary: bool,
}

impl Seq {
    fn is_empty(&self) -> bool {
        self.single.is_none() && self.items.is_none()
    }

    fn items_mut(&mut self) -> &mut Vec<Item> {
        if self.items.is_none() {
            let mut items = Vec::new();
            if let Some(v) = self.single.take() {
                splice(&mut items, v);
            }
            self.items = Some(items);
        }
        self.items.get_or_insert_with(Vec::new)
    }

    fn push_attr(&mut self, name: Text, value: Value) {
        self.items_mut().push(Item::Attr(name, value));
        self.last_primary = false;
    }

    #[inline(always)]
    fn push_primary(&mut self, value: Value) {
        if self.is_empty() {
            self.single = Some(value);
        } else {
            splice(self.items_mut(), value);
        }
        self.last_primary = true;
    }

    fn finish(&mut self) -> Option<Value> {
        self.last_primary = false;
        if let Some(v) = self.single.take() {
            return Some(v);
        }
        self.items
            .take()
            .map(|items| Value::Record(Record::from_vec_unchecked(items)))
    }
}

/// Adds a primary value to a record being built: a record literal's items are spliced in
/// (`@a{x:1}` is `{@a,x:1}`), any other value is one item.
fn splice(items: &mut Vec<Item>, value: Value) {
    match value {
        Value::Record(r) if items.is_empty() => *items = r.into_items(),
        Value::Record(r) => items.append(&mut r.into_items()),
        other => items.push(Item::Value(other)),
    }
}

/// One level of structure being parsed.
#[derive(Debug)]
struct Frame {
    close: Close,
    items: Vec<Item>,
    seq: Seq,
    key: Option<Value>,
    /// Whether an item has been started since the last separator.
    in_item: bool,
    /// An attribute whose `(...)` parameters are being parsed by the child frame.
    pending_attr: Option<Text>,
    /// In markup: the attribute record being built (`@em(..)[text]`), awaiting an
    /// optional `{...}` or `[...]` right after it.
    markup_attr: Option<Vec<Item>>,
    /// In markup: whether a child frame's items go into `markup_attr`.
    markup_attr_body: bool,
}

impl Frame {
    fn new(close: Close, items: Vec<Item>) -> Frame {
        Frame {
            close,
            items,
            seq: Seq::default(),
            key: None,
            in_item: false,
            pending_attr: None,
            markup_attr: None,
            markup_attr_body: false,
        }
    }

    #[inline(always)]
    fn finish_item(&mut self) {
        let value = self.seq.finish();
        match (self.key.take(), value) {
            (Some(k), v) => self.items.push(Item::Slot(k, v.unwrap_or(Value::Extant))),
            (None, Some(v)) => self.items.push(Item::Value(v)),
            (None, None) => {}
        }
        self.in_item = false;
    }

    /// The frame's value once closed. Its items are moved into an exactly sized vector
    /// and the working buffer is handed back for reuse, so a record costs one allocation
    /// for its items however it grew.
    fn into_value(mut self, pool: &mut Vec<Vec<Item>>) -> Value {
        let exact = |items: &mut Vec<Item>| {
            let mut exact = Vec::with_capacity(items.len());
            exact.append(items);
            Value::Record(Record::from_vec_unchecked(exact))
        };
        let value = match (self.close, self.items.len()) {
            (Close::End | Close::Paren, 1) if matches!(self.items[0], Item::Value(_)) => {
                match self.items.pop() {
                    Some(Item::Value(v)) => v,
                    _ => Value::Extant,
                }
            }
            (Close::End, 0) => Value::Absent,
            (Close::Paren, 0) => Value::Extant,
            _ => exact(&mut self.items),
        };
        pool.push(self.items);
        value
    }
}

/// What a step of the machine did.
enum Step {
    /// Keep going in the current top frame.
    Continue,
    /// Open a child frame closed by the given delimiter.
    Push(Close),
    /// Close the top frame.
    Pop,
}

impl<'a> Parser<'a> {
    /// A parser over `src` with the default depth limit.
    pub fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            pos: 0,
            max_depth: MAX_DEPTH,
            texts: (src.len() >= TEXT_CACHE_MIN).then(|| Box::new([const { None }; TEXT_CACHE])),
        }
    }

    /// Sets how deeply structure may nest.
    pub fn max_depth(mut self, depth: usize) -> Parser<'a> {
        self.max_depth = depth.max(1);
        self
    }

    /// Parses the input as a whole document.
    pub fn parse_document(mut self) -> Result<Value, ParseError> {
        self.run(Close::End)
    }

    /// Parses attribute parameters starting just after `(` at byte `pos`; returns their
    /// value and the position just after the closing `)`.
    pub(crate) fn parse_params(mut self, pos: usize) -> Result<(Value, usize), ParseError> {
        self.pos = pos;
        let v = self.run(Close::Paren)?;
        Ok((v, self.pos))
    }

    /// The text for `s`, from the cache when it was made recently.
    fn text(&mut self, s: &str) -> Text {
        let b = s.as_bytes();
        let Some(texts) = self.texts.as_mut() else {
            return text_of(s);
        };
        if b.is_empty() || b.len() > 23 {
            return text_of(s);
        }
        let slot = (b.len() * 31 + b[0] as usize * 7 + b[b.len() - 1] as usize) % TEXT_CACHE;
        match &texts[slot] {
            Some(t) if t.as_str() == s => t.clone(),
            _ => {
                let t = text_of(s);
                texts[slot] = Some(t.clone());
                t
            }
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn error(&self, at: usize, kind: ErrorKind) -> ParseError {
        ParseError::at(self.src, at, kind)
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        let found = self.rest().chars().next().map_or(Found::End, Found::Char);
        self.error(self.pos, ErrorKind::Unexpected { expected, found })
    }

    fn token<T>(
        &mut self,
        f: impl FnOnce(&'a str) -> tokens::TokenResult<'a, T>,
    ) -> Result<T, ParseError> {
        let start = self.pos;
        match f(self.rest()) {
            Ok((rest, v)) => {
                self.pos = self.src.len() - rest.len();
                Ok(v)
            }
            Err((at, kind)) => Err(self.error(start + at, kind)),
        }
    }

    fn run(&mut self, bottom: Close) -> Result<Value, ParseError> {
        let mut pool: Vec<Vec<Item>> = Vec::new();
        let mut stack = vec![Frame::new(bottom, Vec::new())];
        loop {
            let top = stack
                .last_mut()
                .expect("the stack always holds the bottom frame");
            let step = if top.close == Close::Bracket {
                self.step_markup(top)?
            } else {
                self.step_block(top)?
            };
            match step {
                Step::Continue => {}
                Step::Push(close) => {
                    if stack.len() >= self.max_depth {
                        return Err(self.error(self.pos, ErrorKind::TooDeep(self.max_depth)));
                    }
                    let items = pool.pop().unwrap_or_default();
                    stack.push(Frame::new(close, items));
                }
                Step::Pop => {
                    let frame = stack.pop().expect("a frame to pop");
                    let close = frame.close;
                    let value = frame.into_value(&mut pool);
                    match stack.last_mut() {
                        None => return Ok(value),
                        Some(parent) => self.child_done(parent, close, value)?,
                    }
                }
            }
        }
    }

    /// Delivers a closed child's value to its parent frame.
    fn child_done(
        &mut self,
        parent: &mut Frame,
        close: Close,
        value: Value,
    ) -> Result<(), ParseError> {
        if parent.close == Close::Bracket {
            if close == Close::Paren {
                let name = parent.pending_attr.take().unwrap_or_default();
                parent.markup_attr = Some(vec![Item::Attr(name, value)]);
                self.markup_attr_tail(parent);
            } else if parent.markup_attr_body {
                parent.markup_attr_body = false;
                let mut items = parent.markup_attr.take().unwrap_or_default();
                splice(&mut items, value);
                parent
                    .items
                    .push(Item::Value(Value::Record(Record::from_vec_unchecked(
                        items,
                    ))));
            } else {
                splice(&mut parent.items, value);
            }
            return Ok(());
        }
        match close {
            Close::Paren => {
                let name = parent.pending_attr.take().unwrap_or_default();
                parent.seq.push_attr(name, value);
            }
            _ => parent.seq.push_primary(value),
        }
        Ok(())
    }

    /// After a markup attribute: an immediately following `{` or `[` is its body;
    /// otherwise the attribute stands alone as a record.
    fn markup_attr_tail(&mut self, frame: &mut Frame) {
        match self.peek() {
            Some(b'{') | Some(b'[') => frame.markup_attr_body = true,
            _ => {
                let items = frame.markup_attr.take().unwrap_or_default();
                frame
                    .items
                    .push(Item::Value(Value::Record(Record::from_vec_unchecked(
                        items,
                    ))));
            }
        }
    }

    fn attr_name(&mut self) -> Result<Text, ParseError> {
        self.pos += 1; // '@'
        match self.peek() {
            Some(b'"') | Some(b'\'') => self.token(tokens::quoted).map(Text::new),
            _ => self
                .token(tokens::identifier)
                .map(Text::new)
                .map_err(|_| self.unexpected("an attribute name (identifier or string) after '@'")),
        }
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - tokens::space(rest).len();
    }

    /// Skips whitespace, newlines and comments between items.
    fn skip_blank(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'#') => {
                    let rest = self.rest();
                    self.pos += rest.len() - tokens::comment(rest).len();
                }
                _ => return,
            }
        }
    }

    fn step_block(&mut self, f: &mut Frame) -> Result<Step, ParseError> {
        'items: loop {
            if !f.in_item {
                self.skip_blank();
                match self.peek() {
                    None if f.close == Close::End => return Ok(Step::Pop),
                    None => return Err(self.unexpected(f.close.char())),
                    Some(b'}') if f.close == Close::Brace => {
                        self.pos += 1;
                        return Ok(Step::Pop);
                    }
                    Some(b')') if f.close == Close::Paren => {
                        self.pos += 1;
                        return Ok(Step::Pop);
                    }
                    Some(b',' | b';') => {
                        // An empty item between separators is extant: `{1,,2}`.
                        self.pos += 1;
                        f.items.push(Item::Value(Value::Extant));
                        continue 'items;
                    }
                    Some(b':') => return Err(self.unexpected("a slot key before ':'")),
                    _ => f.in_item = true,
                }
            }
            loop {
                self.skip_space();
                let Some(b) = self.peek() else {
                    f.finish_item();
                    return if f.close == Close::End {
                        Ok(Step::Pop)
                    } else {
                        Err(self.unexpected(f.close.char()))
                    };
                };
                let starts_primary = matches!(
                    b,
                    b'{' | b'[' | b'"' | b'\'' | b'`' | b'%' | b'-' | b'0'..=b'9'
                ) || (b >= 0x80 || b.is_ascii_alphabetic() || b == b'_');
                if starts_primary && f.seq.last_primary {
                    return Err(self.unexpected(match f.close {
                        Close::End => "',', ';' or a newline between items",
                        Close::Brace => "',', ';', a newline or '}'",
                        _ => "',', ';', a newline or ')'",
                    }));
                }
                match b {
                    b'@' => {
                        let name = self.attr_name()?;
                        if self.peek() == Some(b'(') {
                            self.pos += 1;
                            f.pending_attr = Some(name);
                            return Ok(Step::Push(Close::Paren));
                        }
                        f.seq.push_attr(name, Value::Extant);
                    }
                    b'{' => {
                        self.pos += 1;
                        return Ok(Step::Push(Close::Brace));
                    }
                    b'[' => {
                        self.pos += 1;
                        return Ok(Step::Push(Close::Bracket));
                    }
                    b'"' | b'\'' => {
                        let s = self.token(tokens::quoted)?;
                        let t = self.text(&s);
                        f.seq.push_primary(Value::Text(t));
                    }
                    b'`' => {
                        let s = self.token(tokens::raw)?;
                        let t = self.text(&s);
                        f.seq.push_primary(Value::Text(t));
                    }
                    b'%' => {
                        let v = self.token(tokens::data)?;
                        f.seq.push_primary(v);
                    }
                    b'-' | b'0'..=b'9' => {
                        let v = self.token(tokens::number)?;
                        f.seq.push_primary(v);
                    }
                    b':' if f.key.is_none() && !f.seq.is_empty() => {
                        self.pos += 1;
                        f.key = f.seq.finish();
                    }
                    b',' | b';' => {
                        self.pos += 1;
                        f.finish_item();
                        continue 'items;
                    }
                    b'\n' | b'\r' | b'#' => {
                        f.finish_item();
                        continue 'items;
                    }
                    b'}' if f.close == Close::Brace => {
                        self.pos += 1;
                        f.finish_item();
                        return Ok(Step::Pop);
                    }
                    b')' if f.close == Close::Paren => {
                        self.pos += 1;
                        f.finish_item();
                        return Ok(Step::Pop);
                    }
                    _ if starts_primary => {
                        let start = self.pos;
                        let id = self
                            .token(tokens::identifier)
                            .map_err(|_| self.unexpected("a value"))?;
                        let v = match id {
                            "true" => Value::Bool(true),
                            "false" => Value::Bool(false),
                            _ => Value::Text(self.text(id)),
                        };
                        debug_assert!(self.pos > start);
                        f.seq.push_primary(v);
                    }
                    _ => {
                        return Err(self.unexpected(match f.close {
                            Close::End => "a value, ',', ';' or a newline",
                            Close::Brace => "a value, ',', ';', a newline or '}'",
                            Close::Paren => "a value, ',', ';', a newline or ')'",
                            Close::Bracket => "a value",
                        }))
                    }
                }
            }
        }
    }

    fn step_markup(&mut self, f: &mut Frame) -> Result<Step, ParseError> {
        if f.markup_attr_body {
            // The attribute's body follows at once: `@em[world]` or `@answer{42}`.
            let close = if self.peek() == Some(b'{') {
                Close::Brace
            } else {
                Close::Bracket
            };
            self.pos += 1;
            return Ok(Step::Push(close));
        }
        let text = self.token(tokens::markup_text)?;
        if !text.is_empty() {
            f.items.push(Item::Value(Value::Text(Text::from(text))));
        }
        match self.peek() {
            None => Err(self.unexpected("']' closing markup")),
            Some(b']') => {
                self.pos += 1;
                Ok(Step::Pop)
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Step::Push(Close::Bracket))
            }
            Some(b'{') => {
                self.pos += 1;
                Ok(Step::Push(Close::Brace))
            }
            Some(b'@') => {
                let name = self.attr_name()?;
                if self.peek() == Some(b'(') {
                    self.pos += 1;
                    f.pending_attr = Some(name);
                    return Ok(Step::Push(Close::Paren));
                }
                f.markup_attr = Some(vec![Item::Attr(name, Value::Extant)]);
                self.markup_attr_tail(f);
                Ok(Step::Continue)
            }
            _ => Err(self.unexpected("markup text, '[', ']', '{' or '@'")),
        }
    }
}

impl std::str::FromStr for Value {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Value, ParseError> {
        parse(s)
    }
}
