//! Channel headers, replies and ping probes: exact bytes, incremental decoding, limits.

use proptest::prelude::*;
use protocols::channel::{ChannelError, ChannelOpen, ChannelReply, MAX_MESSAGE_LEN};
use protocols::ping::{Probe, ProbeTooLarge, MAX_PAYLOAD};

#[test]
fn header_bytes_are_as_documented() {
    let h = ChannelOpen::new("ping", 1).unwrap();
    assert_eq!(h.encode(), b"WC\x01\x04ping\x00\x01");
    assert_eq!(ChannelOpen::decode(&h.encode()).unwrap(), Some((h, 10)));
    assert_eq!(ChannelReply::Accepted.encode(), [0, 0, 0]);
    assert_eq!(
        ChannelReply::UnknownService("no".into()).encode(),
        b"\x01\x00\x02no"
    );
}

#[test]
fn partial_input_asks_for_more() {
    let bytes = ChannelOpen::new("gate/ssh", 3).unwrap().encode();
    for cut in 0..bytes.len() {
        assert_eq!(
            ChannelOpen::decode(&bytes[..cut]).unwrap(),
            None,
            "cut at {cut}"
        );
    }
    let reply = ChannelReply::Refused("blocked".into()).encode();
    for cut in 0..reply.len() {
        assert_eq!(ChannelReply::decode(&reply[..cut]).unwrap(), None);
    }
    let probe = Probe { seq: 9, len: 100 }.encode();
    for cut in 0..probe.len() {
        assert_eq!(Probe::decode(&probe[..cut]).unwrap(), None);
    }
}

#[test]
fn bad_headers_are_refused_early() {
    assert_eq!(ChannelOpen::decode(b"GET /"), Err(ChannelError::BadMagic));
    assert_eq!(
        ChannelOpen::decode(b"WC\x02"),
        Err(ChannelError::BadVersion(2))
    );
    assert_eq!(
        ChannelOpen::decode(b"WC\x01\x00"),
        Err(ChannelError::BadService)
    );
    assert_eq!(
        ChannelOpen::decode(b"WC\x01\xff"),
        Err(ChannelError::BadService)
    );
    assert_eq!(
        ChannelOpen::decode(b"WC\x01\x04P"),
        Err(ChannelError::BadService)
    );
    assert_eq!(
        ChannelOpen::new("Bad Name", 1),
        Err(ChannelError::BadService)
    );
    assert_eq!(ChannelReply::decode(&[9]), Err(ChannelError::BadStatus(9)));
    assert_eq!(
        ChannelReply::decode(&[1, 0xff, 0xff]),
        Err(ChannelError::BadMessage)
    );
    assert_eq!(
        ChannelReply::decode(&[1, 0, 1, 0xff]),
        Err(ChannelError::BadMessage)
    );
    // Found by the fuzzer: an acceptance with a message would lose it.
    assert_eq!(
        ChannelReply::decode(&[0, 0, 1, b'x']),
        Err(ChannelError::BadMessage)
    );
    let huge = Probe {
        seq: 0,
        len: MAX_PAYLOAD as u32 + 1,
    };
    assert_eq!(
        Probe::decode(&huge.encode()[..8]),
        Err(ProbeTooLarge(huge.len))
    );
}

#[test]
fn long_reply_messages_are_cut_to_the_limit() {
    let long = "é".repeat(MAX_MESSAGE_LEN);
    let bytes = ChannelReply::Refused(long).encode();
    let (reply, n) = ChannelReply::decode(&bytes).unwrap().unwrap();
    assert_eq!(n, bytes.len());
    let ChannelReply::Refused(msg) = reply else {
        panic!()
    };
    assert!(msg.len() <= MAX_MESSAGE_LEN && msg.chars().all(|c| c == 'é'));
}

proptest! {
    #[test]
    fn headers_round_trip(service in "[a-z0-9/._-]{1,64}", version: u16, tail in prop::collection::vec(any::<u8>(), 0..8)) {
        let h = ChannelOpen::new(&service, version).unwrap();
        let mut bytes = h.encode();
        let n = bytes.len();
        bytes.extend(tail);
        prop_assert_eq!(ChannelOpen::decode(&bytes).unwrap(), Some((h, n)));
    }

    #[test]
    fn replies_round_trip(status in 0u8..4, msg in ".{0,40}") {
        let r = match status {
            0 => ChannelReply::Accepted,
            1 => ChannelReply::UnknownService(msg),
            2 => ChannelReply::UnsupportedVersion(msg),
            _ => ChannelReply::Refused(msg),
        };
        let bytes = r.encode();
        prop_assert_eq!(ChannelReply::decode(&bytes).unwrap(), Some((r, bytes.len())));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let _ = ChannelOpen::decode(&bytes);
        let _ = ChannelReply::decode(&bytes);
        let _ = Probe::decode(&bytes);
    }
}

mod datagrams {
    use proptest::prelude::*;
    use protocols::datagram::{decode, encode, TooLarge, MAX_DATAGRAM};

    #[test]
    fn boundaries_and_limits() {
        assert_eq!(encode(b"hi").unwrap(), b"\x00\x02hi");
        assert_eq!(encode(b"").unwrap(), b"\x00\x00");
        assert_eq!(decode(b"\x00\x02h").unwrap(), None);
        assert_eq!(decode(b"\x00\x02hix").unwrap(), Some((b"hi".to_vec(), 4)));
        assert_eq!(
            encode(&vec![0; MAX_DATAGRAM + 1]),
            Err(TooLarge(MAX_DATAGRAM + 1))
        );
        assert_eq!(decode(b"\xff\xff"), Err(TooLarge(0xffff)));
    }

    proptest! {
        #[test]
        fn a_run_of_datagrams_splits_back_exactly(dgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut stream: Vec<u8> = dgs.iter().flat_map(|d| encode(d).unwrap()).collect();
            let mut back = Vec::new();
            while let Some((d, n)) = decode(&stream).unwrap() {
                back.push(d);
                stream.drain(..n);
            }
            prop_assert!(stream.is_empty());
            prop_assert_eq!(back, dgs);
        }
    }
}

mod flow_acks {
    use proptest::prelude::*;
    use protocols::flow::{encode_ack, Credit, MAX_WINDOW, MIN_WINDOW};

    proptest! {
        #[test]
        fn rising_acks_split_anywhere_are_all_taken(
            steps in prop::collection::vec(0u64..100_000, 1..30),
            cut in 0usize..64,
        ) {
            let mut c = Credit::default();
            let total: u64 = steps.iter().sum();
            c.sent(total);
            let mut stream = Vec::new();
            let mut acked = 0;
            for s in &steps {
                acked += s;
                stream.extend_from_slice(&encode_ack(acked));
            }
            let cut = cut.min(stream.len());
            let got = c.feed(&stream[..cut]).unwrap() + c.feed(&stream[cut..]).unwrap();
            prop_assert_eq!(got, total);
            prop_assert_eq!(c.in_flight(), 0);
            prop_assert!(c.open());
        }

        #[test]
        fn any_bytes_give_an_error_or_a_sane_state(bytes in prop::collection::vec(any::<u8>(), 0..80), sent in any::<u64>()) {
            let mut c = Credit::default();
            c.sent(sent);
            let _ = c.feed(&bytes);
            prop_assert!(c.acked() <= sent);
        }

        #[test]
        fn the_window_stays_in_bounds(rate in any::<u64>(), rtt in any::<u64>()) {
            let mut c = Credit::default();
            c.set_window(rate, rtt);
            prop_assert!((MIN_WINDOW..=MAX_WINDOW).contains(&c.window()));
        }
    }
}
