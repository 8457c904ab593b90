//! serde deserialisation from Recon values, the inverse of the mapping in [`crate::to_value`].
//!
//! Beyond that mapping, a few forms other SwimOS peers write are read too: a struct may
//! carry attributes (`@Point{x:1,y:2}` reads as `Point { x: 1, y: 2 }`; attributes are
//! ignored), a unit variant may be plain text (`A`), and a variant's content may sit in the
//! attribute's parameters (`@A(5)`).

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::Deserialize;

use crate::parser::ParseError;
use crate::record::Item;
use crate::value::Value;

/// An error while deserialising.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeError {
    /// The text was not valid Recon.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The value did not fit the type.
    #[error("{0}")]
    Message(String),
}

impl de::Error for DeError {
    fn custom<T: std::fmt::Display>(msg: T) -> DeError {
        DeError::Message(msg.to_string())
    }
}

/// Deserialises a `T` from a Recon value.
pub fn from_value<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T, DeError> {
    T::deserialize(Node::Value(value))
}

/// Parses Recon text and deserialises a `T` from it.
pub fn from_str<T: DeserializeOwned>(s: &str) -> Result<T, DeError> {
    let value = crate::parse(s)?;
    from_value(&value)
}

static EXTANT: Value = Value::Extant;

/// What is being deserialised: a value, or some of a record's items read as a record.
#[derive(Clone, Copy, Debug)]
enum Node<'de> {
    Value(&'de Value),
    Items(&'de [Item]),
}

impl<'de> Node<'de> {
    /// The items, if this is a record (or extant/absent, read as an empty record).
    fn items(self) -> Option<&'de [Item]> {
        match self {
            Node::Items(items) => Some(items),
            Node::Value(Value::Record(r)) => Some(r.items()),
            Node::Value(Value::Extant | Value::Absent) => Some(&[]),
            Node::Value(_) => None,
        }
    }

    fn unexpected(self) -> de::Unexpected<'de> {
        match self {
            Node::Items(_) => de::Unexpected::Other("record"),
            Node::Value(v) => match v {
                Value::Absent | Value::Extant => de::Unexpected::Unit,
                Value::Bool(b) => de::Unexpected::Bool(*b),
                Value::Int(i) => de::Unexpected::Signed(*i),
                Value::UInt(u) => de::Unexpected::Unsigned(*u),
                Value::BigInt(_) => de::Unexpected::Other("big integer"),
                Value::Float(f) => de::Unexpected::Float(*f),
                Value::Text(t) => de::Unexpected::Str(t),
                Value::Data(d) => de::Unexpected::Bytes(d),
                Value::Record(_) => de::Unexpected::Other("record"),
            },
        }
    }

    /// The content of a record read as an enum: its first attribute names the variant and
    /// the items after it are the content (see [`crate::Record::body`]).
    fn variant(self) -> Option<(&'de str, Node<'de>)> {
        let items = self.items()?;
        let (name, params) = match items.first()? {
            Item::Attr(name, v) => (name.as_str(), v),
            _ => return None,
        };
        let content = match &items[1..] {
            [] if !params.is_extant() => Node::Value(params),
            [] => Node::Value(&EXTANT),
            [Item::Value(v)] => Node::Value(v),
            rest => Node::Items(rest),
        };
        Some((name, content))
    }
}

fn visit_items<'de, V: Visitor<'de>>(items: &'de [Item], visitor: V) -> Result<V::Value, DeError> {
    if items.iter().all(|i| matches!(i, Item::Value(_))) {
        visitor.visit_seq(SeqAccess(items.iter()))
    } else {
        visitor.visit_map(MapAccess {
            items: items.iter().enumerate(),
            value: None,
            skip_attrs: false,
        })
    }
}

impl<'de> de::Deserializer<'de> for Node<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = match self {
            Node::Items(items) => return visit_items(items, visitor),
            Node::Value(v) => v,
        };
        match v {
            Value::Absent | Value::Extant => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::BigInt(b) => match v.as_i128() {
                Some(i) => visitor.visit_i128(i),
                None => match u128::try_from(&**b) {
                    Ok(u) => visitor.visit_u128(u),
                    Err(_) => Err(de::Error::custom(format!(
                        "integer {b} does not fit 128 bits"
                    ))),
                },
            },
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(t) => visitor.visit_borrowed_str(t.as_str()),
            Value::Data(d) => visitor.visit_borrowed_bytes(d),
            Value::Record(r) => visit_items(r.items(), visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Node::Value(Value::Absent | Value::Extant) => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.items() {
            Some([]) => visitor.visit_unit(),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.items() {
            Some(items) => {
                let values = items.iter().filter(|i| !i.is_attr());
                if let Some(slot) = values.clone().find(|i| matches!(i, Item::Slot(..))) {
                    let _ = slot;
                    return Err(de::Error::custom(
                        "expected a record of values for a sequence, found a slot",
                    ));
                }
                visitor.visit_seq(SeqAccess(items.iter()))
            }
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.items() {
            Some(items) => visitor.visit_map(MapAccess {
                items: items.iter().enumerate(),
                value: None,
                skip_attrs: false,
            }),
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.items() {
            Some(items) => visitor.visit_map(MapAccess {
                items: items.iter().enumerate(),
                value: None,
                skip_attrs: true,
            }),
            None => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if let Node::Value(Value::Text(t)) = self {
            return visitor.visit_enum(t.as_str().into_deserializer());
        }
        match self.variant() {
            Some((name, content)) => visitor.visit_enum(EnumAccess { name, content }),
            None => Err(de::Error::custom(
                "expected an enum variant: an attribute such as @Variant, or text",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf identifier
    }
}

struct SeqAccess<'de>(std::slice::Iter<'de, Item>);

impl<'de> de::SeqAccess<'de> for SeqAccess<'de> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        for item in self.0.by_ref() {
            match item {
                Item::Attr(..) => continue,
                Item::Value(v) | Item::Slot(_, v) => {
                    return seed.deserialize(Node::Value(v)).map(Some)
                }
            }
        }
        Ok(None)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess<'de> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Item>>,
    value: Option<&'de Value>,
    skip_attrs: bool,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (n, item) in self.items.by_ref() {
            let key = match item {
                Item::Attr(_, _) if self.skip_attrs => continue,
                Item::Attr(name, v) => {
                    self.value = Some(v);
                    seed.deserialize(format!("@{name}").into_deserializer())
                }
                Item::Slot(k, v) => {
                    self.value = Some(v);
                    seed.deserialize(Node::Value(k))
                }
                Item::Value(v) => {
                    if self.skip_attrs {
                        return Err(de::Error::custom(format!(
                            "expected slots (field: value), found the plain value {v} at item {n}"
                        )));
                    }
                    self.value = Some(v);
                    seed.deserialize(format!("${n}").into_deserializer())
                }
            };
            return key.map(Some);
        }
        Ok(None)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(Node::Value(v)),
            None => Err(de::Error::custom("map value requested before its key")),
        }
    }
}

struct EnumAccess<'de> {
    name: &'de str,
    content: Node<'de>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'de> {
    type Error = DeError;
    type Variant = Node<'de>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Node<'de>), DeError> {
        let name: de::value::BorrowedStrDeserializer<'de, DeError> =
            de::value::BorrowedStrDeserializer::new(self.name);
        Ok((seed.deserialize(name)?, self.content))
    }
}

impl<'de> de::VariantAccess<'de> for Node<'de> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        match self.items() {
            Some([]) => Ok(()),
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a unit variant",
            )),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self, "", &[], visitor)
    }
}
