//! The bodies the REST API and the configuration file take from outside: decoding never
//! panics, every check answers, and what decodes encodes back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warp::flow_book::Flow;
use warp::gate_book::{valid_name, Exposed, Opened};

fn round_trip<T>(v: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = serde_json::to_vec(v).expect("a decoded body encodes");
    let back: T = serde_json::from_slice(&bytes).expect("an encoded body decodes");
    assert_eq!(&back, v);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Ok(g) = serde_json::from_slice::<Exposed>(body) {
                let _ = valid_name(&g.name);
                let _ = g.reach();
                round_trip(&g);
            }
        }
        1 => {
            if let Ok(g) = serde_json::from_slice::<Opened>(body) {
                let _ = valid_name(&g.name);
                round_trip(&g);
            }
        }
        2 => {
            if let Ok(f) = serde_json::from_slice::<Flow>(body) {
                let _ = f.check();
                let _ = f.roles().count();
                round_trip(&f);
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(body) {
                let _ = warp::config::parse(text);
            }
        }
    }
});
