//! WARP envelopes: the literal frames of the spec, valid and invalid, and round trips.

use proptest::prelude::*;
use protocols::warp::{Envelope, EnvelopeError, Headers, Tag};
use recon::{Item, Record, Value};

fn headers(node: &str, lane: &str) -> Headers {
    Headers {
        node: node.into(),
        lane: lane.into(),
        prio: None,
        rate: None,
    }
}

#[test]
fn the_spec_frames_decode() {
    let e = Envelope::decode("@link(node:\"/node\",lane:lane)").unwrap();
    assert_eq!(
        (e.tag, e.node(), e.lane(), e.body),
        (Tag::Link, Some("/node"), Some("lane"), "")
    );
    assert_eq!(e.body_value().unwrap(), Value::Extant);

    let e = Envelope::decode("@sync(node:\"/node\",lane:lane)").unwrap();
    assert_eq!(e.tag, Tag::Sync);

    let e = Envelope::decode("@command(node:\"/node\",lane:lane) body").unwrap();
    assert_eq!((e.tag, e.body), (Tag::Command, "body"));
    assert_eq!(e.body_value().unwrap(), Value::text("body"));

    let e = Envelope::decode("@command(node:\"/node\",lane:lane)@body").unwrap();
    assert_eq!(
        e.body_value().unwrap(),
        Value::Record(Record::new().with_attr("body", Value::Extant))
    );

    let e = Envelope::decode("@event(node:\"/node\",lane:lane) body").unwrap();
    assert_eq!((e.tag, e.body), (Tag::Event, "body"));

    let e = Envelope::decode("@unlinked(node:\"/node\",lane:lane)@nodeNotFound").unwrap();
    assert_eq!(e.body_value().unwrap().tag(), Some("nodeNotFound"));

    let e = Envelope::decode("@auth@payload { name: bob }").unwrap();
    assert_eq!((e.tag, e.headers.clone()), (Tag::Auth, None));
    let body = e.body_value().unwrap();
    assert_eq!(body.tag(), Some("payload"));
    assert_eq!(body.get("name"), Some(&Value::text("bob")));

    let e =
        Envelope::decode("@link(node: \"/node\", lane: name, rate: 0.1, prio: 1e-4)@body {a: 1}")
            .unwrap();
    let h = e.headers.clone().unwrap();
    assert_eq!(
        (h.node.as_str(), h.lane.as_str(), h.prio, h.rate),
        ("/node", "name", Some(1e-4), Some(0.1))
    );
    assert_eq!(
        e.body_value().unwrap(),
        Value::Record(
            Record::new()
                .with_attr("body", Value::Extant)
                .with_slot("a", 1)
        )
    );

    let e = Envelope::decode("@event(node:\"/n\",lane:m)@update(key:5) data").unwrap();
    let body = e.body_value().unwrap();
    assert_eq!(body.tag(), Some("update"));
    assert_eq!(
        body.as_record().unwrap().head().unwrap().1.get("key"),
        Some(&Value::Int(5))
    );
    assert_eq!(body.as_record().unwrap().body(), Value::text("data"));

    let e = Envelope::decode(
        "@sync(node:\"bar/baz/\",lane:\"foo/bar\",prio:33.2,rate:0.3)\"Hello, World!\"",
    )
    .unwrap();
    let h = e.headers.clone().unwrap();
    assert_eq!(
        (h.node.as_str(), h.lane.as_str(), h.prio, h.rate),
        ("bar/baz/", "foo/bar", Some(33.2), Some(0.3))
    );
    assert_eq!(e.body_value().unwrap(), Value::text("Hello, World!"));

    let e = Envelope::decode("@link(node:\"/unit/5\",lane:\"/unit/3\")-100").unwrap();
    assert_eq!(
        (e.lane(), e.body_value().unwrap()),
        (Some("/unit/3"), Value::Int(-100))
    );
}

#[test]
fn positional_node_and_lane_are_accepted() {
    let e = Envelope::decode("@link(\"/node\", lane)").unwrap();
    assert_eq!((e.node(), e.lane()), (Some("/node"), Some("lane")));
}

#[test]
fn the_spec_bad_frames_are_rejected() {
    type Check = fn(&EnvelopeError) -> bool;
    let cases: [(&str, Check); 7] = [
        ("{}", |e| matches!(e, EnvelopeError::Recon(_))),
        (
            "@unknown(node: \"/node\", lane: name)@body {a: 1}",
            |e| matches!(e, EnvelopeError::UnknownTag(t) if t == "unknown"),
        ),
        ("@unlinked(node: 4, lane: name)@body {a: 1}", |e| {
            matches!(e, EnvelopeError::BadHeader { header: "node", .. })
        }),
        ("@unlinked(node: \"/node\", lane: 5.6)@body {a: 1}", |e| {
            matches!(e, EnvelopeError::BadHeader { header: "lane", .. })
        }),
        (
            "@linked(node: \"/node\", lane: name, rate: half)@body {a: 1}",
            |e| matches!(e, EnvelopeError::BadHeader { header: "rate", .. }),
        ),
        ("@linked@body {a: 1}", |e| {
            matches!(e, EnvelopeError::MissingHeader { header: "node", .. })
        }),
        // A priority that overflows to infinity could never be written back (fuzz).
        (
            "@sync(node: \"/unit/1\", lane: info, prio: 000387582001E684212447)",
            |e| {
                matches!(
                    e,
                    EnvelopeError::BadHeader {
                        header: "prio",
                        expected: "a finite number",
                        ..
                    }
                )
            },
        ),
    ];
    for (frame, expected) in cases {
        let e = Envelope::decode(frame).unwrap_err();
        assert!(expected(&e), "{frame}: {e}");
    }
    for frame in [
        "",
        "link",
        "@link(node:\"/n\")",
        "@link(\"/n\")",
        "@event(node:\"/n\",lane:l",
        "@\"\"(x)",
    ] {
        assert!(Envelope::decode(frame).is_err(), "{frame}");
    }
}

#[test]
fn encoding_writes_the_canonical_form() {
    let h = headers("/node", "lane");
    assert_eq!(
        Envelope::encode(Tag::Link, Some(&h), &Value::Extant),
        "@link(node:\"/node\",lane:lane)"
    );
    assert_eq!(
        Envelope::encode(Tag::Command, Some(&h), &Value::text("body")),
        "@command(node:\"/node\",lane:lane) body"
    );
    let tagged = Value::Record(Record::new().with_attr("body", Value::Extant));
    assert_eq!(
        Envelope::encode(Tag::Command, Some(&h), &tagged),
        "@command(node:\"/node\",lane:lane)@body"
    );
    let nf = Value::Record(Record::new().with_attr("nodeNotFound", Value::Extant));
    assert_eq!(
        Envelope::encode(Tag::Unlinked, Some(&headers("/x", "l")), &nf),
        "@unlinked(node:\"/x\",lane:l)@nodeNotFound"
    );
    let with_rates = Headers {
        prio: Some(1.0),
        rate: Some(0.5),
        ..headers("n", "foo/bar")
    };
    assert_eq!(
        Envelope::encode(Tag::Sync, Some(&with_rates), &Value::Extant),
        "@sync(node:n,lane:\"foo/bar\",prio:1.0,rate:0.5)"
    );
    // prio and rate belong only on link, sync and linked.
    assert_eq!(
        Envelope::encode(Tag::Event, Some(&with_rates), &Value::Int(1)),
        "@event(node:n,lane:\"foo/bar\") 1"
    );
    assert_eq!(
        Envelope::encode(Tag::Authed, None, &Value::Extant),
        "@authed"
    );
}

fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Extant),
        any::<i64>().prop_map(Value::Int),
        "[ -~]{0,10}".prop_map(Value::from),
        ("[a-z]{1,5}", any::<i32>())
            .prop_map(|(k, v)| Value::Record(Record::new().with_slot(k, v))),
        ("[a-z]{1,5}", any::<i32>()).prop_map(|(k, v)| Value::Record(
            [
                Item::attr("update", Value::Record(Record::new().with_slot("key", k))),
                Item::value(v)
            ]
            .into_iter()
            .collect()
        )),
    ]
}

proptest! {
    #[test]
    fn envelopes_on_a_stream_round_trip_and_random_bytes_never_panic(
        texts in prop::collection::vec(".{0,80}", 0..6),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        use protocols::warp::stream;
        let mut bytes = Vec::new();
        for t in &texts {
            stream::put(&mut bytes, t);
        }
        let mut rest = &bytes[..];
        let mut back = Vec::new();
        while let Some((t, n)) = stream::get(rest).unwrap() {
            back.push(t);
            rest = &rest[n..];
        }
        prop_assert_eq!(back, texts);
        let mut rest = &noise[..];
        while let Ok(Some((_, n))) = stream::get(rest) {
            rest = &rest[n..];
        }
    }

    #[test]
    fn encode_then_decode_is_identity(
        tag in prop::sample::select(Tag::ALL.to_vec()),
        node in "[ -~]{0,12}",
        lane in "[ -~]{0,12}",
        prio in prop::option::of(0.0f64..100.0),
        body in body(),
    ) {
        let h = tag.is_lane().then(|| Headers {
            node: node.as_str().into(),
            lane: lane.as_str().into(),
            prio: if tag.has_rates() { prio } else { None },
            rate: None,
        });
        let frame = Envelope::encode(tag, h.as_ref(), &body);
        let e = Envelope::decode(&frame).unwrap();
        prop_assert_eq!(e.tag, tag);
        prop_assert_eq!(&e.headers, &h);
        prop_assert_eq!(e.body_value().unwrap(), body);
    }

    #[test]
    fn random_frames_never_panic(s in r#"@?[a-z]{0,8}(\(.{0,20}\))?.{0,20}"#) {
        if let Ok(e) = Envelope::decode(&s) {
            let _ = e.body_value();
        }
    }
}
