//! Records: Recon's one aggregate, an ordered list of items.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::value::{Text, Value};

/// One item of a [`Record`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// An attribute `@name(value)`; `@name` alone has the value [`Value::Extant`].
    Attr(Text, Value),
    /// A slot `key: value`.
    Slot(Value, Value),
    /// A plain value.
    Value(Value),
}

impl Item {
    /// Builds an attribute item.
    pub fn attr(name: impl Into<Text>, value: impl Into<Value>) -> Item {
        Item::Attr(name.into(), value.into())
    }

    /// Builds a slot item.
    pub fn slot(key: impl Into<Value>, value: impl Into<Value>) -> Item {
        Item::Slot(key.into(), value.into())
    }

    /// Builds a value item.
    pub fn value(value: impl Into<Value>) -> Item {
        Item::Value(value.into())
    }

    /// `true` for an attribute.
    pub fn is_attr(&self) -> bool {
        matches!(self, Item::Attr(..))
    }

    /// The item's value: the attribute's or slot's value, or the plain value itself.
    pub fn value_ref(&self) -> &Value {
        match self {
            Item::Attr(_, v) | Item::Slot(_, v) | Item::Value(v) => v,
        }
    }

    /// Text recon cannot express an absent attribute or slot value: it reads back as
    /// extant. Normalising on the way in keeps `parse(print(v)) == v` for every record.
    fn normalised(self) -> Option<Item> {
        match self {
            Item::Value(Value::Absent) => None,
            Item::Attr(n, Value::Absent) => Some(Item::Attr(n, Value::Extant)),
            Item::Slot(k, Value::Absent) => Some(Item::Slot(k, Value::Extant)),
            other => Some(other),
        }
    }
}

/// An ordered record of [`Item`]s: attributes, slots and values, in any order.
///
/// Records share their items: cloning one is a reference-count increment, and the first
/// change to a shared record copies it (copy on write).
///
/// Two things Recon text cannot say are normalised when items are added, so that every
/// record prints as text that parses back to an equal record: an absent plain item is
/// dropped, and an absent attribute or slot value becomes extant.
#[derive(Clone, Debug, Default)]
pub struct Record {
    items: Arc<Vec<Item>>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Record {
        Record::default()
    }

    /// An empty record with room for `n` items.
    pub fn with_capacity(n: usize) -> Record {
        Record {
            items: Arc::new(Vec::with_capacity(n)),
        }
    }

    /// Builds a record from items already normalised (used by the parser).
    pub(crate) fn from_vec_unchecked(items: Vec<Item>) -> Record {
        Record {
            items: Arc::new(items),
        }
    }

    /// The items, moved out when this record holds the only reference to them.
    pub fn into_items(self) -> Vec<Item> {
        Arc::try_unwrap(self.items).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item) {
        if let Some(item) = item.normalised() {
            Arc::make_mut(&mut self.items).push(item);
        }
    }

    /// Appends an attribute and returns the record, for building in one expression.
    pub fn with_attr(mut self, name: impl Into<Text>, value: impl Into<Value>) -> Record {
        self.push(Item::attr(name, value));
        self
    }

    /// Appends a slot and returns the record.
    pub fn with_slot(mut self, key: impl Into<Value>, value: impl Into<Value>) -> Record {
        self.push(Item::slot(key, value));
        self
    }

    /// Appends a plain value and returns the record.
    pub fn with_value(mut self, value: impl Into<Value>) -> Record {
        self.push(Item::value(value));
        self
    }

    /// The number of items, attributes included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` when the record has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items in order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Iterates over the items in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Item> {
        self.items.iter()
    }

    /// The name of the first item if it is an attribute.
    pub fn tag(&self) -> Option<&str> {
        match self.items.first() {
            Some(Item::Attr(name, _)) => Some(name.as_str()),
            _ => None,
        }
    }

    /// The first item if it is an attribute: its name and value.
    pub fn head(&self) -> Option<(&str, &Value)> {
        match self.items.first() {
            Some(Item::Attr(name, v)) => Some((name.as_str(), v)),
            _ => None,
        }
    }

    /// The value of the first slot with the text key `key`, or of the first attribute
    /// when `key` starts with `@` (`"@name"`).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let attr = key.strip_prefix('@');
        self.items.iter().find_map(|item| match (item, attr) {
            (Item::Slot(Value::Text(k), v), None) if k == key => Some(v),
            (Item::Attr(n, v), Some(a)) if n == a => Some(v),
            _ => None,
        })
    }

    /// The items after the first, as a record: for `@event(...) body` this is the body.
    pub fn tail(&self) -> Record {
        Record::from_vec_unchecked(self.items.iter().skip(1).cloned().collect())
    }

    /// A record's "body value" when its head is removed: nothing left is extant, a single
    /// plain value is that value, anything else is the record of the remaining items.
    pub fn body(&self) -> Value {
        match self.items.get(1..) {
            None | Some([]) => Value::Extant,
            Some([Item::Value(v)]) => v.clone(),
            Some(rest) => Value::Record(Record::from_vec_unchecked(rest.to_vec())),
        }
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        Arc::ptr_eq(&self.items, &other.items) || self.items == other.items
    }
}

impl Eq for Record {}

impl Hash for Record {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.items.hash(state)
    }
}

impl FromIterator<Item> for Record {
    fn from_iter<I: IntoIterator<Item = Item>>(iter: I) -> Record {
        let mut r = Record::new();
        let v = Arc::make_mut(&mut r.items);
        v.extend(iter.into_iter().filter_map(Item::normalised));
        r
    }
}

impl Extend<Item> for Record {
    fn extend<I: IntoIterator<Item = Item>>(&mut self, iter: I) {
        Arc::make_mut(&mut self.items).extend(iter.into_iter().filter_map(Item::normalised));
    }
}

impl<'a> IntoIterator for &'a Record {
    type Item = &'a Item;
    type IntoIter = std::slice::Iter<'a, Item>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}
