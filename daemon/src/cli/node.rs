//! `tern node`: run a node in the foreground until SIGINT or SIGTERM.

use std::path::PathBuf;

use crate::config::{ConfigError, FileConfig, Settings};

/// Arguments of `tern node`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Configuration file (TOML); embedded defaults without it. See deploy/tern.example.toml.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the file's node.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Node ID (overrides the file's node.id), e.g. dtn://van-3/.
    #[arg(long, value_name = "EID")]
    pub id: Option<String>,
    /// TCPCLv4 listen address (overrides tcpcl.listen), or "off".
    #[arg(long, value_name = "ADDR")]
    pub tcpcl: Option<String>,
    /// Local API listen address (overrides api.listen).
    #[arg(long, value_name = "ADDR")]
    pub api: Option<std::net::SocketAddr>,
    /// A static TCPCLv4 peer host:port (repeatable; added to the file's peers).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,
}

impl NodeArgs {
    /// The settings: file (if any), then command-line overrides, then defaults.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        if let Some(id) = &self.id {
            file.node.id = Some(id.clone());
        }
        if let Some(t) = &self.tcpcl {
            file.tcpcl.listen = Some(t.clone());
        }
        if let Some(a) = self.api {
            file.api.listen = Some(a);
        }
        file.peers
            .extend(self.peers.iter().map(|address| crate::config::PeerSection {
                address: address.clone(),
            }));
        file.resolve(self.data.clone())
    }
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM (systemd stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Why `tern node` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node could not start.
    #[error(transparent)]
    Start(#[from] crate::runtime::StartError),
    /// The async runtime could not be built.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl NodeError {
    /// 2 for a configuration the user must fix, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Start(_) | Self::Runtime(_) => 1,
        }
    }
}

/// Runs `tern node` in the foreground until SIGINT/SIGTERM.
pub fn run_blocking(args: &NodeArgs) -> Result<(), NodeError> {
    let settings = args.settings()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    runtime.block_on(crate::runtime::run(settings, shutdown_signal()))?;
    Ok(())
}
