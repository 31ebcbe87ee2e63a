//! The daemon's configuration: embedded defaults, optionally overridden by a TOML file.
//!
//! `tern node` must work with no file at all (relief teams start it and walk away), so every key
//! has a default. A file that exists is read strictly: an unknown key or a wrong type is an
//! error naming the file, line and key, because a typo silently ignored in the field is worse
//! than a refusal at start-up. `deploy/tern.example.toml` documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use proto::node::{Config as NodeConfig, LinkShaping, StorageShares};
use proto::routing::RouterKind;
use proto::wire::{DecodeLimits, Eid};
use serde::Deserialize;

/// Default TCPCLv4 port (RFC 9174 §8.1, IANA "dtn-bundle").
pub const DEFAULT_TCPCL_PORT: u16 = 4556;
/// Default port of the local application API (HTTP on loopback): the next one after TCPCL's.
pub const DEFAULT_API_PORT: u16 = 4557;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema; the message names line, column and key.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with the location.
        message: String,
    },
    /// A value is well-formed TOML but not acceptable.
    #[error("config key {key}: {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// The configuration file's schema. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[node]`.
    #[serde(default)]
    pub node: NodeSection,
    /// `[tcpcl]`.
    #[serde(default)]
    pub tcpcl: TcpclSection,
    /// `[api]`.
    #[serde(default)]
    pub api: ApiSection,
    /// `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// `[[peers]]`: static TCPCL peers to keep connected.
    #[serde(default)]
    pub peers: Vec<PeerSection>,
    /// Endpoints registered at start-up, so bundles for them are kept for applications.
    #[serde(default)]
    pub registrations: Vec<String>,
}

/// `[node]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Node ID; default `dtn://<hostname>/`.
    pub id: Option<String>,
    /// Data directory; default the user's data directory + `tern`.
    pub data_dir: Option<PathBuf>,
    /// Routing strategy: a name — `epidemic` (default), `direct`, `first-contact`,
    /// `spray-and-wait` or `spray-and-wait:L` — or a table with parameters:
    /// `{ strategy = "static-routes", routes = [{ pattern = "dtn://c/*", via = "dtn://b/" }] }`,
    /// `{ strategy = "contact-plan", plan = "a contact +0 +3600 1 2 100000" }`.
    pub router: Option<RouterSetting>,
    /// Per-class storage shares (`bulk_max_percent`, `normal_max_percent`, `high_max_percent`,
    /// `emergency_reserve_percent`); defaults 50 / 90 / 100 / 10.
    pub storage_shares: Option<StorageShares>,
    /// Link shaping (`max_alert_delay_ms`, `default_rate` in bytes/s); defaults 2000 / 125000.
    pub shaping: Option<LinkShaping>,
    /// Most bytes of bundles stored.
    pub storage_quota: Option<u64>,
    /// Seed for the node's random generator; default derived from the node ID.
    pub seed: Option<u64>,
}

/// `node.router`: a strategy's name, or a table naming it (`strategy`) with its parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouterSetting {
    /// `"spray-and-wait:8"`.
    Name(String),
    /// `{ strategy = "static-routes", routes = [...] }`.
    Table(RouterKind),
}

/// `[tcpcl]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpclSection {
    /// Listen address; default `[::]:4556` (falls back to `0.0.0.0:4556`). `"off"` disables.
    pub listen: Option<String>,
    /// Keepalive interval offered in SESS_INIT, seconds (0 disables keepalives).
    pub keepalive_secs: Option<u16>,
    /// Largest segment we accept.
    pub segment_mru: Option<u64>,
    /// Most bundles in flight per link (sent, not yet acknowledged); default
    /// [`DEFAULT_WINDOW`].
    pub window: Option<usize>,
}

/// Bundles in flight per link by default. A receiver acknowledges only after its group commit,
/// so a link carries about one window per flush and round trip: 64 keeps a loopback link of
/// 100-byte bundles above 5,000 bundles/s with flushes of a few milliseconds.
pub const DEFAULT_WINDOW: usize = 64;

/// `[api]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Listen address; default `127.0.0.1:4557`. Keep it on loopback unless a proxy guards it.
    pub listen: Option<SocketAddr>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest bundle accepted, bytes.
    pub max_bundle_size: Option<usize>,
    /// Most blocks in a bundle.
    pub max_blocks: Option<usize>,
    /// Longest EID, bytes.
    pub max_eid_len: Option<usize>,
}

/// `[[peers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSection {
    /// `host:port` of a TCPCLv4 peer.
    pub address: String,
}

/// The resolved configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Engine configuration.
    pub node: NodeConfig,
    /// Seed of the node's generator.
    pub seed: u64,
    /// Where sled keeps its files.
    pub data_dir: PathBuf,
    /// TCPCL listen address, or `None` when disabled.
    pub tcpcl_listen: Option<SocketAddr>,
    /// Keepalive offered, seconds.
    pub keepalive_secs: u16,
    /// Segment MRU offered.
    pub segment_mru: u64,
    /// API listen address.
    pub api_listen: SocketAddr,
    /// Static peers.
    pub peers: Vec<String>,
    /// Registrations made at start-up.
    pub registrations: Vec<Eid>,
}

impl FileConfig {
    /// Reads and parses a file; errors name the file and, for syntax and schema errors, the line
    /// and key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().replace('\n', " | "))
    }

    /// Fills in defaults and checks values. `data_override` is `--data DIR`.
    pub fn resolve(self, data_override: Option<PathBuf>) -> Result<Settings, ConfigError> {
        let node_id = match &self.node.id {
            Some(text) => {
                let eid: Eid = text.parse().map_err(|e| ConfigError::Invalid {
                    key: "node.id",
                    message: format!("{e}"),
                })?;
                if !eid.is_node_id() {
                    return Err(ConfigError::Invalid {
                        key: "node.id",
                        message: format!("{eid} is not a node ID: use dtn://name/ or ipn:N.0"),
                    });
                }
                eid
            }
            None => default_node_id(),
        };
        let mut node = NodeConfig::new(node_id.clone());
        node.window_per_link = self.tcpcl.window.unwrap_or(DEFAULT_WINDOW).max(1);
        if let Some(router) = &self.node.router {
            let invalid = |e: proto::routing::RouterConfigError| ConfigError::Invalid {
                key: "node.router",
                message: e.to_string(),
            };
            node.router = match router {
                RouterSetting::Name(name) => name.parse::<RouterKind>().map_err(invalid)?,
                RouterSetting::Table(table) => {
                    table.validate().map_err(invalid)?;
                    table.clone()
                }
            };
        }
        if let Some(shares) = self.node.storage_shares {
            node.storage_shares = shares;
        }
        if let Some(shaping) = self.node.shaping {
            node.shaping = shaping;
        }
        if let Some(q) = self.node.storage_quota {
            node.storage_quota = q;
        }
        let defaults = DecodeLimits::default();
        node.limits = DecodeLimits {
            max_bundle_size: self
                .limits
                .max_bundle_size
                .unwrap_or(defaults.max_bundle_size),
            max_blocks: self.limits.max_blocks.unwrap_or(defaults.max_blocks),
            max_eid_len: self.limits.max_eid_len.unwrap_or(defaults.max_eid_len),
        };
        let data_dir = data_override
            .or(self.node.data_dir)
            .unwrap_or_else(default_data_dir);
        let tcpcl_listen = match self.tcpcl.listen.as_deref() {
            Some("off") => None,
            Some(text) => Some(text.parse().map_err(|e| ConfigError::Invalid {
                key: "tcpcl.listen",
                message: format!("'{text}' is not an address like 0.0.0.0:4556: {e}"),
            })?),
            None => Some(SocketAddr::from(([0, 0, 0, 0], DEFAULT_TCPCL_PORT))),
        };
        let registrations = self
            .registrations
            .iter()
            .map(|r| {
                r.parse::<Eid>().map_err(|e| ConfigError::Invalid {
                    key: "registrations",
                    message: format!("'{r}': {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let seed = self.node.seed.unwrap_or_else(|| seed_from(&node_id));
        Ok(Settings {
            node,
            seed,
            data_dir,
            tcpcl_listen,
            keepalive_secs: self.tcpcl.keepalive_secs.unwrap_or(15),
            segment_mru: self.tcpcl.segment_mru.unwrap_or(1 << 20),
            api_listen: self
                .api
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_API_PORT))),
            peers: self.peers.into_iter().map(|p| p.address).collect(),
            registrations,
        })
    }
}

/// `dtn://<hostname>/`, with characters a node name cannot hold replaced by `-`.
pub fn default_node_id() -> Eid {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = if name.is_empty() {
        "tern".to_owned()
    } else {
        name
    };
    Eid::dtn(&name, "").unwrap_or_else(|_| Eid::ipn(1, 0))
}

/// The user's data directory (`~/.local/share/tern` on Linux), or `./tern-data` without one.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from("tern-data"), |d| d.join("tern"))
}

/// A stable seed from the node ID (FNV-1a), so a node's randomness replays across restarts.
fn seed_from(eid: &Eid) -> u64 {
    eid.to_string().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_working_defaults() {
        let s = FileConfig::parse("").unwrap().resolve(None).unwrap();
        assert!(s.node.node_id.is_node_id());
        assert_eq!(s.tcpcl_listen.unwrap().port(), DEFAULT_TCPCL_PORT);
        assert_eq!(s.api_listen, "127.0.0.1:4557".parse().unwrap());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = FileConfig::parse("[node]\nid = \"dtn://a/\"\nrouterr = \"x\"\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("routerr"), "{err}");
    }

    #[test]
    fn every_router_is_selected_from_the_file_alone() {
        let resolve = |text: &str| FileConfig::parse(text).unwrap().resolve(None);
        let s = resolve("[node]\nid = \"dtn://a/\"\nrouter = \"spray-and-wait:4\"\n").unwrap();
        assert_eq!(s.node.router, RouterKind::SprayAndWait { copies: 4 });
        let s = resolve(
            "[node]\nid = \"dtn://a/\"\nrouter = { strategy = \"static-routes\", routes = \
             [{ pattern = \"dtn://c/*\", via = \"dtn://b/\" }] }\n",
        )
        .unwrap();
        assert_eq!(s.node.router.name(), "static-routes");
        let err = resolve(
            "[node]\nid = \"dtn://a/\"\nrouter = { strategy = \"contact-plan\", plan = \
             \"a contact +9 +1 1 2 5\" }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("node.router"), "{err}");
    }

    #[test]
    fn node_id_must_be_a_node_id() {
        let err = FileConfig::parse("[node]\nid = \"dtn://a/inbox\"\n")
            .unwrap()
            .resolve(None)
            .unwrap_err();
        assert!(err.to_string().contains("node.id"));
    }

    #[test]
    fn example_config_in_deploy_parses() {
        let text = include_str!("../../deploy/tern.example.toml");
        FileConfig::parse(text).unwrap().resolve(None).unwrap();
    }
}
