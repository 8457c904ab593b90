//! Channel headers, replies, ping probes, gate datagrams and flow acknowledgements:
//! decoding never panics, and what decodes
//! encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::channel::{ChannelOpen, ChannelReply};
use protocols::datagram;
use protocols::flow::Credit;
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
    // Acknowledgements against a sender that sent as many bytes as the first eight say.
    if data.len() >= 8 {
        let mut credit = Credit::default();
        credit.sent(u64::from_be_bytes(data[..8].try_into().unwrap()));
        let before = credit.in_flight();
        if credit.feed(&data[8..]).is_ok() {
            assert!(credit.in_flight() <= before);
        }
    }
});
