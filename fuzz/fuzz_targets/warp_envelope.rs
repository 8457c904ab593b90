//! Envelope decoding never panics; a decoded envelope re-encodes to one that decodes to
//! the same tag and headers; envelopes read from a stream (the `links` channel)
//! re-encode to the bytes they took.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::warp::Envelope;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((text, n))) = protocols::warp::stream::get(rest) {
        let mut again = Vec::new();
        protocols::warp::stream::put(&mut again, &text);
        assert_eq!(again, &rest[..n]);
        rest = &rest[n..];
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(env) = Envelope::decode(text) {
        if let Ok(body) = env.body_value() {
            let again = Envelope::encode(env.tag, env.headers.as_ref(), &body);
            let back = Envelope::decode(&again).expect("an encoded envelope decodes");
            assert_eq!(back.tag, env.tag);
            if env
                .headers
                .iter()
                .all(|h| h.prio.is_none_or(f64::is_finite) && h.rate.is_none_or(f64::is_finite))
            {
                assert_eq!(back.headers, env.headers);
            }
        }
    }
});
