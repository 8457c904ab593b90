//! Why the offer store could not answer: the database, a record that does not read back,
//! or an id that names no offer (or several).

/// Why the offer store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (disk full, I/O error, corrupted file).
    #[error("offer store: {0}")]
    Db(#[from] sled::Error),
    /// A record could not be written as Recon.
    #[error("offer {id}: cannot record it: {why}")]
    Encode {
        /// The offer.
        id: String,
        /// What the writer said.
        why: recon::SerError,
    },
    /// A record that does not read back.
    #[error("offer {id}: stored {what} do not decode{}", why.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    Corrupt {
        /// The offer.
        id: String,
        /// Which record.
        what: &'static str,
        /// What the reader said.
        why: Option<String>,
    },
    /// A record that is not there (dropped when the offer ended).
    #[error("offer {id}: no {what} stored")]
    Missing {
        /// The offer.
        id: String,
        /// Which record.
        what: &'static str,
    },
    /// No offer has this id or starts with it.
    #[error("no offer {0:?}")]
    NotFound(String),
    /// A prefix too short to look for.
    #[error("no offer {0:?}: a prefix of an offer id needs at least 4 characters")]
    ShortPrefix(String),
    /// A prefix that several offers start with.
    #[error("{0:?} names more than one offer")]
    Ambiguous(String),
}

impl StoreError {
    /// Whether the error is about the id asked for (none, or several, match) rather
    /// than about storage.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound(_) | StoreError::ShortPrefix(_) | StoreError::Ambiguous(_)
        )
    }
}
