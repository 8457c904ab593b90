//! The node's optional configuration file (TOML). The node runs without one; when the file
//! exists it is applied at start and again each time it is saved.
//!
//! ```toml
//! unknown = "block"      # keys not in the peer book: block (default) or ask
//!
//! [node]                 # read at start (a flag on the command line wins); optional
//! listen = "0.0.0.0:7470"
//! api = "127.0.0.1:7480" # or "off"
//! ws = "127.0.0.1:9001"  # or "off"
//! ws_public = false
//! incoming = "/home/me/Downloads/warp"
//! threads = 1
//! interfaces = ["eth0", "wwan0"]  # reach peers through these only (default: every one)
//! map = [                # maps: an address, or a table naming the map's key too
//!   "map.example.net:7475",
//!   { addr = "203.0.113.5:7475", key = "k7aqdm5vzyh3oxtkqxw4wqzt6jpnsd2c6kfyxhiv5vqjrgmf3exq", flows = true },
//! ]                      # flows = true: run the flows that map defines for this node
//! flow_ip = "127.1.0.1"  # where flows from maps listen when the map names no address
//!
//! [[gate.expose]]
//! name = "ssh"
//! target = "127.0.0.1:22"
//! allow = ["bob"]        # optional: only these peers (else every peer in the book)
//! public = false         # optional: serve keys not in the book too
//!
//! [[gate.open]]
//! listen = "127.0.0.1:2222"
//! peer = "bob"
//! name = "ssh"
//! udp = false            # optional
//! mode = "aggregate"     # optional, over several paths: aggregate, redundant, failover
//!
//! [[flow]]
//! name = "video"
//! mode = "1:n"           # 1:1, 1:n, n:1 or n:n
//! port = 5600            # applications send into 127.1.0.1:5600
//! deliver = "127.1.0.1:5601"   # optional
//! send = ["self"]        # members by alias or id; `self` is this node
//! recv = ["bob", "carol"]
//! paths = "redundant"    # optional, over several paths (default aggregate)
//!
//! [links]
//! tokens = ["s3cret"]    # optional: clients @auth with one before linking
//! peers = { bob = "read", carol = "write" }  # optional: what peers may do with the
//!                        # lanes over the tunnel (wins over `warp peers set P links ...`)
//!
//! [[links.agent]]
//! route = "/room/:id"
//! lanes = [
//!   { name = "topic", kind = "value", durable = true },
//!   { name = "members", kind = "map" },
//!   { name = "chat", kind = "supply" },
//! ]
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::config_error::{ConfigError, ConfigProblem};
use crate::flow_book::Flow;
use crate::gate_book::{valid_name, Exposed, Opened};

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// What happens to keys not in the peer book; absent: the command line's choice, else
    /// block.
    #[serde(default)]
    pub unknown: Option<crate::store::Unknown>,
    /// The node's own settings, read at start.
    #[serde(default)]
    pub node: NodeSection,
    /// Gates.
    #[serde(default)]
    pub gate: GateConfig,
    /// Flows.
    #[serde(default)]
    pub flow: Vec<Flow>,
    /// The WARP link hub: tokens and declared agents.
    #[serde(default)]
    pub links: crate::links::LinksConfig,
}

/// The `[node]` section: what `warp node`'s flags set, read when the node starts. A flag
/// given on the command line wins.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// `--listen`.
    pub listen: Option<std::net::SocketAddr>,
    /// `--api`: an address or `off`.
    pub api: Option<String>,
    /// `--ws`: an address or `off`.
    pub ws: Option<String>,
    /// `--ws-public`.
    pub ws_public: Option<bool>,
    /// `--incoming`.
    pub incoming: Option<std::path::PathBuf>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--interface` (each).
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// `false`: as `--no-lan`.
    pub lan: Option<bool>,
    /// `--map` (each): maps to register with and to ask for peers.
    #[serde(default)]
    pub map: Vec<MapEntry>,
    /// The loopback address this node binds flows from maps at when the map names none
    /// (default 127.1.0.1): nodes on one machine each need their own. Applied on save.
    pub flow_ip: Option<std::net::IpAddr>,
}

/// A map in `map = [...]`: its address, or a table with its key and whether the node
/// runs the flows it defines.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum MapEntry {
    /// `"HOST:PORT"`: whatever key answers there.
    Addr(String),
    /// `{ addr, key, flows }`.
    Table(MapTable),
}

/// A map named with its key.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapTable {
    /// HOST:PORT.
    pub addr: String,
    /// The map's key (its id, as `warp map` prints it): a map answering with another key
    /// is refused.
    #[serde(default)]
    pub key: Option<String>,
    /// Whether the node runs the flows this map defines for it.
    #[serde(default)]
    pub flows: bool,
}

/// A map as the node uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapUse {
    /// HOST:PORT.
    pub addr: String,
    /// The key it must have, when named.
    pub key: Option<crate::identity::PeerId>,
    /// Whether its flows are run.
    pub flows: bool,
}

impl MapEntry {
    /// The map as the node uses it (the key checked).
    pub fn to_use(&self) -> Result<MapUse, ConfigProblem> {
        match self {
            MapEntry::Addr(a) => Ok(MapUse {
                addr: a.clone(),
                key: None,
                flows: false,
            }),
            MapEntry::Table(t) => {
                let key = match &t.key {
                    Some(k) => Some(
                        k.parse()
                            .map_err(|e| ConfigProblem::MapKey(t.addr.clone(), e))?,
                    ),
                    None if t.flows => return Err(ConfigProblem::FlowsWithoutKey(t.addr.clone())),
                    None => None,
                };
                Ok(MapUse {
                    addr: t.addr.clone(),
                    key,
                    flows: t.flows,
                })
            }
        }
    }
}

/// The `[gate]` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Services exposed to peers.
    #[serde(default)]
    pub expose: Vec<Exposed>,
    /// Local listeners leading to peers' services.
    #[serde(default)]
    pub open: Vec<Opened>,
}

/// Reads and checks the file. Errors name the file and, for syntax, the line.
pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|problem| ConfigError::Invalid {
        path: path.to_path_buf(),
        problem,
    })
}

/// Parses and checks configuration text.
pub fn parse(text: &str) -> Result<NodeConfig, ConfigProblem> {
    let cfg: NodeConfig = toml::from_str(text)?;
    let mut names = std::collections::HashSet::new();
    for g in &cfg.gate.expose {
        if !valid_name(&g.name) {
            return Err(ConfigProblem::GateName(g.name.clone()));
        }
        if !names.insert((g.name.clone(), g.udp)) {
            return Err(ConfigProblem::ExposedTwice(g.name.clone()));
        }
    }
    let mut listens = std::collections::HashSet::new();
    for g in &cfg.gate.open {
        if !valid_name(&g.name) {
            return Err(ConfigProblem::GateName(g.name.clone()));
        }
        if !listens.insert(g.listen.clone()) {
            return Err(ConfigProblem::ListenTwice(g.listen.clone()));
        }
    }
    crate::links::agent::check(&cfg.links.agent)?;
    for m in &cfg.node.map {
        m.to_use()?;
    }
    if let Some(ip) = cfg.node.flow_ip.filter(|ip| !ip.is_loopback()) {
        return Err(ConfigProblem::FlowIp(ip));
    }
    let mut flows = std::collections::HashSet::new();
    for f in &cfg.flow {
        f.check()?;
        if !flows.insert(f.name.clone()) {
            return Err(ConfigProblem::FlowTwice(f.name.clone()));
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("config.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! "))
            .skip_while(|l| !l.starts_with("```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("```"))
            .collect::<Vec<_>>()
            .join("\n");
        let cfg = parse(&text).unwrap();
        assert_eq!(cfg.gate.expose[0].allow, vec!["bob".to_string()]);
        assert_eq!(cfg.node.api.as_deref(), Some("127.0.0.1:7480"));
        assert_eq!(cfg.node.threads, Some(1));
        assert_eq!(cfg.gate.open[0].listen, "127.0.0.1:2222");
        assert_eq!(
            cfg.flow[0].recv,
            vec!["bob".to_string(), "carol".to_string()]
        );
        assert_eq!(parse("").unwrap(), NodeConfig::default());
        use crate::bond_mode::Mode;
        assert_eq!(cfg.gate.open[0].mode, Mode::Aggregate);
        assert_eq!(cfg.flow[0].paths, Mode::Redundant);
        assert_eq!(cfg.node.interfaces, vec!["eth0", "wwan0"]);
        assert_eq!(
            cfg.links.peers.get("carol"),
            Some(&crate::store::LinkAccess::Write)
        );
        let maps: Vec<MapUse> = cfg.node.map.iter().map(|m| m.to_use().unwrap()).collect();
        assert_eq!((maps[0].key, maps[0].flows), (None, false));
        assert!(maps[1].key.is_some() && maps[1].flows);
        let e = parse("[node]\nmap = [{ addr = \"a:1\", flows = true }]").unwrap_err();
        assert!(e.to_string().contains("needs the map's key"), "{e}");
    }

    #[test]
    fn a_gate_s_mode_is_read_and_a_wrong_one_named() {
        let gate = "[[gate.open]]\nlisten=\"a:1\"\npeer=\"p\"\nname=\"x\"\nmode=";
        let cfg = parse(&format!("{gate}\"failover\"")).unwrap();
        assert_eq!(cfg.gate.open[0].mode, crate::bond_mode::Mode::Failover);
        let e = parse(&format!("{gate}\"fastest\"")).unwrap_err();
        assert!(
            e.to_string()
                .contains("use aggregate, redundant or failover"),
            "{e}"
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let e = parse("[[gate.expose]]\nname = \"x\"").unwrap_err();
        assert!(
            matches!(&e, ConfigProblem::Syntax(_)) && e.to_string().contains("target"),
            "{e}"
        );
        let e = parse("[gates]").unwrap_err();
        assert!(
            matches!(&e, ConfigProblem::Syntax(_)) && e.to_string().contains("unknown field"),
            "{e}"
        );
        let twice = "[[gate.open]]\nlisten=\"a:1\"\npeer=\"p\"\nname=\"x\"\n[[gate.open]]\nlisten=\"a:1\"\npeer=\"p\"\nname=\"y\"";
        assert!(matches!(
            parse(twice),
            Err(ConfigProblem::ListenTwice(l)) if l == "a:1"
        ));
        assert!(matches!(
            parse("[[gate.expose]]\nname=\"Bad Name\"\ntarget=\"a:1\""),
            Err(ConfigProblem::GateName(n)) if n == "Bad Name"
        ));
    }
}
