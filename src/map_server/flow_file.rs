//! The map's flows file (`warp map --flows FILE`, TOML): named flows with their mode, port
//! and members by name, and the names' keys. The whole file is checked before any of it
//! is used; the REST API's changes are written back into it with its comments and
//! layout kept, so the file stays the one place flows are defined.
//!
//! ```toml
//! join = "approve"      # requests to join: "open" grants at once, "approve" holds them
//!
//! [names]               # a name means this key everywhere in the file
//! drone3 = "k7aq...52 characters of base32"
//! gcs4 = "m2xd..."
//!
//! [[flow]]
//! name = "video"
//! mode = "1:n"          # 1:1, 1:n, n:1 or n:n
//! port = 5600           # on every member, applications send into 127.1.0.1:5600
//! send = ["drone3"]     # members by name (or key); `members` send and receive
//! recv = ["gcs4"]
//! join = "open"         # optional: this flow's rule, instead of the file's
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::flow_book::{Flow, Mode, Role, SELF};
use crate::identity::PeerId;

/// Most flows in a file.
pub const MAX_FLOWS: usize = 1024;
/// Most names in a file.
pub const MAX_NAMES: usize = 4096;

/// What happens to a request to join a flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Join {
    /// Granted at once.
    Open,
    /// Held until the operator approves it.
    #[default]
    Approve,
}

/// One flow as the file defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapFlow {
    /// Its name.
    pub name: String,
    /// How members are joined.
    pub mode: Mode,
    /// The local port on every member.
    pub port: u16,
    /// The local address of that port on every member; 127.1.0.1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Where every member delivers, besides the applications that sent into the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<SocketAddr>,
    /// Members that send and receive, by name or key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Members that only send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub send: Vec<String>,
    /// Members that only receive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recv: Vec<String>,
    /// How its channels use a peer's paths.
    #[serde(
        default,
        with = "crate::bond_mode",
        skip_serializing_if = "crate::bond_mode::is_default"
    )]
    pub paths: crate::bond_mode::Mode,
    /// This flow's rule for requests to join; the file's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Join>,
}

impl MapFlow {
    /// The flow as the node flow code holds it, members as written; `me` (a member's
    /// name) becomes `self`.
    pub fn as_flow(&self, me: Option<&str>) -> Flow {
        let swap = |l: &Vec<String>| {
            l.iter()
                .map(|m| match Some(m.as_str()) == me {
                    true => SELF.to_string(),
                    false => m.clone(),
                })
                .collect()
        };
        Flow {
            name: self.name.clone(),
            mode: self.mode,
            port: self.port,
            ip: self.ip,
            deliver: self.deliver,
            members: swap(&self.members),
            send: swap(&self.send),
            recv: swap(&self.recv),
            paths: self.paths,
        }
    }

    /// Every member with its role.
    pub fn roles(&self) -> Vec<(String, Role)> {
        self.as_flow(None)
            .roles()
            .map(|(m, r)| (m.to_string(), r))
            .collect()
    }
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// The rule for requests to join, where a flow does not give its own.
    #[serde(default)]
    pub join: Join,
    /// Names and the keys they mean.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// The flows.
    #[serde(default)]
    pub flow: Vec<MapFlow>,
}

/// What is wrong with a flows file.
#[derive(Debug, thiserror::Error)]
pub enum FlowFileError {
    /// Not TOML, or not this file's shape.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// A flow breaks a rule of flows.
    #[error(transparent)]
    Flow(#[from] crate::flow_error::FlowError),
    /// A name is not a name.
    #[error("{0:?} cannot be a name: use 1 to 32 of a-z, 0-9, '.', '_' and '-'")]
    BadName(String),
    /// A name's key is not a peer id.
    #[error("names.{0}: {1}")]
    BadKey(String, crate::identity::BadPeerId),
    /// Two names for one key.
    #[error("names {0} and {1} are the same key")]
    SameKey(String, String),
    /// A member that is neither a name nor a key.
    #[error("flow {0}: {1:?} is not in [names] and is not a key")]
    UnknownMember(String, String),
    /// `self` means nothing on a map.
    #[error("flow {0}: `self` means nothing on a map: name each member")]
    SelfOnMap(String),
    /// Two flows of one name.
    #[error("two flows named {0}")]
    Twice(String),
    /// One key twice in a flow, under two names.
    #[error("flow {0}: {1} and {2} are the same key")]
    KeyTwice(String, String, String),
    /// Over the limits.
    #[error("{0}")]
    TooMany(String),
}

/// Whether `name` may be a flow's or a member's name on a map (it goes into tables).
fn valid_name(name: &str) -> bool {
    crate::gate_book::valid_name(name) && name.len() <= protocols::map::flows::MAX_NAME
}

impl FlowFile {
    /// Parses and checks the file's text.
    pub fn parse(text: &str) -> Result<FlowFile, FlowFileError> {
        let file: FlowFile = toml::from_str(text)?;
        file.check()?;
        Ok(file)
    }

    /// Checks every rule: names and keys, each flow's shape, members that mean a key,
    /// and the limits (a node in at most as many flows as a table holds).
    pub fn check(&self) -> Result<(), FlowFileError> {
        if self.flow.len() > MAX_FLOWS || self.names.len() > MAX_NAMES {
            return Err(FlowFileError::TooMany(format!(
                "{} flows and {} names (at most {MAX_FLOWS} and {MAX_NAMES})",
                self.flow.len(),
                self.names.len()
            )));
        }
        let mut keys: BTreeMap<PeerId, &str> = BTreeMap::new();
        for (name, key) in &self.names {
            if !valid_name(name) {
                return Err(FlowFileError::BadName(name.clone()));
            }
            let id: PeerId = key
                .parse()
                .map_err(|e| FlowFileError::BadKey(name.clone(), e))?;
            if let Some(other) = keys.insert(id, name) {
                return Err(FlowFileError::SameKey(other.to_string(), name.clone()));
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut per_node: BTreeMap<PeerId, usize> = BTreeMap::new();
        for f in &self.flow {
            if !valid_name(&f.name) {
                return Err(FlowFileError::BadName(f.name.clone()));
            }
            if !names.insert(f.name.as_str()) {
                return Err(FlowFileError::Twice(f.name.clone()));
            }
            f.as_flow(None).check_shape()?;
            let mut in_flow: BTreeMap<PeerId, String> = BTreeMap::new();
            for (m, _) in f.roles() {
                if m == SELF {
                    return Err(FlowFileError::SelfOnMap(f.name.clone()));
                }
                let id = self
                    .key_of(&m)
                    .ok_or_else(|| FlowFileError::UnknownMember(f.name.clone(), m.clone()))?;
                if let Some(other) = in_flow.insert(id, m.clone()) {
                    return Err(FlowFileError::KeyTwice(f.name.clone(), other, m));
                }
                let n = per_node.entry(id).or_default();
                *n += 1;
                if *n > protocols::map::flows::MAX_FLOWS {
                    return Err(FlowFileError::TooMany(format!(
                        "{m} is in more than {} flows",
                        protocols::map::flows::MAX_FLOWS
                    )));
                }
            }
        }
        Ok(())
    }

    /// The key a member stands for: its name's, or itself when it is a key.
    pub fn key_of(&self, member: &str) -> Option<PeerId> {
        match self.names.get(member) {
            Some(k) => k.parse().ok(),
            None => member.parse().ok(),
        }
    }

    /// The name the file gives `id`, if any.
    pub fn name_of(&self, id: &PeerId) -> Option<&str> {
        self.names
            .iter()
            .find(|(_, k)| k.parse::<PeerId>().ok() == Some(*id))
            .map(|(n, _)| n.as_str())
    }

    /// The flow called `name`.
    pub fn get(&self, name: &str) -> Option<&MapFlow> {
        self.flow.iter().find(|f| f.name == name)
    }

    /// The rule for requests to join `flow`.
    pub fn join_rule(&self, flow: &MapFlow) -> Join {
        flow.join.unwrap_or(self.join)
    }
}

/// A change the REST API (or an approved request) makes to the file.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Adds a flow, or replaces the one of its name.
    PutFlow(MapFlow),
    /// Removes a flow.
    RemoveFlow(String),
    /// Makes `member` a member of `flow` in `role` (replacing its role there); with a
    /// key, `member` becomes a name for it first where it is not one yet.
    SetMember {
        /// The flow.
        flow: String,
        /// The member's name (or key).
        member: String,
        /// Its role.
        role: Role,
        /// The key to name `member` by.
        key: Option<PeerId>,
    },
    /// Removes `member` from `flow`.
    RemoveMember {
        /// The flow.
        flow: String,
        /// The member.
        member: String,
    },
}

/// Why an edit was not made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file as it is does not parse as TOML.
    #[error("the flows file is not valid TOML now: {0}")]
    Unreadable(String),
    /// No such flow.
    #[error("no flow {0:?} on this map")]
    NoFlow(String),
    /// No such member.
    #[error("{1:?} is not a member of flow {0}")]
    NoMember(String, String),
    /// The name is another key's.
    #[error("the name {0:?} is another key's")]
    NameTaken(String),
    /// The file after the edit breaks a rule; it was not written.
    #[error("{0}")]
    Invalid(#[from] FlowFileError),
}

/// `text` (the file as it is) with `edit` made, and the file it now defines; comments
/// and layout are kept.
pub fn edit(text: &str, edit: &Edit) -> Result<(String, FlowFile), EditError> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Unreadable(e.to_string()))?;
    let flows = doc
        .entry("flow")
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(Default::default()));
    let Some(flows) = flows.as_array_of_tables_mut() else {
        return Err(EditError::Unreadable(
            "`flow` is not a list of tables".into(),
        ));
    };
    let at = |flows: &toml_edit::ArrayOfTables, name: &str| {
        flows
            .iter()
            .position(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
    };
    match edit {
        Edit::PutFlow(f) => {
            let written = toml::to_string(f).map_err(|e| EditError::Unreadable(e.to_string()))?;
            let table = written
                .parse::<toml_edit::DocumentMut>()
                .map_err(|e| EditError::Unreadable(e.to_string()))?
                .as_table()
                .clone();
            match at(flows, &f.name) {
                Some(i) => {
                    if let Some(t) = flows.get_mut(i) {
                        *t = table;
                    }
                }
                None => flows.push(table),
            }
        }
        Edit::RemoveFlow(name) => match at(flows, name) {
            Some(i) => flows.remove(i),
            None => return Err(EditError::NoFlow(name.clone())),
        },
        Edit::SetMember {
            flow, member, role, ..
        } => {
            let i = at(flows, flow).ok_or_else(|| EditError::NoFlow(flow.clone()))?;
            let t = flows.get_mut(i).expect("found above");
            remove_from_lists(t, member);
            let list = match role {
                Role::Both => "members",
                Role::Send => "send",
                Role::Recv => "recv",
            };
            let entry = t
                .entry(list)
                .or_insert_with(|| toml_edit::value(toml_edit::Array::new()));
            if let Some(a) = entry.as_array_mut() {
                a.push(member.as_str());
            }
        }
        Edit::RemoveMember { flow, member } => {
            let i = at(flows, flow).ok_or_else(|| EditError::NoFlow(flow.clone()))?;
            let t = flows.get_mut(i).expect("found above");
            if !remove_from_lists(t, member) {
                return Err(EditError::NoMember(flow.clone(), member.clone()));
            }
        }
    }
    if let Edit::SetMember {
        member,
        key: Some(key),
        ..
    } = edit
    {
        let names = doc
            .entry("names")
            .or_insert_with(|| toml_edit::Item::Table(Default::default()));
        if let Some(names) = names.as_table_like_mut() {
            match names.get(member).and_then(|k| k.as_str()) {
                Some(k) if k.parse::<PeerId>().ok() != Some(*key) => {
                    return Err(EditError::NameTaken(member.clone()))
                }
                Some(_) => {}
                None if member.parse::<PeerId>().is_err() => {
                    names.insert(member, toml_edit::value(key.to_string()));
                }
                None => {}
            }
        }
    }
    let out = doc.to_string();
    let file = FlowFile::parse(&out)?;
    Ok((out, file))
}

/// Removes `member` from each list of a flow's table; whether it was in one.
fn remove_from_lists(t: &mut toml_edit::Table, member: &str) -> bool {
    let mut found = false;
    for list in ["members", "send", "recv"] {
        if let Some(a) = t.get_mut(list).and_then(|i| i.as_array_mut()) {
            let before = a.len();
            a.retain(|v| v.as_str() != Some(member));
            found |= a.len() != before;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "baaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn file() -> String {
        format!(
            "# the fleet\njoin = \"approve\"\n\n[names]\ndrone3 = \"{A}\" # the red one\ngcs4 = \"{B}\"\n\n[[flow]]\nname = \"video\"\nmode = \"1:n\"\nport = 5600\nsend = [\"drone3\"]\nrecv = [\"gcs4\"]\n"
        )
    }

    #[test]
    fn the_documented_example_parses_once_its_keys_are_real() {
        let text = include_str!("flow_file.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! "))
            .skip_while(|l| !l.starts_with("```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("```"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("k7aq...52 characters of base32", A)
            .replace("m2xd...", B);
        let f = FlowFile::parse(&text).unwrap();
        assert_eq!(f.join, Join::Approve);
        assert_eq!(f.join_rule(&f.flow[0]), Join::Open);
        assert_eq!(f.key_of("drone3"), Some(A.parse().unwrap()));
        assert_eq!(f.name_of(&B.parse().unwrap()), Some("gcs4"));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let bad = |t: &str| FlowFile::parse(t).unwrap_err().to_string();
        let e = bad("[[flow]]\nname=\"v\"\nmode=\"n:n\"\nport=1\nmembers=[\"x\",\"y\"]");
        assert!(e.contains("\"x\" is not in [names]"), "{e}");
        let e = bad(&format!("[names]\na=\"{A}\"\nb=\"{A}\""));
        assert!(e.contains("same key"), "{e}");
        let e = bad(&format!(
            "[names]\na=\"{A}\"\n[[flow]]\nname=\"v\"\nmode=\"1:1\"\nport=1\nmembers=[\"a\",\"self\"]"
        ));
        assert!(e.contains("`self` means nothing"), "{e}");
        let e = bad(&format!(
            "[names]\na=\"{A}\"\n[[flow]]\nname=\"v\"\nmode=\"1:n\"\nport=1\nrecv=[\"a\"]"
        ));
        assert!(e.contains("1:n"), "{e}");
        let e = bad(&format!(
            "[names]\na=\"{A}\"\n[[flow]]\nname=\"v\"\nmode=\"n:n\"\nport=1\nmembers=[\"a\",\"{A}\"]"
        ));
        assert!(e.contains("are the same key"), "{e}");
        // A node in more flows than one table holds: refused.
        let mut many = format!("[names]\na=\"{A}\"\nb=\"{B}\"\n");
        for i in 0..=protocols::map::flows::MAX_FLOWS {
            many.push_str(&format!(
                "[[flow]]\nname=\"f{i}\"\nmode=\"n:n\"\nport={}\nmembers=[\"a\",\"b\"]\n",
                i + 1
            ));
        }
        let e = bad(&many);
        assert!(e.contains("a is in more than 32 flows"), "{e}");
        let e = bad("[names]\na=\"short\"");
        assert!(e.contains("names.a"), "{e}");
    }

    #[test]
    fn edits_keep_comments_and_check_the_result() {
        let c = "caaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .parse()
            .unwrap();
        let add = Edit::SetMember {
            flow: "video".into(),
            member: "gcs5".into(),
            role: Role::Recv,
            key: Some(c),
        };
        let (text, f) = edit(&file(), &add).unwrap();
        assert!(
            text.contains("# the red one") && text.contains("# the fleet"),
            "{text}"
        );
        assert_eq!(f.flow[0].recv, vec!["gcs4", "gcs5"]);
        assert_eq!(f.key_of("gcs5"), Some(c));
        let (text, f) = edit(
            &text,
            &Edit::RemoveMember {
                flow: "video".into(),
                member: "gcs4".into(),
            },
        )
        .unwrap();
        assert_eq!(f.flow[0].recv, vec!["gcs5"]);
        // Removing the last receiver breaks 1:n: refused, nothing written.
        let last = Edit::RemoveMember {
            flow: "video".into(),
            member: "gcs5".into(),
        };
        assert!(matches!(edit(&text, &last), Err(EditError::Invalid(_))));
        let taken = Edit::SetMember {
            flow: "video".into(),
            member: "drone3".into(),
            role: Role::Recv,
            key: Some(c),
        };
        assert!(matches!(edit(&text, &taken), Err(EditError::NameTaken(_))));
        let mut telemetry = f.flow[0].clone();
        telemetry.name = "telemetry".into();
        telemetry.mode = Mode::ManyToMany;
        telemetry.port = 5700;
        let (_, f) = edit(&text, &Edit::PutFlow(telemetry)).unwrap();
        assert_eq!(f.flow.len(), 2);
        let (_, f) = edit(&text, &Edit::RemoveFlow("video".into())).unwrap();
        assert!(f.flow.is_empty());
    }
}
