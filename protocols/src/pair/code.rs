//! Pairing codes: `7-orbit-velvet` — a nameplate (the number that lets the receiver find
//! the sender's offer among others waiting at the same time) and two words, the secret:
//! 16 bits, which a password-authenticated key exchange makes enough for a code that
//! works once (an attacker gets one guess: 1 in 65 536).

use super::words::{index_of, WORDS};

/// The largest nameplate.
pub const MAX_NAMEPLATE: u16 = 999;

/// A pairing code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// The nameplate, 1 to [`MAX_NAMEPLATE`].
    pub nameplate: u16,
    /// The secret: two word indexes.
    pub secret: [u8; 2],
}

/// Why a text is not a pairing code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not a number and two words, separated by dashes or spaces.
    #[error("a code is a number and two words, like 7-orbit-velvet")]
    Shape,
    /// The number is 0 or too large.
    #[error("the number of a code is 1 to {MAX_NAMEPLATE}")]
    Nameplate,
    /// A word that is not on the list (a typo?).
    #[error("{0:?} is not a word of warp's codes: check the spelling")]
    Word(String),
}

impl Code {
    /// A code from its parts; `nameplate` is brought into 1..=[`MAX_NAMEPLATE`].
    pub fn new(nameplate: u16, secret: [u8; 2]) -> Code {
        Code {
            nameplate: nameplate % MAX_NAMEPLATE + 1,
            secret,
        }
    }

    /// Reads a code as a person may type it: case, dashes or spaces, and spaces around
    /// it do not matter.
    pub fn parse(text: &str) -> Result<Code, CodeError> {
        let lower = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower
            .split(|c: char| c == '-' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let [number, a, b] = parts[..] else {
            return Err(CodeError::Shape);
        };
        if number.len() > 3 || !number.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::Shape);
        }
        let nameplate: u16 = number.parse().map_err(|_| CodeError::Shape)?;
        if nameplate == 0 || nameplate > MAX_NAMEPLATE {
            return Err(CodeError::Nameplate);
        }
        let word = |w: &str| index_of(w).ok_or_else(|| CodeError::Word(w.to_string()));
        Ok(Code {
            nameplate,
            secret: [word(a)?, word(b)?],
        })
    }

    /// The secret as the key exchange takes it: the words, so that every way of typing
    /// the code gives the same bytes.
    pub fn password(&self) -> String {
        format!(
            "{}-{}",
            WORDS[self.secret[0] as usize], WORDS[self.secret[1] as usize]
        )
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.nameplate, self.password())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_and_parse_back_however_they_are_typed() {
        let c = Code::parse("7-orbit-velvet").unwrap();
        assert_eq!(c.to_string(), "7-orbit-velvet");
        assert_eq!(Code::parse("  7 Orbit VELVET ").unwrap(), c);
        assert_eq!(Code::parse("7--orbit-velvet").unwrap(), c);
        assert_eq!(Code::parse("7-orbit"), Err(CodeError::Shape));
        assert_eq!(Code::parse("x-orbit-velvet"), Err(CodeError::Shape));
        assert_eq!(Code::parse("1000-orbit-velvet"), Err(CodeError::Shape));
        assert_eq!(Code::parse("0-orbit-velvet"), Err(CodeError::Nameplate));
        assert_eq!(
            Code::parse("7-orbit-velvit"),
            Err(CodeError::Word("velvit".into()))
        );
        for n in [0, 1, 998, 999, u16::MAX] {
            let c = Code::new(n, [0, 255]);
            assert!((1..=MAX_NAMEPLATE).contains(&c.nameplate));
            assert_eq!(Code::parse(&c.to_string()).unwrap(), c);
        }
    }
}
