//! Property tests: every value round-trips through both writers, every typed document
//! through serde (values and text); no input panics.

use num_bigint::BigInt;
use proptest::prelude::*;
use recon::{parse, peel_header, Item, Record, Value};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_-]{0,8}",
        any::<String>(),
        Just("true".to_string()),
        Just(String::new()),
        "[ -~]{0,12}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::UInt),
        (any::<i128>(), any::<u64>())
            .prop_map(|(a, b)| Value::big_int(BigInt::from(a) * BigInt::from(b) * 31)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        text().prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..20).prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        let key = prop_oneof![
            leaf(),
            inner.clone().prop_filter("not extant", |v| !v.is_extant())
        ];
        let item = prop_oneof![
            (text(), prop_oneof![inner.clone(), Just(Value::Extant)])
                .prop_map(|(n, v)| Item::attr(n, v)),
            (key, prop_oneof![inner.clone(), Just(Value::Extant)])
                .prop_map(|(k, v)| Item::slot(k, v)),
            inner.clone().prop_map(Item::Value),
            Just(Item::Value(Value::Extant)),
        ];
        prop::collection::vec(item, 0..6)
            .prop_map(|items| Value::Record(items.into_iter().collect::<Record>()))
    })
}

/// A typed document with every shape serde gives recon: scalars of each width, text,
/// options, sequences, maps, tuples, nested structs and each kind of enum variant.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Doc {
    name: String,
    flag: bool,
    small: i8,
    count: u32,
    big: u64,
    signed: i64,
    ratio: f64,
    note: Option<String>,
    tags: Vec<String>,
    by_key: std::collections::BTreeMap<String, i32>,
    pair: (u16, String),
    shape: Shape,
    inner: Option<Box<Inner>>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Inner {
    x: i32,
    ys: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Pair(i32, i32),
    Rect { w: u32, h: u32 },
    Nested(Inner),
}

fn finite() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn inner() -> impl Strategy<Value = Inner> {
    (
        any::<i32>(),
        prop::collection::vec(any::<f32>().prop_filter("finite", |f| f.is_finite()), 0..4),
    )
        .prop_map(|(x, ys)| Inner { x, ys })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        finite().prop_map(Shape::Circle),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| Shape::Pair(a, b)),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
        inner().prop_map(Shape::Nested),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        (
            text(),
            any::<bool>(),
            any::<i8>(),
            any::<u32>(),
            any::<u64>(),
            any::<i64>(),
        ),
        (
            finite(),
            prop::option::of(text()),
            prop::collection::vec(text(), 0..4),
        ),
        (
            prop::collection::btree_map(text(), any::<i32>(), 0..4),
            (any::<u16>(), text()),
            shape(),
            prop::option::of(inner().prop_map(Box::new)),
        ),
    )
        .prop_map(
            |(
                (name, flag, small, count, big, signed),
                (ratio, note, tags),
                (by_key, pair, shape, inner),
            )| Doc {
                name,
                flag,
                small,
                count,
                big,
                signed,
                ratio,
                note,
                tags,
                by_key,
                pair,
                shape,
                inner,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn compact_print_then_parse_is_identity(v in value()) {
        let s = recon::to_compact_string(&v);
        let back = parse(&s).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(back, v, "printed as {:?}", s);
    }

    #[test]
    fn pretty_print_then_parse_is_identity(v in value()) {
        let s = recon::to_pretty_string(&v);
        let back = parse(&s).map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(back, v, "printed as {:?}", s);
    }

    #[test]
    fn serde_value_round_trip(v in value()) {
        // to_value of a Value's JSON form is stable under print/parse too.
        let json = recon::to_json(&v);
        let back = recon::to_value(&json).unwrap();
        let s = recon::to_compact_string(&back);
        prop_assert_eq!(parse(&s).unwrap(), back);
    }

    #[test]
    fn typed_documents_round_trip_through_values_and_text(d in doc()) {
        let v = recon::to_value(&d).map_err(|e| TestCaseError::fail(format!("{d:?}: {e}")))?;
        let from_value: Doc = recon::from_value(&v)
            .map_err(|e| TestCaseError::fail(format!("{v:?}: {e}")))?;
        prop_assert_eq!(&from_value, &d);
        let s = recon::to_string(&d).unwrap();
        let from_text: Doc = recon::from_str(&s)
            .map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(&from_text, &d, "written as {:?}", s);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s);
        let _ = peel_header(&s);
    }

    #[test]
    fn recon_like_noise_never_panics(s in r#"[@{}\[\]()"'`:,;#%\\ \na-z0-9.eE+\-xbu=]{0,64}"#) {
        let _ = parse(&s);
        if let Ok(h) = peel_header(&s) {
            prop_assert!(s.ends_with(h.body));
            let _ = parse(h.body);
        }
    }

    #[test]
    fn peeled_header_and_body_agree_with_whole_parse(
        tag in "[a-z]{1,8}",
        node in "/[a-z0-9/]{0,10}",
        body in value().prop_filter("not a record with attrs", |v| v.tag().is_none()),
    ) {
        let frame = format!("@{tag}(node:{node:?},lane:x) {}", recon::to_compact_string(&body));
        let h = peel_header(&frame).unwrap();
        prop_assert_eq!(h.tag.as_str(), tag.as_str());
        prop_assert_eq!(h.params.get("node").and_then(Value::as_text), Some(node.as_str()));
        let parsed_body = if h.body.is_empty() { Value::Extant } else { parse(h.body).unwrap() };
        let expected = match body { Value::Absent => Value::Extant, b => b };
        prop_assert_eq!(parsed_body, expected);
    }
}
