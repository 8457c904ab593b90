//! Map input from anyone: any bytes decode to `map` frames or an error, never a panic,
//! any bytes are a relay datagram that re-encodes to them or an error (and likewise a
//! traverse hello),
//! and every frame re-encodes to the bytes it came from; any record decodes or not, and
//! verifying it (at any time) never panics, and a record that verifies stops verifying
//! when a field changes; any bytes decode to a flow table (re-encoding to them) or an
//! error, and verifying one never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocols::map::relay::Datagram;
use protocols::map::traverse::Hello;
use protocols::map::{Frame, Record};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((frame, n))) = Frame::decode(rest) {
        assert_eq!(frame.encode(), &rest[..n]);
        if let Frame::Register(r) | Frame::Found(r) | Frame::Wanted(r) = &frame {
            // A record that verifies (a seed's) stops verifying when any field changes.
            let at = r.expires.saturating_sub(1);
            if r.verify(at).is_ok() {
                let mut changed = r.clone();
                changed.seq ^= 1;
                assert!(changed.verify(at).is_err());
            }
        }
        rest = &rest[n..];
    }
    // Relay datagrams: any bytes read as one or not; one that reads re-encodes to them.
    if let Ok(d) = Datagram::decode(data) {
        let mut again = Vec::new();
        d.encode_into(&mut again);
        assert_eq!(again, data);
    }
    // A traverse hello: any bytes read as one (re-encoding to the bytes it took) or not.
    if let Ok(Some((h, n))) = Hello::decode(data) {
        assert_eq!(h.encode(), &data[..n]);
    }
    // Datagrams carried over TCP: each read re-encodes to the bytes it took.
    let mut rest = data;
    while let Ok(Some((d, n))) = protocols::map::carried::get(rest) {
        let mut again = Vec::new();
        protocols::map::carried::put(&mut again, d);
        assert_eq!(again, &rest[..n]);
        rest = &rest[n..];
    }
    if let Ok(t) = protocols::map::flows::Table::decode(data) {
        assert_eq!(t.encode(), data);
        let _ = t.verify(&t.map, &t.node);
    }
    if let Ok(r) = Record::decode(data) {
        assert_eq!(r.encode(), data);
        let _ = r.verify(0);
    }
});
