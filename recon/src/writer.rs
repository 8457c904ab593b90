//! The Recon writers: compact (canonical, what WARP frames carry) and pretty (indented).
//!
//! Text is written bare when it is an identifier (other than `true` and `false`), else
//! quoted with `"`, escaping `"`, `\` and control characters (`\n`, `\u0001`, ...). Floats
//! always carry a `.` or an exponent so they read back as floats. A record whose items
//! start with attributes is written in the attributed form `@tag(params) value` or
//! `@tag(params){items}`; attributes may stand anywhere (`{a}@sig`), as Recon allows.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::ident::is_identifier;
use crate::record::{Item, Record};
use crate::value::Value;

/// Width the pretty writer keeps a record on one line within.
const PRETTY_WIDTH: usize = 80;

/// Writes `value` as compact Recon.
pub fn to_compact_string(value: &Value) -> String {
    let mut out = String::new();
    write_compact(value, &mut out);
    out
}

/// Appends `value` as compact Recon to `out`.
pub fn write_compact(value: &Value, out: &mut String) {
    Writer {
        out,
        pretty: false,
        indent: 0,
        limit: usize::MAX,
    }
    .value(value);
}

/// Writes `value` as pretty Recon: records that do not fit on a line are broken into one
/// item per line, indented by two spaces.
pub fn to_pretty_string(value: &Value) -> String {
    let mut out = String::new();
    Writer {
        out: &mut out,
        pretty: true,
        indent: 0,
        limit: usize::MAX,
    }
    .value(value);
    out
}

struct Writer<'o> {
    out: &'o mut String,
    pretty: bool,
    indent: usize,
    /// Stop writing (for measuring) once the output passes this length.
    limit: usize,
}

/// `true` if `value` written compactly takes at most `width` bytes. Stops early.
fn fits(value: &Value, width: usize) -> bool {
    let mut s = String::new();
    Writer {
        out: &mut s,
        pretty: false,
        indent: 0,
        limit: width,
    }
    .value(value);
    s.len() <= width
}

impl Writer<'_> {
    fn full(&self) -> bool {
        self.out.len() > self.limit
    }

    fn value(&mut self, value: &Value) {
        if self.full() {
            return;
        }
        match value {
            Value::Absent | Value::Extant => {}
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(self.out, "{i}");
            }
            Value::UInt(u) => {
                let _ = write!(self.out, "{u}");
            }
            Value::BigInt(b) => {
                let _ = write!(self.out, "{b}");
            }
            Value::Float(f) => write_float(*f, self.out),
            Value::Text(t) => write_text(t, self.out),
            Value::Data(d) => {
                self.out.push('%');
                STANDARD.encode_string(d, self.out);
            }
            Value::Record(r) => self.record(r),
        }
    }

    fn record(&mut self, r: &Record) {
        let items = r.items();
        if !items.iter().any(Item::is_attr) {
            self.block(items);
            return;
        }
        let mut i = 0;
        let mut after_attr = false;
        while i < items.len() {
            if let Item::Attr(name, v) = &items[i] {
                self.attr(name, v);
                after_attr = true;
                i += 1;
                continue;
            }
            let end = items[i..]
                .iter()
                .position(Item::is_attr)
                .map_or(items.len(), |p| i + p);
            let run = &items[i..end];
            match run {
                [Item::Value(v)] if !matches!(v, Value::Record(_) | Value::Extant) => {
                    if after_attr {
                        self.out.push(' ');
                    }
                    self.value(v);
                }
                _ => self.block(run),
            }
            after_attr = false;
            i = end;
        }
    }

    fn attr(&mut self, name: &str, v: &Value) {
        self.out.push('@');
        write_text(name, self.out);
        match v {
            Value::Extant | Value::Absent => {}
            // Attributes cannot stand as items of a block: a record holding any is
            // written as one value in its attributed form, `@a(@b(1)@c)`.
            Value::Record(r) if r.iter().any(Item::is_attr) => {
                self.out.push('(');
                let pretty = std::mem::replace(&mut self.pretty, false);
                self.record(r);
                self.pretty = pretty;
                self.out.push(')');
            }
            Value::Record(r) if r.len() >= 2 || matches!(r.items(), [Item::Slot(..)]) => {
                self.out.push('(');
                let pretty = std::mem::replace(&mut self.pretty, false);
                self.items_inline(r.items());
                self.pretty = pretty;
                self.out.push(')');
            }
            Value::Record(r) => {
                self.out.push('(');
                let pretty = std::mem::replace(&mut self.pretty, false);
                self.block(r.items());
                self.pretty = pretty;
                self.out.push(')');
            }
            other => {
                self.out.push('(');
                self.value(other);
                self.out.push(')');
            }
        }
    }

    /// Items separated by commas; a trailing extant item gets a trailing comma so that
    /// it is not lost (`{1,,}` is `{1, extant}`).
    fn items_inline(&mut self, items: &[Item]) {
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            self.item(item);
        }
        if matches!(items.last(), Some(Item::Value(Value::Extant))) {
            self.out.push(',');
        }
    }

    fn block(&mut self, items: &[Item]) {
        if self.pretty && !items.is_empty() {
            let r = Value::Record(Record::from_vec_unchecked(items.to_vec()));
            let room = PRETTY_WIDTH.saturating_sub(self.indent);
            if !fits(&r, room) {
                self.block_lines(items);
                return;
            }
            let pretty = std::mem::replace(&mut self.pretty, false);
            self.out.push('{');
            self.items_inline(items);
            self.out.push('}');
            self.pretty = pretty;
            return;
        }
        self.out.push('{');
        self.items_inline(items);
        self.out.push('}');
    }

    fn block_lines(&mut self, items: &[Item]) {
        self.out.push('{');
        self.indent += 2;
        for item in items {
            self.out.push('\n');
            for _ in 0..self.indent {
                self.out.push(' ');
            }
            if matches!(item, Item::Value(Value::Extant)) {
                self.out.push(',');
            } else {
                self.item(item);
            }
        }
        self.indent -= 2;
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push(' ');
        }
        self.out.push('}');
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Value(v) => self.value(v),
            Item::Attr(name, v) => self.attr(name, v),
            Item::Slot(k, v) => {
                self.value(k);
                self.out.push(':');
                if self.pretty && !v.is_extant() {
                    self.out.push(' ');
                }
                self.value(v);
            }
        }
    }
}

/// Writes a float so it reads back as the same float: shortest round-trip digits, always
/// with a `.` or exponent. Non-finite values have no literal: `nan`, `inf`, `-inf`.
fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        let mut buf = ryu::Buffer::new();
        out.push_str(buf.format_finite(f));
    }
}

/// Writes text bare if it is an identifier, else quoted and escaped.
fn write_text(s: &str, out: &mut String) {
    if is_identifier(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

impl std::fmt::Display for Value {
    /// Prints compact Recon; with the alternate flag (`{:#}`), pretty Recon.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if f.alternate() {
            to_pretty_string(self)
        } else {
            to_compact_string(self)
        };
        f.write_str(&s)
    }
}
