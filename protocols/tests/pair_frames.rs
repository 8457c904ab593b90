//! Pairing frames and codes: every frame round-trips alone and in a stream, a frame cut
//! short waits for the rest, random bytes give frames or errors and never panic; every
//! code prints to a text that parses back to it.

use proptest::prelude::*;
use protocols::pair::frame::{FrameError, MAX_BODY, MAX_OFFER_ID};
use protocols::pair::{Code, Frame};

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (any::<u16>(), prop::collection::vec(any::<u8>(), 33..=33))
            .prop_map(|(nameplate, msg)| Frame::Pake { nameplate, msg }),
        any::<[u8; 32]>().prop_map(Frame::Confirm),
        "[a-z ]{0,60}".prop_map(Frame::Refused),
        "[0-9a-f-]{0,64}".prop_map(Frame::Offered),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip_in_a_stream(frames in prop::collection::vec(frame(), 1..8)) {
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
    fn a_frame_cut_short_waits_for_the_rest(f in frame(), cut in 0usize..40) {
        let bytes = f.encode();
        let cut = cut.min(bytes.len() - 1);
        prop_assert_eq!(Frame::decode(&bytes[..cut]), Ok(None));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Frame::decode(&bytes);
    }

    #[test]
    fn codes_print_and_parse_back(n in any::<u16>(), a in any::<u8>(), b in any::<u8>()) {
        let code = Code::new(n, [a, b]);
        prop_assert_eq!(Code::parse(&code.to_string()), Ok(code));
    }
}

#[test]
fn limits_and_lengths_are_checked_from_the_header() {
    assert_eq!(
        Frame::decode(&[3, 0x04, 0x01]),
        Err(FrameError::TooLong(MAX_BODY + 1))
    );
    assert_eq!(
        Frame::decode(&[2, 0, 31]),
        Err(FrameError::BadLength { code: 2, len: 31 })
    );
    assert_eq!(Frame::decode(&[9, 0, 0]), Err(FrameError::UnknownCode(9)));
    assert_eq!(Frame::decode(&[3, 0, 1, 0xff]), Err(FrameError::NotUtf8));
    assert_eq!(Frame::decode(&[4, 0, 1, 0xff]), Err(FrameError::NotUtf8));
    assert_eq!(
        Frame::decode(&[4, 0, MAX_OFFER_ID as u8 + 1]),
        Err(FrameError::BadLength {
            code: 4,
            len: MAX_OFFER_ID + 1
        })
    );
    // A long reason is cut to fit, at a character boundary.
    let long = Frame::Refused("é".repeat(MAX_BODY));
    let (back, _) = Frame::decode(&long.encode()).unwrap().unwrap();
    assert!(matches!(back, Frame::Refused(r) if r.len() == MAX_BODY));
}
