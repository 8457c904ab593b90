//! Map frames and records: every frame round-trips alone and in a stream, a frame cut
//! short waits for the rest, random bytes give frames or errors and never panic; a record
//! verifies only as its key signed it, only while it is valid.

use std::net::SocketAddr;

use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;
use protocols::map::carried;
use protocols::map::flows::{self as map_flows, FlowDef, Member, Parts, Table, TableError};
use protocols::map::frame::{FrameError, MAX_BODY};
use protocols::map::record::{MAX_ADDRS, MAX_TTL};
use protocols::map::relay::{self, Datagram};
use protocols::map::traverse::{Hello, NatKind};
use protocols::map::{Frame, Record, RecordError};

fn sock() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(sock(), 0..=MAX_ADDRS),
        prop::collection::vec(any::<u8>(), 64..=64),
    )
        .prop_map(|(id, seq, expires, addrs, sig)| Record {
            id,
            seq,
            expires,
            addrs,
            signature: sig.try_into().unwrap(),
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        Just(Frame::Observe),
        record().prop_map(Frame::Register),
        any::<[u8; 32]>().prop_map(Frame::Lookup),
        (sock(), prop::collection::vec(sock(), 0..=8))
            .prop_map(|(addr, others)| Frame::Observed { addr, others }),
        any::<u64>().prop_map(Frame::Registered),
        record().prop_map(Frame::Found),
        any::<[u8; 32]>().prop_map(Frame::NotFound),
        "[a-z ]{0,60}".prop_map(Frame::Refused),
        Just(Frame::Claim),
        Just(Frame::Watch),
        Just(Frame::Watching),
        any::<[u8; 32]>().prop_map(Frame::Introduce),
        any::<[u8; 32]>().prop_map(Frame::Introduced),
        record().prop_map(Frame::Wanted),
        any::<u16>().prop_map(Frame::Release),
        any::<u16>().prop_map(Frame::WhoHas),
        (any::<u16>(), any::<u64>())
            .prop_map(|(nameplate, until)| Frame::Claimed { nameplate, until }),
        any::<u16>().prop_map(Frame::Released),
        (any::<u16>(), any::<[u8; 32]>())
            .prop_map(|(nameplate, id)| Frame::Holder { nameplate, id }),
        any::<[u8; 32]>().prop_map(Frame::Relay),
        (any::<[u8; 32]>(), any::<[u8; 16]>())
            .prop_map(|(peer, token)| Frame::Relaying { peer, token }),
        Just(Frame::Flows),
        ("[a-z]{1,32}", 1u8..=3, "[a-z0-9]{0,32}").prop_map(|(flow, role, name)| Frame::Join {
            flow,
            role,
            name
        }),
        prop::collection::vec("[a-z]{1,32}", 0..20).prop_map(Frame::Congested),
        (any::<bool>(), prop::collection::vec(any::<u8>(), 0..2000))
            .prop_map(|(last, part)| Frame::FlowTable { last, part }),
        "[a-z]{1,32}".prop_map(Frame::Joined),
        "[a-z]{1,32}".prop_map(Frame::JoinHeld),
    ]
}

fn flow_def() -> impl Strategy<Value = FlowDef> {
    (
        "[a-z]{1,32}",
        (0u8..=3, 0u8..=2, any::<u16>()),
        (prop::option::of(sock()), prop::option::of(sock())),
        prop::collection::vec((any::<[u8; 32]>(), 1u8..=3, "[a-z0-9]{1,32}"), 0..12),
    )
        .prop_map(
            |(name, (mode, paths, port), (ip, deliver), members)| FlowDef {
                name,
                mode,
                paths,
                port,
                ip,
                deliver,
                members: members
                    .into_iter()
                    .map(|(id, role, name)| Member { id, role, name })
                    .collect(),
            },
        )
}

fn table() -> impl Strategy<Value = Table> {
    (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        prop::collection::vec(flow_def(), 0..6),
    )
        .prop_map(|(map, node, seq, flows)| Table {
            map,
            node,
            seq,
            flows,
            signature: [7; 64],
        })
}

/// A record of `key`, signed by `signer`.
fn signed(key: &SigningKey, signer: &SigningKey, seq: u64, expires: u64) -> Record {
    let mut r = Record {
        id: key.verifying_key().to_bytes(),
        seq,
        expires,
        addrs: vec!["192.0.2.7:7470".parse().unwrap()],
        signature: [0; 64],
    };
    r.signature = signer.sign(&r.signed_bytes()).to_bytes();
    r
}

proptest! {
    #[test]
    fn flow_tables_round_trip_through_their_parts(t in table()) {
        let bytes = t.encode();
        let mut parts = Parts::default();
        let mut whole = None;
        for (last, part) in map_flows::parts(&bytes) {
            let f = Frame::FlowTable { last, part: part.to_vec() };
            let (again, _) = Frame::decode(&f.encode()).unwrap().unwrap();
            let Frame::FlowTable { last, part } = again else { panic!() };
            whole = parts.push(last, &part).unwrap();
        }
        prop_assert_eq!(Table::decode(&whole.unwrap()).unwrap(), t);
    }

    #[test]
    fn random_bytes_as_a_flow_table_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        if let Ok(t) = Table::decode(&bytes) {
            prop_assert_eq!(t.encode(), bytes);
            let _ = t.verify(&t.map, &t.node);
        }
    }

    #[test]
    fn a_signed_table_changed_in_any_byte_no_longer_verifies(
        t in table(), at in 0usize..4000, bit in 0u8..8,
    ) {
        let map = SigningKey::from_bytes(&[9; 32]);
        let mut t = t;
        t.map = map.verifying_key().to_bytes();
        t.signature = map.sign(&t.signed_bytes()).to_bytes();
        prop_assert_eq!(t.verify(&t.map, &t.node), Ok(()));
        let mut bytes = t.encode();
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        if let Ok(changed) = Table::decode(&bytes) {
            prop_assert!(changed.verify(&t.map, &t.node).is_err());
        }
    }

    #[test]
    fn frames_round_trip_in_a_stream(frames in prop::collection::vec(frame(), 1..6)) {
        let mut stream: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let mut back = Vec::new();
        while let Some((f, n)) = Frame::decode(&stream).unwrap() {
            back.push(f);
            stream.drain(..n);
        }
        prop_assert!(stream.is_empty());
        prop_assert_eq!(back, frames);
    }

    #[test]
    fn a_frame_cut_short_waits_for_the_rest(f in frame(), cut in 0usize..400) {
        let bytes = f.encode();
        let cut = cut.min(bytes.len() - 1);
        prop_assert_eq!(Frame::decode(&bytes[..cut]), Ok(None));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Frame::decode(&bytes);
        let _ = Record::decode(&bytes);
        let _ = Datagram::decode(&bytes);
        let _ = Hello::decode(&bytes);
        let _ = carried::get(&bytes);
    }

    #[test]
    fn carried_datagrams_round_trip_in_a_stream(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..2000), 1..6),
    ) {
        let mut stream = Vec::new();
        for d in &datagrams {
            carried::put(&mut stream, d);
        }
        let mut back = Vec::new();
        let mut at = 0;
        while let Some((d, n)) = carried::get(&stream[at..]).unwrap() {
            back.push(d.to_vec());
            at += n;
        }
        prop_assert_eq!(at, stream.len());
        prop_assert_eq!(back, datagrams);
    }

    #[test]
    fn hellos_round_trip_and_wait_for_their_end(
        nat in prop_oneof![Just(NatKind::Unknown), Just(NatKind::Independent), Just(NatKind::Dependent)],
        addrs in prop::collection::vec(sock(), 0..=8),
        cut in 0usize..200,
    ) {
        let h = Hello { nat, addrs };
        let b = h.encode();
        prop_assert_eq!(Hello::decode(&b), Ok(Some((h, b.len()))));
        let cut = cut.min(b.len() - 1);
        prop_assert_eq!(Hello::decode(&b[..cut]), Ok(None));
    }

    #[test]
    fn relay_datagrams_round_trip_and_a_send_forwards_as_from(
        token in any::<[u8; 16]>(),
        (to, from) in any::<([u8; 32], [u8; 32])>(),
        packet in prop::collection::vec(any::<u8>(), 1..1500),
    ) {
        let mut b = Vec::new();
        let send = Datagram::Send { token: &token, to: &to, packet: &packet };
        send.encode_into(&mut b);
        prop_assert_eq!(Datagram::decode(&b), Ok(send));
        let out = relay::rewrite_send_as_from(&mut b, &from).to_vec();
        prop_assert_eq!(Datagram::decode(&out), Ok(Datagram::From { from: &from, packet: &packet }));
        // No QUIC packet (fixed bit set) reads as a relay datagram.
        let mut quic = packet.clone();
        quic[0] |= 0x40;
        prop_assert_eq!(Datagram::decode(&quic), Err(relay::DatagramError::NotRelay));
    }

    #[test]
    fn a_record_changed_in_any_byte_no_longer_verifies(at in 0usize..1000, bit in 0u8..8) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let r = signed(&key, &key, 5, 1_000 + 60);
        prop_assert_eq!(r.verify(1_000), Ok(()));
        let mut bytes = r.encode();
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        if let Ok(changed) = Record::decode(&bytes) {
            prop_assert!(changed.verify(1_000).is_err());
        }
    }
}

#[test]
fn a_record_verifies_only_as_signed_by_its_key_and_while_valid() {
    let (key, other) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    let now = 1_700_000_000;
    assert_eq!(signed(&key, &key, 1, now + 60).verify(now), Ok(()));
    assert_eq!(
        signed(&key, &other, 1, now + 60).verify(now),
        Err(RecordError::BadSignature)
    );
    assert_eq!(
        signed(&key, &key, 1, now).verify(now),
        Err(RecordError::Expired)
    );
    assert_eq!(
        signed(&key, &key, 1, now + MAX_TTL + 1).verify(now),
        Err(RecordError::TooFarAhead)
    );
}

#[test]
fn limits_are_checked_from_the_header() {
    assert_eq!(
        Frame::decode(&[0x85, 0x04, 0x01]),
        Err(FrameError::TooLong(MAX_BODY + 1))
    );
    assert_eq!(
        Frame::decode(&[0x03, 0, 31]),
        Err(FrameError::BadLength {
            code: 0x03,
            len: 31
        })
    );
    assert_eq!(
        Frame::decode(&[0x7f, 0, 0]),
        Err(FrameError::UnknownCode(0x7f))
    );
    // A record claiming more addresses than allowed.
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut bytes = signed(&key, &key, 1, 10).encode();
    bytes[49] = MAX_ADDRS as u8 + 1;
    assert_eq!(
        Record::decode(&bytes),
        Err(RecordError::TooManyAddrs(MAX_ADDRS + 1))
    );
}

#[test]
fn a_flow_table_is_trusted_only_from_its_map_for_its_node() {
    let map = SigningKey::from_bytes(&[1; 32]);
    let other = SigningKey::from_bytes(&[2; 32]);
    let node = [3; 32];
    let mut t = Table {
        map: map.verifying_key().to_bytes(),
        node,
        seq: 1,
        flows: vec![],
        signature: [0; 64],
    };
    t.signature = map.sign(&t.signed_bytes()).to_bytes();
    assert_eq!(t.verify(&t.map, &node), Ok(()));
    assert_eq!(t.verify(&t.map, &[4; 32]), Err(TableError::OtherNode));
    let theirs = other.verifying_key().to_bytes();
    assert_eq!(t.verify(&theirs, &node), Err(TableError::OtherMap));
    // Another key signing a table that names the trusted map is refused too.
    t.signature = other.sign(&t.signed_bytes()).to_bytes();
    assert_eq!(t.verify(&t.map, &node), Err(TableError::BadSignature));
    // A table part beyond its frame's limit is refused from the header.
    let mut head = vec![0x8d];
    head.extend_from_slice(&((map_flows::MAX_PART + 2) as u16).to_be_bytes());
    assert!(matches!(Frame::decode(&head), Err(FrameError::TooLong(_))));
}
