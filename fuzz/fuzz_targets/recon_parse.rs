//! Any text either parses or is refused with an error; what parses prints as text that
//! parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = recon::parse(text) {
        if value.is_extant() {
            return;
        }
        let printed = recon::to_compact_string(&value);
        let back = recon::parse(&printed).expect("printed Recon parses");
        // Non-finite floats have no literal; everything else must round-trip.
        if all_finite(&value) {
            assert_eq!(back, value, "{printed}");
        }
    }
});

/// Whether every float in `v`, at any depth, is finite (an explicit stack: no recursion).
fn all_finite(v: &recon::Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            recon::Value::Float(f) if !f.is_finite() => return false,
            recon::Value::Record(r) => {
                for item in r.iter() {
                    match item {
                        recon::Item::Attr(_, v) | recon::Item::Value(v) => stack.push(v),
                        recon::Item::Slot(k, v) => {
                            stack.push(k);
                            stack.push(v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    true
}
