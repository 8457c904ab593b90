//! Requests to join a flow that wait for the map's operator (`join = "approve"`), in sled
//! so a restart loses none. Each has a number the REST API approves or denies it by.

use serde::{Deserialize, Serialize};

use crate::flow_book::Role;
use crate::identity::PeerId;

/// Most requests waiting at once.
pub const MAX_WAITING: usize = 1000;
/// Most requests one key may have waiting.
pub const MAX_PER_KEY: usize = 16;

/// A request to join a flow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Its number.
    pub n: u64,
    /// The flow.
    pub flow: String,
    /// Who asks (a peer id).
    pub id: String,
    /// The name it would have in the flow.
    pub name: String,
    /// The role asked for.
    pub role: Role,
    /// When it was asked (Unix seconds).
    pub at: u64,
}

/// Why a request was not kept.
#[derive(Debug, thiserror::Error)]
pub enum JoinsError {
    /// Too many waiting.
    #[error(
        "{0} requests wait for approval already (at most {MAX_WAITING}, {MAX_PER_KEY} per key)"
    )]
    Full(usize),
    /// The database.
    #[error("the map's database: {0}")]
    Store(#[from] sled::Error),
}

/// The requests waiting.
pub struct Joins {
    db: sled::Db,
    tree: sled::Tree,
}

impl Joins {
    /// The requests kept in `db`.
    pub fn open(db: &sled::Db) -> Result<Joins, sled::Error> {
        Ok(Joins {
            db: db.clone(),
            tree: db.open_tree("join_requests")?,
        })
    }

    /// Every request waiting, oldest first.
    pub fn all(&self) -> Vec<JoinRequest> {
        self.tree
            .iter()
            .values()
            .filter_map(|v| serde_json::from_slice(&v.ok()?).ok())
            .collect()
    }

    /// The request numbered `n`.
    pub fn get(&self, n: u64) -> Option<JoinRequest> {
        let v = self.tree.get(n.to_be_bytes()).ok()??;
        serde_json::from_slice(&v).ok()
    }

    /// Keeps a request of `id` to join `flow` as `name` in `role` (one already waiting
    /// for the same flow is changed to this one): its number.
    pub fn hold(
        &self,
        id: PeerId,
        flow: &str,
        (name, role): (&str, Role),
        now: u64,
    ) -> Result<u64, JoinsError> {
        let all = self.all();
        let key = id.to_string();
        let mine = all.iter().filter(|r| r.id == key).count();
        let same = all.iter().find(|r| r.id == key && r.flow == flow);
        if same.is_none() && (all.len() >= MAX_WAITING || mine >= MAX_PER_KEY) {
            return Err(JoinsError::Full(all.len()));
        }
        let n = match same {
            Some(r) => r.n,
            None => self.db.generate_id()? + 1,
        };
        let r = JoinRequest {
            n,
            flow: flow.to_string(),
            id: key,
            name: name.to_string(),
            role,
            at: now,
        };
        let bytes = serde_json::to_vec(&r).expect("a request always serializes");
        self.tree.insert(n.to_be_bytes(), bytes)?;
        self.tree.flush()?;
        Ok(n)
    }

    /// Forgets request `n`: it, if it waited.
    pub fn take(&self, n: u64) -> Result<Option<JoinRequest>, JoinsError> {
        let old = self.get(n);
        self.tree.remove(n.to_be_bytes())?;
        self.tree.flush()?;
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_kept_numbered_replaced_and_bounded() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let joins = Joins::open(&db).unwrap();
        let a = PeerId([1; 32]);
        let n = joins.hold(a, "video", ("gcs5", Role::Recv), 10).unwrap();
        // Asked again for the same flow: the same request, changed.
        let again = joins.hold(a, "video", ("gcs5", Role::Both), 11).unwrap();
        assert_eq!(n, again);
        assert_eq!(joins.get(n).unwrap().role, Role::Both);
        for i in 0..MAX_PER_KEY - 1 {
            joins
                .hold(a, &format!("f{i}"), ("gcs5", Role::Recv), 12)
                .unwrap();
        }
        assert!(matches!(
            joins.hold(a, "one-more", ("gcs5", Role::Recv), 13),
            Err(JoinsError::Full(_))
        ));
        assert_eq!(joins.take(n).unwrap().unwrap().flow, "video");
        assert!(joins.take(n).unwrap().is_none());
        assert_eq!(joins.all().len(), MAX_PER_KEY - 1);
    }
}
