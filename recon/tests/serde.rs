//! serde: Rust types map to the Recon a SwimOS peer writes, and back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: f64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Pair(i32, i32),
    Located(Point),
    Rect { w: u32, h: u32 },
    Items(Vec<u8>),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Doc {
    name: String,
    tags: Vec<String>,
    shape: Shape,
    note: Option<String>,
    missing: Option<i64>,
    big: u64,
    unit: (),
    by_key: BTreeMap<String, i32>,
    #[serde(with = "serde_bytes_like")]
    blob: Vec<u8>,
}

mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

#[test]
fn structs_are_records_of_slots() {
    let p = Point { x: 1, y: 2.5 };
    assert_eq!(recon::to_string(&p).unwrap(), "{x:1,y:2.5}");
    assert_eq!(recon::from_str::<Point>("{x:1,y:2.5}").unwrap(), p);
    // What a SwimOS peer writes, with the type as an attribute, reads too.
    assert_eq!(recon::from_str::<Point>("@Point{x:1,y:2.5}").unwrap(), p);
    assert_eq!(recon::from_str::<Point>("{ y: 2.5, x: 1 }").unwrap(), p);
}

#[test]
fn enum_variants_are_attributes() {
    let cases = [
        (Shape::Empty, "@Empty"),
        (Shape::Circle(1.5), "@Circle 1.5"),
        (Shape::Pair(1, 2), "@Pair{1,2}"),
        (
            Shape::Located(Point { x: 0, y: 0.0 }),
            "@Located{x:0,y:0.0}",
        ),
        (Shape::Rect { w: 3, h: 4 }, "@Rect{w:3,h:4}"),
        (Shape::Items(vec![7]), "@Items{{7}}"),
        (Shape::Items(vec![]), "@Items"),
    ];
    for (shape, text) in cases {
        assert_eq!(recon::to_string(&shape).unwrap(), text);
        assert_eq!(recon::from_str::<Shape>(text).unwrap(), shape, "{text}");
    }
    // Other spellings SwimOS peers use.
    assert_eq!(recon::from_str::<Shape>("Empty").unwrap(), Shape::Empty);
    assert_eq!(
        recon::from_str::<Shape>("@Circle(2.0)").unwrap(),
        Shape::Circle(2.0)
    );
}

#[test]
fn a_whole_document_round_trips() {
    let doc = Doc {
        name: "a b".into(),
        tags: vec!["x".into(), "true".into()],
        shape: Shape::Rect { w: 1, h: 2 },
        note: Some("n".into()),
        missing: None,
        big: u64::MAX,
        unit: (),
        by_key: [("k".to_string(), 1), ("l".to_string(), 2)].into(),
        blob: vec![0, 1, 255],
    };
    let text = recon::to_string(&doc).unwrap();
    assert_eq!(
        text,
        "{name:\"a b\",tags:{x,\"true\"},shape:@Rect{w:1,h:2},note:n,missing:,big:18446744073709551615,unit:,by_key:{k:1,l:2},blob:%AAH/}"
    );
    assert_eq!(recon::from_str::<Doc>(&text).unwrap(), doc);
    let v = recon::to_value(&doc).unwrap();
    assert_eq!(recon::from_value::<Doc>(&v).unwrap(), doc);
}

#[test]
fn type_mismatches_are_clear_errors() {
    let e = recon::from_str::<Point>("{x:\"one\",y:2}").unwrap_err();
    assert!(
        e.to_string().contains("invalid type: string \"one\""),
        "{e}"
    );
    let e = recon::from_str::<Point>("{x:1}").unwrap_err();
    assert!(e.to_string().contains("missing field `y`"), "{e}");
    let e = recon::from_str::<Point>("{x:1,").unwrap_err();
    assert!(matches!(e, recon::DeError::Parse(_)), "{e}");
    let e = recon::from_str::<Vec<i32>>("{a:1}").unwrap_err();
    assert!(e.to_string().contains("found a slot"), "{e}");
    let e = recon::from_str::<Point>("{1,2}").unwrap_err();
    assert!(e.to_string().contains("expected slots"), "{e}");
}

#[test]
fn self_describing_targets_see_records_as_maps_or_sequences() {
    let j: serde_json::Value = recon::from_str("@t{a:1,b:{2,3}}").unwrap();
    assert_eq!(j, serde_json::json!({"a": 1, "b": [2, 3], "@t": null}));
    let n: i128 = recon::from_str("-170141183460469231731687303715884105728").unwrap();
    assert_eq!(n, i128::MIN);
}
