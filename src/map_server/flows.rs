//! The flows a map defines (`warp map --flows FILE`): the file as last read well, watched
//! and applied on every save (a bad file is reported and the last good one kept), the
//! table each member node is sent (its flows, signed by the map's key), changes made by
//! the REST API and by requests to join, and what the members say of themselves
//! (connected, congested).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use protocols::map::flows::{FlowDef, Member, Table};
use tracing::{info, warn};

use super::flow_file::{self, Edit, EditError, FlowFile, Join, MapFlow};
use super::joins::{JoinRequest, Joins, JoinsError};
use crate::flow_book::{Mode, Role};
use crate::identity::{Identity, PeerId};

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(200);

/// What a member node said of itself on its flows channel.
#[derive(Clone, Debug, Default)]
pub struct Presence {
    /// Its flows that are congested now.
    pub congested: Vec<String>,
}

/// What became of a request to join.
#[derive(Debug, PartialEq)]
pub enum Joined {
    /// The node is a member now.
    Granted,
    /// The request waits for approval, with this number.
    Held(u64),
}

/// Why a request or an edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum FlowsError {
    /// The map was started without `--flows`.
    #[error("this map defines no flows (start it with --flows FILE)")]
    NoFile,
    /// No such flow.
    #[error("no flow {0:?} on this map")]
    NoFlow(String),
    /// No such request.
    #[error("no request {0} waits")]
    NoRequest(u64),
    /// The edit was not made.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The requests could not be kept.
    #[error(transparent)]
    Joins(#[from] JoinsError),
    /// The file could not be written.
    #[error("writing {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// The map's flows.
pub struct Flows {
    path: Option<PathBuf>,
    /// The file as last read well (`None`: none yet, so no tables are sent).
    file: RwLock<Option<FlowFile>>,
    /// The file's bytes as last seen, by the watcher or an edit.
    seen: Mutex<Option<Vec<u8>>>,
    /// Bumped on every change; each member's channel then sends its table if it changed.
    changed: tokio::sync::watch::Sender<u64>,
    /// Member nodes whose flows channel is open.
    present: Mutex<HashMap<PeerId, (u64, Presence)>>,
    /// One edit at a time.
    editing: tokio::sync::Mutex<()>,
    seq: crate::sequence::Sequence,
    identity: Identity,
    /// Requests that wait for approval.
    pub joins: Joins,
}

/// Unix seconds now.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Flows {
    /// The flows of the file at `path` (none without one), signed by `identity`, with
    /// requests kept in `joins`. The file is read at once: a bad one is reported.
    pub fn new(path: Option<PathBuf>, identity: Identity, joins: Joins) -> Flows {
        let flows = Flows {
            path,
            file: RwLock::new(None),
            seen: Mutex::new(None),
            changed: tokio::sync::watch::channel(0).0,
            present: Mutex::default(),
            editing: tokio::sync::Mutex::new(()),
            seq: Default::default(),
            identity,
            joins,
        };
        flows.look();
        flows
    }

    /// Whether the map defines flows.
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// The file as last read well.
    pub fn file(&self) -> Option<FlowFile> {
        self.file.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Tells every member's channel that the flows changed.
    fn set(&self, file: FlowFile) {
        *self.file.write().unwrap_or_else(|p| p.into_inner()) = Some(file);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Reads the file if it changed since last seen; applies it if it is good.
    fn look(&self) {
        let Some(path) = &self.path else { return };
        let bytes = {
            // Read under the lock an edit holds while it writes: an edit's own bytes are
            // not taken for a save.
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let bytes = std::fs::read(path).ok();
            if *seen == bytes && self.file().is_some() {
                return;
            }
            *seen = bytes.clone();
            bytes
        };
        let parsed = match &bytes {
            // No file yet: no flows, until one is written (by hand or by the API).
            None if self.file().is_none() => Ok(FlowFile::default()),
            None => {
                warn!(
                    "flows file {} has gone; keeping the flows last read",
                    path.display()
                );
                return;
            }
            Some(b) => match std::str::from_utf8(b) {
                Ok(text) => FlowFile::parse(text).map_err(|e| e.to_string()),
                Err(_) => Err("not UTF-8".to_string()),
            },
        };
        match parsed {
            Ok(file) => {
                info!(
                    "flows file {}: {} flows applied",
                    path.display(),
                    file.flow.len()
                );
                self.set(file);
            }
            Err(e) => warn!(
                "flows file {}: {e}; keeping the flows last read",
                path.display()
            ),
        }
    }

    /// Applies the file on every save, until the map stops.
    pub async fn watch(&self) {
        loop {
            tokio::time::sleep(POLL).await;
            self.look();
        }
    }

    /// A receiver that hears of every change.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The flows `node` is a member of, as its table holds them (`None` while no file was
    /// read well).
    pub fn flows_of(&self, node: PeerId) -> Option<Vec<FlowDef>> {
        let file = self.file()?;
        let defs = file
            .flow
            .iter()
            .filter(|f| f.roles().iter().any(|(m, _)| file.key_of(m) == Some(node)))
            .map(|f| def(&file, f))
            .collect();
        Some(defs)
    }

    /// `flows` as a table for `node`, signed.
    pub fn sign(&self, node: PeerId, flows: Vec<FlowDef>) -> Table {
        let mut t = Table {
            map: self.identity.peer_id().0,
            node: node.0,
            seq: self.seq.next(),
            flows,
            signature: [0; 64],
        };
        t.signature = self.identity.sign(&t.signed_bytes());
        t
    }

    /// Notes that `node`'s flows channel is open (until [`Flows::absent`] with the same
    /// token).
    pub fn present(&self, node: PeerId, token: u64) {
        let mut p = self.present.lock().unwrap_or_else(|p| p.into_inner());
        p.insert(node, (token, Presence::default()));
    }

    /// Notes what `node` said of its flows.
    pub fn report(&self, node: PeerId, congested: Vec<String>) {
        let mut p = self.present.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, presence)) = p.get_mut(&node) {
            presence.congested = congested;
        }
    }

    /// Notes that `node`'s flows channel (the one of `token`) closed.
    pub fn absent(&self, node: PeerId, token: u64) {
        let mut p = self.present.lock().unwrap_or_else(|p| p.into_inner());
        if p.get(&node).is_some_and(|(t, _)| *t == token) {
            p.remove(&node);
        }
    }

    /// What `node` said, if its channel is open.
    pub fn presence(&self, node: &PeerId) -> Option<Presence> {
        let p = self.present.lock().unwrap_or_else(|p| p.into_inner());
        p.get(node).map(|(_, presence)| presence.clone())
    }

    /// Makes `edit` in the file (written in place, comments kept) and applies it.
    pub async fn edit(&self, edit: &Edit) -> Result<FlowFile, FlowsError> {
        let path = self.path.as_ref().ok_or(FlowsError::NoFile)?;
        let _one = self.editing.lock().await;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(FlowsError::Write(path.clone(), e)),
        };
        let (out, file) = flow_file::edit(&text, edit)?;
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            write(path, out.as_bytes()).map_err(|e| FlowsError::Write(path.clone(), e))?;
            *seen = Some(out.into_bytes());
        }
        info!("flows file {}: changed ({edit:?})", path.display());
        self.set(file.clone());
        Ok(file)
    }

    /// `id` asks to join `flow` in `role`, named `name` if it has no name yet (empty: a
    /// name is made from its key): granted at once, or held, as the file's rule says.
    pub async fn join(
        &self,
        id: PeerId,
        flow: &str,
        role: Role,
        name: &str,
    ) -> Result<Joined, FlowsError> {
        let file = self.file().ok_or(FlowsError::NoFile)?;
        let f = file
            .get(flow)
            .ok_or_else(|| FlowsError::NoFlow(flow.to_string()))?;
        // A member already (by name or by key): the role is what may change.
        let already = f
            .roles()
            .into_iter()
            .find(|(m, _)| file.key_of(m) == Some(id));
        if already.as_ref().is_some_and(|(_, r)| *r == role) {
            return Ok(Joined::Granted);
        }
        let name = match already {
            Some((m, _)) => m,
            None => member_name(&file, id, name),
        };
        match file.join_rule(f) {
            Join::Open => {
                self.grant(flow, &name, role, id).await?;
                Ok(Joined::Granted)
            }
            Join::Approve => {
                let n = self.joins.hold(id, flow, (&name, role), now())?;
                info!("{id} asks to join flow {flow} as {name} ({role:?}): request {n} waits for approval");
                Ok(Joined::Held(n))
            }
        }
    }

    async fn grant(
        &self,
        flow: &str,
        name: &str,
        role: Role,
        id: PeerId,
    ) -> Result<(), FlowsError> {
        let edit = Edit::SetMember {
            flow: flow.to_string(),
            member: name.to_string(),
            role,
            key: Some(id),
        };
        self.edit(&edit).await?;
        info!("{id} joined flow {flow} as {name} ({role:?})");
        Ok(())
    }

    /// Approves request `n`: its node becomes a member.
    pub async fn approve(&self, n: u64) -> Result<JoinRequest, FlowsError> {
        let r = self.joins.get(n).ok_or(FlowsError::NoRequest(n))?;
        let id: PeerId = r.id.parse().map_err(|_| FlowsError::NoRequest(n))?;
        self.grant(&r.flow, &r.name, r.role, id).await?;
        self.joins.take(n)?;
        Ok(r)
    }

    /// Denies request `n`.
    pub fn deny(&self, n: u64) -> Result<JoinRequest, FlowsError> {
        self.joins.take(n)?.ok_or(FlowsError::NoRequest(n))
    }
}

/// The name `id` goes by in the file: the one it has, else `asked` if free, else one made
/// from its key.
fn member_name(file: &FlowFile, id: PeerId, asked: &str) -> String {
    if let Some(n) = file.name_of(&id) {
        return n.to_string();
    }
    let free = |n: &str| !n.is_empty() && file.key_of(n).is_none() && n.parse::<PeerId>().is_err();
    if free(asked) && crate::gate_book::valid_name(asked) && asked.len() <= 32 {
        return asked.to_string();
    }
    let made = format!("node-{}", &id.to_string()[..8]);
    match free(&made) {
        true => made,
        false => id.to_string(),
    }
}

/// A flow of the file as tables carry it.
fn def(file: &FlowFile, f: &MapFlow) -> FlowDef {
    let members = f
        .roles()
        .into_iter()
        .filter_map(|(m, role)| {
            let id = file.key_of(&m)?;
            // A member named by its key goes by the key's start in tables.
            let name = match m.len() > protocols::map::flows::MAX_NAME {
                true => m[..12].to_string(),
                false => m,
            };
            Some(Member {
                id: id.0,
                role: role.code(),
                name,
            })
        })
        .collect();
    use protocols::map::flows::mode;
    FlowDef {
        name: f.name.clone(),
        mode: match f.mode {
            Mode::OneToOne => mode::ONE_TO_ONE,
            Mode::OneToMany => mode::ONE_TO_MANY,
            Mode::ManyToOne => mode::MANY_TO_ONE,
            Mode::ManyToMany => mode::MANY_TO_MANY,
        },
        paths: crate::bond_mode::code(f.paths),
        port: f.port,
        ip: f.ip.map(|ip| std::net::SocketAddr::new(ip, 0)),
        deliver: f.deliver,
        members,
    }
}

/// Writes `bytes` to `path` whole or not at all (a file beside it, then renamed over).
fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".saving");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
