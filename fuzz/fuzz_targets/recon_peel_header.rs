//! The header peeler never panics, and the body it returns is a suffix of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = recon::peel_header(text) {
        assert!(text.ends_with(header.body));
        assert_eq!(&text[header.body_offset..], header.body);
        let _ = recon::parse(header.body);
    }
});
