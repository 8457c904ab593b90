//! Bond frames from a peer: any bytes decode to frames or an error, never a panic; every
//! frame re-encodes to the bytes it came from; fed to a receiver and a sender, frames
//! either apply or are refused with an error — the buffer never holds more than its
//! window, and what it delivers is in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::bond::frame::Frame;
use protocols::bond::head::Head;
use protocols::bond::reorder::{Reorder, Taken};
use protocols::bond::send_log::SendLog;

fuzz_target!(|data: &[u8]| {
    let mut reorder = Reorder::new(64 * 1024);
    let mut log = SendLog::default();
    for n in 0..8u8 {
        let _ = log.push(vec![n; 100]);
    }
    let mut rest = data;
    let mut delivered = 0u64;
    while let Ok(Some((frame, n))) = Frame::decode(rest) {
        assert_eq!(frame.encode().unwrap(), &rest[..n]);
        rest = &rest[n..];
        match frame {
            Frame::Data { seq, payload } => {
                if let Ok(Taken::Delivered(parts)) = reorder.take(seq, payload) {
                    delivered += parts.len() as u64;
                }
                assert!(reorder.buffered() <= 64 * 1024);
                assert_eq!(reorder.next(), delivered);
            }
            Frame::Ack { next, window } => {
                let before = log.acked();
                if log.ack(next, window).is_ok() {
                    assert!(log.acked() >= before);
                }
            }
            Frame::Fin { seq } => {
                let _ = reorder.fin(seq);
            }
            Frame::Got { .. } => {}
        }
    }
    // The same bytes as a stream's header: decoded or refused, and re-encoded exactly.
    if let Ok(Some((head, n))) = Head::decode(data) {
        assert_eq!(head.encode(), &data[..n]);
    }
});
