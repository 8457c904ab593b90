//! Recon, the data language of SwimOS WARP frames.
//!
//! ```
//! use recon::{Record, Value};
//!
//! let v: Value = "@point{x:1,y:2.5}".parse().unwrap();
//! assert_eq!(v.tag(), Some("point"));
//! assert_eq!(v.get("y"), Some(&Value::Float(2.5)));
//! assert_eq!(v.to_string(), "@point{x:1,y:2.5}");
//!
//! let built = Record::new().with_attr("point", Value::Extant).with_slot("x", 1).with_slot("y", 2.5);
//! assert_eq!(Value::Record(built), v);
//! ```
//!
//! * [`Value`], [`Record`], [`Item`]: the data model. Cheap to clone.
//! * [`parse`] / [`Parser`]: the whole grammar, iterative (no stack overflow on deep input),
//!   linear in the input; errors carry line and column.
//! * [`peel_header`]: a document's first attribute, with the rest left unparsed.
//! * [`to_compact_string`], [`to_pretty_string`]: the writers. `parse(&to_compact_string(v)) == v`.
//! * [`to_string`], [`from_str`], [`to_value`], [`from_value`]: serde, as in serde_json.
//! * [`to_json`]: the documented Recon→JSON mapping.
//!
//! Non-finite floats have no Recon literal: they print as `nan`, `inf` and `-inf`, of
//! which only `-inf` reads back as a float (the other two are identifiers, so text).

mod de;
mod ident;
mod json;
mod parser;
mod record;
mod ser;
mod value;
mod writer;

pub use de::{from_str, from_value, DeError};
pub use ident::{is_ident_char, is_ident_start, is_identifier};
pub use json::{from_json, to_json};
pub use parser::tokens::MAX_INTEGER_DIGITS;
pub use parser::{parse, peel_header, ErrorKind, Found, Header, ParseError, Parser, MAX_DEPTH};
pub use record::{Item, Record};
pub use ser::{to_string, to_value, SerError};
pub use smol_str::SmolStr;
pub use value::{Blob, Text, Value};
pub use writer::{to_compact_string, to_pretty_string, write_compact};
