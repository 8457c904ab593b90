//! serde serialisation into Recon values.
//!
//! The mapping, chosen so that a Rust type reads as the Recon a SwimOS peer writes:
//!
//! | Rust | Recon |
//! |---|---|
//! | `bool`, integers, floats, `char`, `String` | bool, number, text |
//! | bytes (`serde_bytes`) | `%` data |
//! | `None`, `()`, unit struct | extant (a slot `a:` with nothing after the colon) |
//! | `Some(x)`, newtype struct `N(x)` | `x` |
//! | sequence, tuple, tuple struct | `{a,b,c}` |
//! | map | `{k:v,...}` |
//! | struct | `{field:value,...}` |
//! | unit variant `E::A` | `@A` |
//! | newtype variant `E::A(x)` | `@A x`, or `@A{...}` when `x` is a record (its items follow the attribute) |
//! | tuple variant `E::A(x, y)` | `@A{x,y}` |
//! | struct variant `E::A { f: x }` | `@A{f:x}` |

use serde::ser::{self, Serialize};

use crate::record::{Item, Record};
use crate::value::{Text, Value};

/// An error while serialising.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerError {
    /// A message from the type being serialised.
    #[error("{0}")]
    Message(String),
}

impl ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> SerError {
        SerError::Message(msg.to_string())
    }
}

/// Serialises `value` to a Recon [`Value`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerError> {
    value.serialize(ValueSerializer)
}

/// Serialises `value` to compact Recon text.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, SerError> {
    Ok(crate::writer::to_compact_string(&to_value(value)?))
}

/// Wraps `inner` in the attribute `@variant`, splicing a record's items after it when that
/// reads back unambiguously (see [`Record::body`]).
pub(crate) fn tagged(variant: &str, inner: Value) -> Value {
    let mut items = vec![Item::Attr(Text::new(variant), Value::Extant)];
    match inner {
        Value::Extant | Value::Absent => {}
        Value::Record(r)
            if !r.iter().any(Item::is_attr) && !matches!(r.items(), [Item::Value(_)]) =>
        {
            items.extend(r.iter().cloned())
        }
        other => items.push(Item::Value(other)),
    }
    Value::Record(Record::from_vec_unchecked(items))
}

/// The serializer whose output is a [`Value`].
#[derive(Clone, Copy, Debug)]
pub struct ValueSerializer;

/// Collects a sequence or tuple.
#[derive(Debug)]
pub struct SeqSerializer {
    items: Vec<Item>,
    variant: Option<&'static str>,
}

/// Collects a map, struct or struct variant.
#[derive(Debug)]
pub struct MapSerializer {
    items: Vec<Item>,
    key: Option<Value>,
    variant: Option<&'static str>,
}

fn finish(items: Vec<Item>, variant: Option<&'static str>) -> Value {
    let record = Value::Record(items.into_iter().collect());
    match variant {
        Some(v) => tagged(v, record),
        None => record,
    }
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerError;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = SeqSerializer;
    type SerializeMap = MapSerializer;
    type SerializeStruct = MapSerializer;
    type SerializeStructVariant = MapSerializer;

    fn serialize_bool(self, v: bool) -> Result<Value, SerError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerError> {
        Ok(v.into())
    }
    fn serialize_char(self, v: char) -> Result<Value, SerError> {
        let mut buf = [0u8; 4];
        Ok(Value::text(&*v.encode_utf8(&mut buf)))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerError> {
        Ok(Value::text(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerError> {
        Ok(Value::data(v))
    }
    fn serialize_none(self) -> Result<Value, SerError> {
        Ok(Value::Extant)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, SerError> {
        Ok(Value::Extant)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerError> {
        Ok(Value::Extant)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerError> {
        Ok(tagged(variant, Value::Extant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, SerError> {
        Ok(tagged(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, SerError> {
        Ok(SeqSerializer {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, SerError> {
        let mut s = self.serialize_seq(Some(len))?;
        s.variant = Some(variant);
        Ok(s)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer, SerError> {
        Ok(MapSerializer {
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapSerializer, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapSerializer, SerError> {
        let mut m = self.serialize_map(Some(len))?;
        m.variant = Some(variant);
        Ok(m)
    }
}

impl ser::SerializeSeq for SeqSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.items
            .push(Item::Value(value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(finish(self.items, self.variant))
    }
}

macro_rules! seq_like {
    ($($tr:ident :: $m:ident),*) => {$(
        impl ser::$tr for SeqSerializer {
            type Ok = Value;
            type Error = SerError;
            fn $m<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
                ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> Result<Value, SerError> {
                ser::SerializeSeq::end(self)
            }
        }
    )*};
}
seq_like!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError::Message("map value without a key".into()))?;
        self.items
            .push(Item::Slot(key, value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, SerError> {
        Ok(finish(self.items, self.variant))
    }
}

macro_rules! struct_like {
    ($($tr:ident),*) => {$(
        impl ser::$tr for MapSerializer {
            type Ok = Value;
            type Error = SerError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), SerError> {
                self.items
                    .push(Item::Slot(Value::text(key), value.serialize(ValueSerializer)?));
                Ok(())
            }
            fn end(self) -> Result<Value, SerError> {
                Ok(finish(self.items, self.variant))
            }
        }
    )*};
}
struct_like!(SerializeStruct, SerializeStructVariant);
