//! A loopback TCP forwarder that a test can switch off and on: a link between two real daemons
//! that the test partitions and heals on a schedule, without touching either daemon.
//!
//! Why a proxy rather than an API call into the daemons: the parity test must toggle links the
//! way the world does — the TCP connection dies, the convergence layer notices, reconnects with
//! its own backoff — so that what is compared with the simulator is the daemon's real behaviour.
//! While the link is down the proxy closes every forwarded connection and refuses new ones by
//! closing them at once, which the dialing daemon sees as a failed session.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often the accept loop looks at its stop flag; bounds how long `drop` takes.
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Default)]
struct Shared {
    up: AtomicBool,
    stop: AtomicBool,
    /// Both ends of every live forwarded connection, so `set_up(false)` can cut them.
    live: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn cut_all(&self) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in live.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A switchable TCP link from [`LinkProxy::addr`] to a target address.
#[derive(Debug)]
pub struct LinkProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl LinkProxy {
    /// Listens on an ephemeral loopback port and forwards to `target` while up. Starts `up`.
    pub fn start(target: SocketAddr, up: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.up.store(up, Ordering::SeqCst);
        let loop_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("proxy-{addr}"))
            .spawn(move || accept_loop(&listener, target, &loop_shared))?;
        Ok(Self {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Where a daemon should dial to use this link.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Brings the link up, or takes it down and cuts every connection it carries.
    pub fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::SeqCst);
        if !up {
            self.shared.cut_all();
        }
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.up.store(false, Ordering::SeqCst);
        self.shared.cut_all();
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((inbound, _)) => {
                if !shared.up.load(Ordering::SeqCst) {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(2))
                else {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                };
                forward(inbound, outbound, shared);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(_) => thread::sleep(POLL),
        }
    }
}

/// Pumps both directions on their own threads; either side closing closes both.
fn forward(inbound: TcpStream, outbound: TcpStream, shared: &Arc<Shared>) {
    let _ = inbound.set_nonblocking(false);
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let handles = (
        inbound.try_clone(),
        outbound.try_clone(),
        outbound.try_clone(),
        inbound.try_clone(),
    );
    let (Ok(in_read), Ok(out_write), Ok(out_read), Ok(in_write)) = handles else {
        let _ = inbound.shutdown(Shutdown::Both);
        let _ = outbound.shutdown(Shutdown::Both);
        return;
    };
    {
        let mut live = shared.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.push(inbound);
        live.push(outbound);
    }
    // Threads end when either socket is shut down (by the peer or by `cut_all`).
    let _ = thread::Builder::new().spawn(move || pump(in_read, out_write));
    let _ = thread::Builder::new().spawn(move || pump(out_read, in_write));
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            // Serves two connections, then ends: bounded.
            for stream in listener.incoming().take(2) {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0_u8; 64];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        (addr, handle)
    }

    fn round_trip(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"ping")?;
        let mut buf = [0_u8; 4];
        stream.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn proxy_forwards_while_up_and_cuts_connections_when_taken_down() {
        let (target, server) = echo_server();
        let proxy = LinkProxy::start(target, true).unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).unwrap();
        assert_eq!(round_trip(&mut stream).unwrap(), b"ping");

        proxy.set_up(false);
        assert!(
            round_trip(&mut stream).is_err(),
            "a cut link carries nothing"
        );
        let mut refused = TcpStream::connect(proxy.addr()).unwrap();
        assert!(
            round_trip(&mut refused).is_err(),
            "a down link refuses new sessions"
        );

        proxy.set_up(true);
        let mut again = TcpStream::connect(proxy.addr()).unwrap();
        assert_eq!(round_trip(&mut again).unwrap(), b"ping");
        drop(again);
        drop(proxy);
        server.join().unwrap();
    }
}
