//! The Recon → JSON mapping used by `warp recon --json`, and the JSON → Recon mapping of
//! `warp recon --from json` ([`from_json`]).
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

use crate::record::{Item, Record};
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

/// Maps JSON to Recon: `null` is extant; booleans, numbers and strings are themselves (an
/// integer stays an integer); an array is a record of plain values; an object is a record
/// whose members are slots with text keys, a key `"@name"` becoming an attribute — so that
/// `from_json(&to_json(v))` gives back a record's attributes and text-keyed slots.
pub fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Extant,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, Some(u), _) => Value::UInt(u),
            (_, _, f) => Value::Float(f.unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::text(s.as_str()),
        Json::Array(items) => {
            let mut r = Record::new();
            for v in items {
                r.push(Item::Value(from_json(v)));
            }
            Value::Record(r)
        }
        Json::Object(map) => {
            let mut r = Record::new();
            for (k, v) in map {
                match k.strip_prefix('@') {
                    Some(name) if !name.is_empty() => r.push(Item::Attr(name.into(), from_json(v))),
                    _ => r.push(Item::Slot(Value::text(k.as_str()), from_json(v))),
                }
            }
            Value::Record(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_as_the_records_it_maps_from() {
        let json: Json =
            serde_json::from_str(r#"{"a": [1, 2, {"b": null}], "c": "x", "d": 1.5}"#).unwrap();
        let v = from_json(&json);
        assert_eq!(crate::to_compact_string(&v), r#"{a:{1,2,{b:}},c:x,d:1.5}"#);
        assert_eq!(to_json(&v), json);
        let tagged = crate::parse("@point{x:1,y:2}").unwrap();
        assert_eq!(from_json(&to_json(&tagged)), tagged);
    }
}
