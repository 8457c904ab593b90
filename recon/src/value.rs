//! The Recon value model.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::record::{Item, Record};

/// Shared, immutable text. Short strings (up to 23 bytes) live inline and longer ones
/// behind a reference count, so cloning a [`Text`] never copies its characters.
pub type Text = smol_str::SmolStr;

/// Makes [`Text`] from a string slice; the parser's hot path for identifiers and strings.
#[inline]
pub(crate) fn text_of(s: &str) -> Text {
    if s.len() <= 23 {
        Text::new_inline(s)
    } else {
        Text::new(s)
    }
}

/// Shared, immutable binary data (Recon's `%base64` literal). Cloning never copies the bytes.
pub type Blob = Arc<[u8]>;

/// A Recon value.
///
/// Every variant is cheap to clone: text, data, big integers and records are shared.
/// Integers compare by numeric value whatever their variant (`Int(5) == UInt(5)`);
/// floats compare by bit pattern, so `NaN == NaN` and equality is a true equivalence
/// (which makes [`Value`] usable as a map key).
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// No value at all: what an empty document parses to.
    #[default]
    Absent,
    /// A value that is present but carries nothing, such as the body of `@tag` or `{a:}`.
    Extant,
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer. The parser yields this for every integer that fits an `i64`.
    Int(i64),
    /// An unsigned integer. The parser yields this for integers above `i64::MAX` that fit a `u64`.
    UInt(u64),
    /// An integer beyond the range of `i64` and `u64`.
    BigInt(Arc<BigInt>),
    /// A 64-bit floating-point number.
    Float(f64),
    /// Text: an identifier such as `lane` or a quoted string.
    Text(Text),
    /// Binary data.
    Data(Blob),
    /// An ordered record of attributes, slots and values.
    Record(Record),
}

impl Value {
    /// Builds a text value.
    pub fn text(s: impl Into<Text>) -> Value {
        Value::Text(s.into())
    }

    /// Builds a data value from bytes.
    pub fn data(bytes: impl AsRef<[u8]>) -> Value {
        Value::Data(Arc::from(bytes.as_ref()))
    }

    /// Builds an integer value, normalising to the smallest variant that holds it
    /// (`Int`, then `UInt`, then `BigInt`), exactly as the parser does.
    pub fn big_int(n: BigInt) -> Value {
        if let Some(i) = n.to_i64() {
            Value::Int(i)
        } else if let Some(u) = n.to_u64() {
            Value::UInt(u)
        } else {
            Value::BigInt(Arc::new(n))
        }
    }

    /// `true` for [`Value::Absent`].
    pub fn is_absent(&self) -> bool {
        matches!(self, Value::Absent)
    }

    /// `true` for [`Value::Extant`].
    pub fn is_extant(&self) -> bool {
        matches!(self, Value::Extant)
    }

    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The record, if this is a record.
    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Value::Record(r) => Some(r),
            _ => None,
        }
    }

    /// The boolean, if this is a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::UInt(u) => i64::try_from(*u).ok(),
            Value::BigInt(b) => b.to_i64(),
            _ => None,
        }
    }

    /// The value as a `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::UInt(u) => Some(*u),
            Value::BigInt(b) => b.to_u64(),
            _ => None,
        }
    }

    /// The value as an `f64`: floats as they are, integers converted (possibly rounding).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            Value::BigInt(b) => b.to_f64(),
            _ => None,
        }
    }

    /// The bytes, if this is a data value.
    pub fn as_data(&self) -> Option<&[u8]> {
        match self {
            Value::Data(d) => Some(d),
            _ => None,
        }
    }

    /// The name of the first attribute, if this is a record that starts with one.
    /// For a WARP frame this is its tag (`link`, `event`, ...).
    pub fn tag(&self) -> Option<&str> {
        match self {
            Value::Record(r) => r.tag(),
            _ => None,
        }
    }

    /// Looks up the value of the first slot or attribute whose key is the text `key`
    /// (attributes are named with their `@`), if this is a record.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_record().and_then(|r| r.get(key))
    }

    /// The integer as an `i128`, for variants that hold one that fits.
    pub(crate) fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i as i128),
            Value::UInt(u) => Some(*u as i128),
            Value::BigInt(b) => b.to_i128(),
            _ => None,
        }
    }

    /// `true` when this value is one of the integer variants.
    pub fn is_integer(&self) -> bool {
        matches!(self, Value::Int(_) | Value::UInt(_) | Value::BigInt(_))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Absent, Absent) | (Extant, Extant) => true,
            (Bool(a), Bool(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Text(a), Text(b)) => a == b,
            (Data(a), Data(b)) => a == b,
            (Record(a), Record(b)) => a == b,
            (BigInt(a), BigInt(b)) => a == b,
            (a, b) if a.is_integer() && b.is_integer() => match (a.as_i128(), b.as_i128()) {
                (Some(x), Some(y)) => x == y,
                // A BigInt is never normalised into range of i128 by our constructors,
                // but one built by hand may be: compare as big integers.
                _ => to_big(a) == to_big(b),
            },
            _ => false,
        }
    }
}

fn to_big(v: &Value) -> BigInt {
    match v {
        Value::Int(i) => BigInt::from(*i),
        Value::UInt(u) => BigInt::from(*u),
        Value::BigInt(b) => (**b).clone(),
        _ => BigInt::default(),
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Absent => state.write_u8(0),
            Value::Extant => state.write_u8(1),
            Value::Bool(b) => {
                state.write_u8(2);
                b.hash(state)
            }
            Value::Int(_) | Value::UInt(_) | Value::BigInt(_) => {
                state.write_u8(3);
                match self.as_i128() {
                    Some(i) => i.hash(state),
                    None => to_big(self).hash(state),
                }
            }
            Value::Float(f) => {
                state.write_u8(4);
                f.to_bits().hash(state)
            }
            Value::Text(t) => {
                state.write_u8(5);
                t.hash(state)
            }
            Value::Data(d) => {
                state.write_u8(6);
                d.hash(state)
            }
            Value::Record(r) => {
                state.write_u8(7);
                r.hash(state)
            }
        }
    }
}

macro_rules! from_int {
    ($($t:ty => $v:ident as $c:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::$v(n as $c)
            }
        }
    )*};
}
from_int!(i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
          u8 => Int as i64, u16 => Int as i64, u32 => Int as i64);

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        match i64::try_from(n) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(n),
        }
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::from(n as u64)
    }
}

impl From<isize> for Value {
    fn from(n: isize) -> Value {
        Value::Int(n as i64)
    }
}

impl From<i128> for Value {
    fn from(n: i128) -> Value {
        Value::big_int(BigInt::from(n))
    }
}

impl From<u128> for Value {
    fn from(n: u128) -> Value {
        Value::big_int(BigInt::from(n))
    }
}

impl From<BigInt> for Value {
    fn from(n: BigInt) -> Value {
        Value::big_int(n)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Value {
        Value::Float(f as f64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(Text::new(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(Text::from(s))
    }
}

impl From<Text> for Value {
    fn from(s: Text) -> Value {
        Value::Text(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Data(Arc::from(b))
    }
}

impl From<Record> for Value {
    fn from(r: Record) -> Value {
        Value::Record(r)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes [`Value::Extant`], as an empty slot `a:` reads.
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Extant, Into::into)
    }
}

impl FromIterator<Item> for Value {
    fn from_iter<I: IntoIterator<Item = Item>>(iter: I) -> Value {
        Value::Record(iter.into_iter().collect())
    }
}
