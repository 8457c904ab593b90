//! Decoding and encoding one envelope.

use recon::{Item, Value};

use super::error::EnvelopeError;
use super::tag::Tag;

/// The headers of a lane envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct Headers {
    /// The node URI, such as `/unit/5`.
    pub node: recon::Text,
    /// The lane URI, such as `info`.
    pub lane: recon::Text,
    /// The link's priority, on `@link`, `@sync` and `@linked`.
    pub prio: Option<f64>,
    /// The link's rate, on `@link`, `@sync` and `@linked`.
    pub rate: Option<f64>,
}

/// A decoded WARP envelope. The body is kept as the unparsed Recon text that follows
/// the header; [`Envelope::body_value`] parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope<'a> {
    /// The envelope's kind.
    pub tag: Tag,
    /// `node`, `lane`, `prio`, `rate`; `None` for the auth envelopes.
    pub headers: Option<Headers>,
    /// The body's text, without the whitespace that separated it from the header.
    pub body: &'a str,
    /// Byte offset of the body in the frame, to place errors found in it.
    pub body_offset: usize,
}

impl<'a> Envelope<'a> {
    /// Decodes a frame. Only the header is parsed; the body is checked when it is read.
    pub fn decode(frame: &'a str) -> Result<Envelope<'a>, EnvelopeError> {
        let header = recon::peel_header(frame)?;
        let tag = Tag::from_name(&header.tag)
            .ok_or_else(|| EnvelopeError::UnknownTag(header.tag.to_string()))?;
        let headers = if tag.is_lane() {
            Some(lane_headers(tag, &header.params)?)
        } else {
            None
        };
        Ok(Envelope {
            tag,
            headers,
            body: header.body,
            body_offset: header.body_offset,
        })
    }

    /// The node URI, for lane envelopes.
    pub fn node(&self) -> Option<&str> {
        self.headers.as_ref().map(|h| h.node.as_str())
    }

    /// The lane URI, for lane envelopes.
    pub fn lane(&self) -> Option<&str> {
        self.headers.as_ref().map(|h| h.lane.as_str())
    }

    /// Parses the body: an empty body is extant. Error positions are relative to the
    /// body; [`recon::ParseError::shifted`] by `body_offset` places them in the frame.
    pub fn body_value(&self) -> Result<Value, recon::ParseError> {
        if self.body.is_empty() {
            return Ok(Value::Extant);
        }
        recon::parse(self.body)
    }

    /// Encodes an envelope in the canonical form: `@tag(node:"/n",lane:l)` then the body,
    /// after one space unless it starts with `@` (or is empty).
    pub fn encode(tag: Tag, headers: Option<&Headers>, body: &Value) -> String {
        let mut out = String::with_capacity(64);
        out.push('@');
        out.push_str(tag.as_str());
        if let Some(h) = headers {
            out.push_str("(node:");
            write_uri(&h.node, &mut out);
            out.push_str(",lane:");
            write_uri(&h.lane, &mut out);
            if tag.has_rates() {
                for (name, v) in [("prio", h.prio), ("rate", h.rate)] {
                    if let Some(v) = v {
                        out.push(',');
                        out.push_str(name);
                        out.push(':');
                        recon::write_compact(&Value::Float(v), &mut out);
                    }
                }
            }
            out.push(')');
        }
        let at = out.len();
        recon::write_compact(body, &mut out);
        if out.len() > at && !out[at..].starts_with('@') {
            out.insert(at, ' ');
        }
        out
    }
}

/// Node and lane URIs are quoted unless they are identifiers.
fn write_uri(uri: &str, out: &mut String) {
    recon::write_compact(&Value::text(uri), out);
}

/// Reads `node`, `lane`, `prio` and `rate` from the header's parameters. Node and lane
/// may also be given positionally, as the Java and JavaScript clients allow.
fn lane_headers(tag: Tag, params: &Value) -> Result<Headers, EnvelopeError> {
    let name = tag.as_str();
    let items: &[Item] = match params {
        Value::Record(r) => r.items(),
        Value::Extant => &[],
        // A single positional value can only be the node: the lane is missing.
        Value::Text(_) => return Err(missing(name, "lane")),
        _ => return Err(bad(name, "node", "text")),
    };
    let mut node = None;
    let mut lane = None;
    let mut prio = None;
    let mut rate = None;
    let mut positional = 0;
    for item in items {
        let (key, value) = match item {
            Item::Slot(Value::Text(k), v) => (k.as_str(), v),
            Item::Value(v) => {
                positional += 1;
                match positional {
                    1 => ("node", v),
                    2 => ("lane", v),
                    _ => continue,
                }
            }
            _ => continue,
        };
        match key {
            "node" => node = Some(text(name, "node", value)?),
            "lane" => lane = Some(text(name, "lane", value)?),
            "prio" if tag.has_rates() => prio = Some(number(name, "prio", value)?),
            "rate" if tag.has_rates() => rate = Some(number(name, "rate", value)?),
            _ => {}
        }
    }
    Ok(Headers {
        node: node.ok_or_else(|| missing(name, "node"))?,
        lane: lane.ok_or_else(|| missing(name, "lane"))?,
        prio,
        rate,
    })
}

fn text(tag: &'static str, header: &'static str, v: &Value) -> Result<recon::Text, EnvelopeError> {
    match v {
        Value::Text(t) => Ok(t.clone()),
        _ => Err(bad(tag, header, "text")),
    }
}

/// A finite number: a priority or rate that overflows to infinity (or is NaN) is refused,
/// since no envelope could carry it back.
fn number(tag: &'static str, header: &'static str, v: &Value) -> Result<f64, EnvelopeError> {
    let n = match v {
        Value::Float(_) | Value::Int(_) | Value::UInt(_) => v.as_f64().unwrap_or(0.0),
        _ => return Err(bad(tag, header, "a number")),
    };
    match n.is_finite() {
        true => Ok(n),
        false => Err(bad(tag, header, "a finite number")),
    }
}

fn missing(tag: &'static str, header: &'static str) -> EnvelopeError {
    EnvelopeError::MissingHeader { tag, header }
}

fn bad(tag: &'static str, header: &'static str, expected: &'static str) -> EnvelopeError {
    EnvelopeError::BadHeader {
        tag,
        header,
        expected,
    }
}
