//! Channel headers, replies, ping probes and gate datagrams: decoding never panics, and what decodes
//! encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::channel::{ChannelOpen, ChannelReply};
use protocols::datagram;
use protocols::ping::Probe;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((h, n))) = ChannelOpen::decode(data) {
        assert_eq!(h.encode(), &data[..n]);
    }
    if let Ok(Some((r, n))) = ChannelReply::decode(data) {
        assert_eq!(r.encode(), &data[..n]);
    }
    if let Ok(Some((p, n))) = Probe::decode(data) {
        assert_eq!(p.encode().len(), n);
    }
    if let Ok(Some((d, n))) = datagram::decode(data) {
        assert_eq!(datagram::encode(&d).unwrap(), &data[..n]);
    }
});
