//! Flows: named groups of peers whose applications exchange datagrams, in 1→1, 1→N, N→1
//! or N→N mode, by peer name rather than address. This module holds a flow's definition,
//! its rules and the sled tree that keeps the flows set from the command line or the API.
//!
//! A flow is defined on each member node from that node's point of view: its members by
//! alias or peer id, `self` for this node, each sending, receiving or both. A datagram a
//! local application sends into the flow goes to every other member that receives, if
//! this node sends; a datagram from a peer is delivered only if that peer sends and this
//! node receives.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::bad_word::BadWord;
use crate::flow_error::{FlowBookError, FlowError};

/// The address members send from and listen on unless a flow names another: away from
/// 127.0.0.1, so flows interfere with nothing else on the machine.
pub const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);

/// The name that stands for this node in a flow's member lists.
pub const SELF: &str = "self";

/// Most members a flow may have.
pub const MAX_MEMBERS: usize = 256;

/// How members are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Mode {
    /// Two members.
    OneToOne,
    /// One member sends (and does not receive); the others receive.
    OneToMany,
    /// One member receives (and does not send); the others send.
    ManyToOne,
    /// Any mix: every sender reaches every other receiver.
    ManyToMany,
}

impl Mode {
    /// The role a member added without one gets.
    pub fn default_role(self) -> Role {
        match self {
            Mode::OneToOne | Mode::ManyToMany => Role::Both,
            Mode::OneToMany => Role::Recv,
            Mode::ManyToOne => Role::Send,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::OneToOne => "1:1",
            Mode::OneToMany => "1:n",
            Mode::ManyToOne => "n:1",
            Mode::ManyToMany => "n:n",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = BadWord;
    fn from_str(s: &str) -> Result<Mode, BadWord> {
        match s.to_ascii_lowercase().as_str() {
            "1:1" => Ok(Mode::OneToOne),
            "1:n" => Ok(Mode::OneToMany),
            "n:1" => Ok(Mode::ManyToOne),
            "n:n" => Ok(Mode::ManyToMany),
            _ => Err(BadWord::new(s, "a flow mode", "1:1, 1:n, n:1 or n:n")),
        }
    }
}

impl TryFrom<String> for Mode {
    type Error = BadWord;
    fn try_from(s: String) -> Result<Mode, BadWord> {
        s.parse()
    }
}

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        m.to_string()
    }
}

/// What a member does in a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    /// Sends only.
    Send,
    /// Receives only.
    Recv,
    /// Sends and receives.
    Both,
}

impl Role {
    /// The role's code in a map's flow table.
    pub fn code(self) -> u8 {
        use protocols::map::flows::role;
        match self {
            Role::Send => role::SEND,
            Role::Recv => role::RECV,
            Role::Both => role::BOTH,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = BadWord;
    fn from_str(s: &str) -> Result<Role, BadWord> {
        match s {
            "send" => Ok(Role::Send),
            "recv" => Ok(Role::Recv),
            "both" => Ok(Role::Both),
            _ => Err(BadWord::new(s, "a role", "send, recv or both")),
        }
    }
}

impl TryFrom<String> for Role {
    type Error = BadWord;
    fn try_from(s: String) -> Result<Role, BadWord> {
        s.parse()
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        match r {
            Role::Send => "send",
            Role::Recv => "recv",
            Role::Both => "both",
        }
        .into()
    }
}

/// Where a running flow's definition comes from. A node's own definitions (command line
/// or API, configuration file) win over a map's of the same name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `warp flow add` or the REST API (kept in the flow book).
    Command,
    /// The configuration file.
    File,
    /// The map of this address (`map` in `warp.toml`, trusted for flows).
    Map(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Command => f.write_str("command line"),
            Origin::File => f.write_str("configuration file"),
            Origin::Map(m) => write!(f, "map {m}"),
        }
    }
}

/// A flow as this node takes part in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Its name, the same on every member (`video`).
    pub name: String,
    /// How members are joined.
    pub mode: Mode,
    /// The local port applications send into; the node sends from it, too.
    pub port: u16,
    /// The loopback address of that port; 127.1.0.1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Where datagrams from the flow are delivered, besides every local application that
    /// sent into the flow in the last minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<SocketAddr>,
    /// Members that send and receive (aliases, peer ids, or `self`).
    #[serde(default)]
    pub members: Vec<String>,
    /// Members that only send.
    #[serde(default)]
    pub send: Vec<String>,
    /// Members that only receive.
    #[serde(default)]
    pub recv: Vec<String>,
    /// How the flow's channels use a peer's paths when it has several (`redundant`: each
    /// datagram on every path, delivered once).
    #[serde(
        default,
        with = "crate::bond_mode",
        skip_serializing_if = "crate::bond_mode::is_default"
    )]
    pub paths: crate::bond_mode::Mode,
}

impl Flow {
    /// The local address of the flow's port.
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip.unwrap_or(IpAddr::V4(DEFAULT_IP)), self.port)
    }

    /// Every member with its role, in the order given.
    pub fn roles(&self) -> impl Iterator<Item = (&str, Role)> {
        let both = self.members.iter().map(|m| (m.as_str(), Role::Both));
        let send = self.send.iter().map(|m| (m.as_str(), Role::Send));
        let recv = self.recv.iter().map(|m| (m.as_str(), Role::Recv));
        both.chain(send).chain(recv)
    }

    /// This node's role.
    pub fn own_role(&self) -> Option<Role> {
        self.roles().find(|(m, _)| *m == SELF).map(|(_, r)| r)
    }

    /// Adds (or re-roles) a member.
    pub fn set_member(&mut self, peer: &str, role: Role) {
        self.remove_member(peer);
        match role {
            Role::Both => self.members.push(peer.into()),
            Role::Send => self.send.push(peer.into()),
            Role::Recv => self.recv.push(peer.into()),
        }
    }

    /// Removes a member; `false` if it was not one.
    pub fn remove_member(&mut self, peer: &str) -> bool {
        let before = self.members.len() + self.send.len() + self.recv.len();
        for list in [&mut self.members, &mut self.send, &mut self.recv] {
            list.retain(|m| m != peer);
        }
        before != self.members.len() + self.send.len() + self.recv.len()
    }

    /// Checks the definition: its name, loopback addresses, each member once, this node
    /// among them, and member counts the mode allows.
    pub fn check(&self) -> Result<(), FlowError> {
        self.check_shape()?;
        if self.own_role().is_none() {
            return Err(FlowError::NoSelf(self.name.clone()));
        }
        Ok(())
    }

    /// [`Flow::check`] but for this node among the members: what a map checks of the
    /// flows it defines for others.
    pub fn check_shape(&self) -> Result<(), FlowError> {
        let name = &self.name;
        if !crate::gate_book::valid_name(name) {
            return Err(FlowError::BadName(name.clone()));
        }
        if self.port == 0 {
            return Err(FlowError::NoPort(name.clone()));
        }
        if !self.local_addr().ip().is_loopback() {
            return Err(FlowError::NotLoopback(name.clone(), self.local_addr()));
        }
        if let Some(d) = self.deliver {
            if !d.ip().is_loopback() {
                return Err(FlowError::DeliverNotLoopback(name.clone(), d));
            }
        }
        let all: Vec<(&str, Role)> = self.roles().collect();
        if all.len() > MAX_MEMBERS {
            return Err(FlowError::TooManyMembers(name.clone(), MAX_MEMBERS));
        }
        let mut seen = std::collections::HashSet::new();
        for (m, _) in &all {
            if m.is_empty() || m.len() > 64 || m.chars().any(char::is_control) {
                return Err(FlowError::BadMember(name.clone(), m.to_string()));
            }
            if !seen.insert(*m) {
                return Err(FlowError::Twice(name.clone(), m.to_string()));
            }
        }
        let senders = all.iter().filter(|(_, r)| *r != Role::Recv).count();
        let receivers = all.iter().filter(|(_, r)| *r != Role::Send).count();
        let ok = match self.mode {
            Mode::OneToOne => all.len() == 2 && senders >= 1 && receivers >= 1,
            Mode::OneToMany => self.send.len() == 1 && senders == 1 && receivers >= 1,
            Mode::ManyToOne => self.recv.len() == 1 && receivers == 1 && senders >= 1,
            Mode::ManyToMany => all.len() >= 2 && senders >= 1 && receivers >= 1,
        };
        if !ok {
            let rule = match self.mode {
                Mode::OneToOne => "two members, at least one sending and one receiving",
                Mode::OneToMany => "one member that only sends and at least one that receives",
                Mode::ManyToOne => "one member that only receives and at least one that sends",
                Mode::ManyToMany => "at least two members, some sending and some receiving",
            };
            return Err(FlowError::Mode {
                name: name.clone(),
                mode: self.mode.to_string(),
                rule,
                members: all.len(),
                senders,
                receivers,
            });
        }
        Ok(())
    }
}

/// The flows set from the command line or the API, in sled.
#[derive(Clone)]
pub struct FlowBook {
    tree: sled::Tree,
}

impl FlowBook {
    /// Opens the flow list in `db`.
    pub fn open(db: &sled::Db) -> Result<FlowBook, FlowBookError> {
        Ok(FlowBook {
            tree: db.open_tree("flows")?,
        })
    }

    /// Records a flow (checked first), replacing one of the same name.
    pub fn put(&self, f: &Flow) -> Result<(), FlowBookError> {
        f.check()?;
        let text = recon::to_string(f)?;
        self.tree.insert(f.name.as_bytes(), text.as_bytes())?;
        self.tree.flush()?;
        Ok(())
    }

    /// The flow called `name`.
    pub fn get(&self, name: &str) -> Option<Flow> {
        let v = self.tree.get(name.as_bytes()).ok()??;
        recon::from_str(std::str::from_utf8(&v).ok()?).ok()
    }

    /// Forgets a flow; `None` if there was none.
    pub fn remove(&self, name: &str) -> Result<Option<Flow>, FlowBookError> {
        let old = self.get(name);
        self.tree.remove(name.as_bytes())?;
        self.tree.flush()?;
        Ok(old)
    }

    /// Every flow.
    pub fn all(&self) -> Vec<Flow> {
        self.tree
            .iter()
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| recon::from_str(std::str::from_utf8(&v).ok()?).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(mode: Mode, members: &[&str], send: &[&str], recv: &[&str]) -> Flow {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Flow {
            name: "video".into(),
            mode,
            port: 5600,
            ip: None,
            deliver: None,
            members: v(members),
            send: v(send),
            recv: v(recv),
            paths: Default::default(),
        }
    }

    #[test]
    fn modes_allow_the_member_counts_they_name() {
        use Mode::*;
        assert!(flow(OneToOne, &["self", "b"], &[], &[]).check().is_ok());
        assert!(flow(OneToOne, &[], &["self"], &["b"]).check().is_ok());
        assert!(matches!(
            flow(OneToOne, &["self", "b", "c"], &[], &[]).check(),
            Err(FlowError::Mode { .. })
        ));
        assert!(flow(OneToMany, &[], &["self"], &["b", "c"]).check().is_ok());
        assert!(matches!(
            flow(OneToMany, &[], &["self", "x"], &["b"]).check(),
            Err(FlowError::Mode { .. })
        ));
        assert!(matches!(
            flow(OneToMany, &["self"], &[], &["b"]).check(),
            Err(FlowError::Mode { .. })
        ));
        assert!(flow(ManyToOne, &[], &["b", "c"], &["self"]).check().is_ok());
        assert!(matches!(
            flow(ManyToOne, &[], &["b"], &["self", "c"]).check(),
            Err(FlowError::Mode { .. })
        ));
        assert!(flow(ManyToMany, &["self", "b", "c"], &[], &[])
            .check()
            .is_ok());
        assert!(matches!(
            flow(ManyToMany, &["self"], &[], &[]).check(),
            Err(FlowError::Mode { .. })
        ));
    }

    #[test]
    fn bad_definitions_say_what_is_wrong() {
        let f = flow(Mode::ManyToMany, &["a", "b"], &[], &[]);
        assert!(matches!(f.check(), Err(FlowError::NoSelf(_))));
        let f = flow(Mode::ManyToMany, &["self", "b"], &["b"], &[]);
        assert!(matches!(f.check(), Err(FlowError::Twice(..))));
        let mut f = flow(Mode::ManyToMany, &["self", "b"], &[], &[]);
        f.ip = Some("10.0.0.1".parse().unwrap());
        assert!(matches!(f.check(), Err(FlowError::NotLoopback(..))));
        f.ip = None;
        f.name = "Bad".into();
        assert!(matches!(f.check(), Err(FlowError::BadName(_))));
    }

    #[test]
    fn members_can_be_added_re_roled_and_removed() {
        let mut f = flow(Mode::ManyToMany, &["self", "b"], &[], &[]);
        f.set_member("b", Role::Send);
        assert_eq!(f.send, vec!["b".to_string()]);
        assert_eq!(f.members, vec!["self".to_string()]);
        assert!(f.remove_member("b"));
        assert!(!f.remove_member("b"));
        assert_eq!(f.own_role(), Some(Role::Both));
    }

    #[test]
    fn a_flow_round_trips_through_recon_and_toml() {
        let mut f = flow(Mode::OneToMany, &[], &["self"], &["b", "c"]);
        f.deliver = Some("127.1.0.1:5601".parse().unwrap());
        let text = recon::to_string(&f).unwrap();
        assert_eq!(recon::from_str::<Flow>(&text).unwrap(), f);
        let toml = "name = \"video\"\nmode = \"1:n\"\nport = 5600\ndeliver = \"127.1.0.1:5601\"\nsend = [\"self\"]\nrecv = [\"b\", \"c\"]\n";
        assert_eq!(toml::from_str::<Flow>(toml).unwrap(), f);
    }
}
