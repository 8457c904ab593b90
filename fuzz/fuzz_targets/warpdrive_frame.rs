//! warpdrive frames from untrusted bytes: decoding never panics, and what decodes encodes
//! back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::warpdrive::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((m, n))) = Message::decode(data) {
        assert_eq!(m.encode().unwrap(), &data[..n]);
    }
});
