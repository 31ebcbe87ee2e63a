//! Starting and stopping a node: open the store, recover, start the driver, the convergence
//! layers and the local API, and shut all of it down gracefully.

use std::future::Future;
use std::sync::Arc;

use proto::node::Node;
use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::clock::Clock;
use crate::config::Settings;
use crate::driver::Driver;
use crate::store::{SledStore, StoreError};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listening socket could not be bound.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        /// Which service.
        what: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A configured registration was refused.
    #[error("registration {endpoint}: {reason}")]
    Registration {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

/// Runs a node until `shutdown` completes, then stops its tasks and flushes the store.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
        path: settings.data_dir.clone(),
        source,
    })?;
    let store = Arc::new(SledStore::open(&settings.data_dir.join("store"))?);
    let clock = Clock::start();
    let restored = store.restored()?;
    let recovered = restored.bundles.len();
    let mut node = Node::new(settings.node.clone(), settings.seed, clock.now(), restored);
    for endpoint in &settings.registrations {
        node.register(endpoint.clone())
            .map_err(|e| StartError::Registration {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
    }
    info!(
        node = %settings.node.node_id,
        data = %settings.data_dir.display(),
        recovered,
        "starting"
    );
    // Every log line of this node's tasks carries its ID (several nodes may share a terminal
    // or a journal).
    let span = info_span!("node", id = %settings.node.node_id);
    let (driver, handle) = Driver::new(node, store, clock);
    let (stop_tx, stop_rx) = watch::channel(false);

    let api_listener = tokio::net::TcpListener::bind(settings.api_listen)
        .await
        .map_err(|source| StartError::Bind {
            what: "the local API",
            addr: settings.api_listen,
            source,
        })?;
    info!(addr = %settings.api_listen, "local API listening");
    let mut api_stop = stop_rx.clone();
    let api = tokio::spawn(
        crate::api::serve(api_listener, handle.clone(), async move {
            let _ = api_stop.changed().await;
        })
        .instrument(span.clone()),
    );

    let tcpcl_config = crate::cla::tcpcl::TcpclSettings::from_settings(&settings);
    if let Some(addr) = settings.tcpcl_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind {
                what: "TCPCLv4",
                addr,
                source,
            })?;
        info!(%addr, "TCPCLv4 listening");
        tokio::spawn(
            crate::cla::tcpcl::listen(
                listener,
                handle.clone(),
                tcpcl_config.clone(),
                stop_rx.clone(),
            )
            .instrument(span.clone()),
        );
    }
    for peer in &settings.peers {
        tokio::spawn(
            crate::cla::tcpcl::keep_connected(
                peer.clone(),
                handle.clone(),
                tcpcl_config.clone(),
                stop_rx.clone(),
            )
            .instrument(span.clone()),
        );
    }

    let driver_task = tokio::spawn(driver.run(stop_rx).instrument(span));
    shutdown.await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    if let Err(e) = driver_task.await {
        warn!(error = %e, "driver task failed");
    }
    let _ = api.await;
    Ok(())
}
