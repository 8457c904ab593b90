//! The Recon → JSON mapping used by `warp recon --json`.
//!
//! | Recon | JSON |
//! |---|---|
//! | absent, extant | `null` |
//! | bool | boolean |
//! | integer that fits i64/u64, float | number (non-finite floats: `null`) |
//! | integer beyond u64/i64 | string of its decimal digits |
//! | text | string |
//! | data | string, standard base64 |
//! | record of plain values only | array |
//! | any other record | object: `"@name"` for an attribute, the key for a slot whose key is text, the compact Recon of any other key, and `"$i"` (the item's index) for a plain value |
//!
//! Later duplicate keys replace earlier ones, as JSON objects cannot repeat a key. Objects
//! keep the record's item order when serde_json's `preserve_order` feature is on (the
//! `warp` binary turns it on); without it serde_json sorts keys.

use serde_json::{Map, Number, Value as Json};

use crate::record::Item;
use crate::value::Value;
use crate::writer::to_compact_string;

/// Maps a Recon value to JSON as the module documentation describes.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Absent | Value::Extant => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::UInt(u) => Json::Number((*u).into()),
        Value::BigInt(b) => Json::String(b.to_string()),
        Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(t) => Json::String(t.to_string()),
        Value::Data(d) => {
            use base64::Engine;
            Json::String(base64::engine::general_purpose::STANDARD.encode(d))
        }
        Value::Record(r) => {
            if r.iter().all(|i| matches!(i, Item::Value(_))) {
                return Json::Array(r.iter().map(|i| to_json(i.value_ref())).collect());
            }
            let mut map = Map::new();
            for (n, item) in r.iter().enumerate() {
                let (key, v) = match item {
                    Item::Attr(name, v) => (format!("@{name}"), v),
                    Item::Slot(Value::Text(k), v) => (k.to_string(), v),
                    Item::Slot(k, v) => (to_compact_string(k), v),
                    Item::Value(v) => (format!("${n}"), v),
                };
                map.insert(key, to_json(v));
            }
            Json::Object(map)
        }
    }
}
