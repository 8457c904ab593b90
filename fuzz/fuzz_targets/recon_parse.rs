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
        if !printed.contains("nan") && !printed.contains("inf") {
            assert_eq!(back, value, "{printed}");
        }
    }
});
