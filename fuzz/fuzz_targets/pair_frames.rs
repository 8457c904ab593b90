//! Pairing input from a stranger: any bytes decode to `pair` frames or an error, never a
//! panic, and every frame re-encodes to the bytes it came from; any text parses to a code
//! or an error, and a code prints to a text that parses back to it; any key-exchange
//! message is taken or refused, and a refused exchange never confirms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::pair::{Code, Exchange, Frame, Role};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((frame, n))) = Frame::decode(rest) {
        assert_eq!(frame.encode(), &rest[..n]);
        rest = &rest[n..];
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(code) = Code::parse(text) {
            assert_eq!(Code::parse(&code.to_string()), Ok(code));
        }
    }
    let code = Code::new(7, [1, 2]);
    let (mut x, _) = Exchange::start(&code, Role::Sender, b"s", b"r", rand_core::OsRng);
    match x.take_pake(data) {
        Ok(_) => assert!(x.confirm(&[0; 32]).is_err()),
        Err(_) => assert!(x.confirm(&[0; 32]).is_err()),
    }
});
