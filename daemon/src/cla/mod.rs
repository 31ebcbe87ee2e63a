//! Convergence-layer adapters: tasks that turn a transport into link events for the driver.
//!
//! Each adapter speaks only `LinkEvent`/`LinkCommand` with the driver, so adding a transport
//! (QUIC, libp2p) never touches bundle processing.

pub mod tcpcl;
