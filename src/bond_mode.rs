//! How a channel uses a peer's paths (`aggregate`, `redundant`, `failover`; see
//! `docs/bond.md`) as it appears in `warp.toml`, the control socket and the REST API:
//! its name, and absent when it is the default, `aggregate`.

pub use protocols::bond::schedule::Mode;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes the mode by name.
pub fn serialize<S: Serializer>(mode: &Mode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&mode.to_string())
}

/// Reads a mode's name; any other word is an error that names the three.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// The mode's code in a map's flow table (`aggregate` 0, `redundant` 1, `failover` 2).
pub fn code(mode: Mode) -> u8 {
    match mode {
        Mode::Aggregate => 0,
        Mode::Redundant => 1,
        Mode::Failover => 2,
    }
}

/// The mode of a code in a map's flow table (an unknown code is refused when the table
/// is read, so any other is the default).
pub fn from_code(code: u8) -> Mode {
    match code {
        1 => Mode::Redundant,
        2 => Mode::Failover,
        _ => Mode::Aggregate,
    }
}

/// Whether `mode` is the default, so it need not be written.
pub fn is_default(mode: &Mode) -> bool {
    *mode == Mode::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Gate {
        #[serde(default, with = "super", skip_serializing_if = "is_default")]
        mode: Mode,
    }

    #[test]
    fn modes_are_written_by_name_and_the_default_not_at_all() {
        let g: Gate = serde_json::from_str(r#"{"mode":"redundant"}"#).unwrap();
        assert_eq!(g.mode, Mode::Redundant);
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"mode":"redundant"}"#
        );
        let d: Gate = serde_json::from_str("{}").unwrap();
        assert_eq!(d.mode, Mode::Aggregate);
        assert_eq!(serde_json::to_string(&d).unwrap(), "{}");
        let e = serde_json::from_str::<Gate>(r#"{"mode":"both"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("use aggregate, redundant or failover"),
            "{e}"
        );
    }
}
