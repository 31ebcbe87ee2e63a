//! A hostile or broken peer on the TCPCL socket: garbage, truncated frames, oversized lengths and
//! malformed bundles. The session under attack ends or the transfer is refused, with a logged
//! reason; the daemon keeps serving everyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proto::tcpcl::{Event, RefuseReason, Role, Session, SessionConfig};
use tern_tests::daemon::{NodeOptions, TernNode};

/// Reads until the peer closes the connection; true if it did within `timeout`.
fn closed_by_peer(stream: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true, // reset
        }
    }
    false
}

/// Runs a real sans-IO TCPCL session over a blocking socket until `done` says so.
fn drive(
    session: &mut Session,
    stream: &mut TcpStream,
    timeout: Duration,
    mut done: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let start = Instant::now();
    let now = |s: Instant| s.elapsed().as_millis() as u64;
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 65536];
    while start.elapsed() < timeout {
        while let Some(chunk) = session.poll_transmit() {
            if stream.write_all(&chunk).is_err() {
                session.handle_close(now(start));
            }
        }
        while let Some(ev) = session.poll_event() {
            let stop = done(&ev);
            events.push(ev);
            if stop {
                return events;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => session.handle_close(now(start)),
            Ok(n) => session.handle_bytes(now(start), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                session.handle_timeout(now(start));
            }
            Err(_) => session.handle_close(now(start)),
        }
    }
    panic!("session did not reach the expected event in {timeout:?}: {events:?}");
}

fn established(addr: SocketAddr) -> (Session, TcpStream) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut s = Session::new(Role::Active, SessionConfig::new("dtn://mallory/"), 0).unwrap();
    drive(&mut s, &mut stream, Duration::from_secs(10), |e| {
        matches!(e, Event::Established { .. })
    });
    (s, stream)
}

#[test]
fn hostile_peers_are_cut_off_and_the_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let b = TernNode::start(
        "b",
        &dir.path().join("b"),
        NodeOptions::receiving("dtn://b/inbox"),
    );

    // 1. Not TCPCL at all.
    let mut s = TcpStream::connect(b.tcpcl).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(
        closed_by_peer(&mut s, Duration::from_secs(10)),
        "garbage must end the session"
    );

    // 2. A valid contact header, then a SESS_INIT announcing a 4 GiB node ID.
    let mut s = TcpStream::connect(b.tcpcl).unwrap();
    let mut frame = b"dtn!\x04\x00".to_vec();
    frame.extend_from_slice(&[0x07, 0x00, 0x1e]); // SESS_INIT, keepalive 30
    frame.extend_from_slice(&(1u64 << 20).to_be_bytes()); // segment MRU
    frame.extend_from_slice(&(1u64 << 20).to_be_bytes()); // transfer MRU
    frame.extend_from_slice(&[0xff, 0xff]); // node ID length 65535 (over the limit)
    s.write_all(&frame).unwrap();
    assert!(
        closed_by_peer(&mut s, Duration::from_secs(10)),
        "oversized length must end the session"
    );

    // 3. A truncated frame, then the connection drops.
    let mut s = TcpStream::connect(b.tcpcl).unwrap();
    s.write_all(b"dtn!\x04\x00\x07\x00").unwrap();
    drop(s);

    // 4. An established session transfers bytes that are not a bundle: refused, session goes on.
    let (mut session, mut stream) = established(b.tcpcl);
    session
        .send_bundle(Bytes::from_static(b"\x9f\x88\x07this is not a bundle"))
        .unwrap();
    let events = drive(&mut session, &mut stream, Duration::from_secs(10), |e| {
        matches!(
            e,
            Event::TransferRefused { .. } | Event::TransferAcked { .. }
        )
    });
    let last = events.last().unwrap();
    assert!(
        matches!(last, Event::TransferRefused { reason, .. } if *reason == RefuseReason::NOT_ACCEPTABLE),
        "malformed bundle must be refused: {last:?}"
    );
    // 5. The same session still carries a valid bundle.
    let valid = proto::wire::BundleBuilder::new(
        "dtn://mallory/".parse().unwrap(),
        "dtn://b/inbox".parse().unwrap(),
        proto::wire::CreationTimestamp::new(proto::wire::DtnTime(0), 1),
        3_600_000,
    )
    .bundle_age(0)
    .payload(&b"after the garbage"[..])
    .build()
    .unwrap();
    session.send_bundle(Bytes::from(valid.encode())).unwrap();
    let events = drive(&mut session, &mut stream, Duration::from_secs(10), |e| {
        matches!(
            e,
            Event::TransferRefused { .. } | Event::TransferAcked { .. }
        )
    });
    assert!(
        matches!(events.last(), Some(Event::TransferAcked { .. })),
        "{events:?}"
    );
    assert_eq!(
        b.receive_n("dtn://b/inbox", 1, Duration::from_secs(10)),
        ["after the garbage"]
    );

    // 6. The node still serves a well-behaved tern peer and its API.
    let a = TernNode::start("a", &dir.path().join("a"), NodeOptions::peer_of(&b));
    a.send("dtn://b/inbox", "still alive");
    assert_eq!(
        b.receive_n("dtn://b/inbox", 1, Duration::from_secs(20)),
        ["still alive"]
    );
    let log = b.log();
    assert!(
        log.contains("malformed bundle"),
        "the refusal is logged with its reason:\n{log}"
    );
    assert_eq!(b.status()["counters"]["refused_invalid"], 1);
}
