//! A word that is not one of those a setting takes (a policy, a flow mode, a role).

/// A word that is not one of those a setting takes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not {what}: use {choices}")]
pub struct BadWord {
    /// The word given.
    pub word: String,
    /// What it should be ("a flow mode").
    pub what: &'static str,
    /// The words that are.
    pub choices: &'static str,
}

impl BadWord {
    /// `word`, refused as `what`, which takes `choices`.
    pub fn new(word: &str, what: &'static str, choices: &'static str) -> BadWord {
        BadWord {
            word: word.to_string(),
            what,
            choices,
        }
    }
}
