//! Behaviour of the simulated world, one rule per test: links, transfers, faults, partitions,
//! timers and counting. Each builds a tiny plan by hand so the expected numbers can be worked
//! out on paper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proto::routing::RouterKind;
use tern_sim::clock::SimTime;
use tern_sim::metrics::Report;
use tern_sim::plan::{ContactEvent, ContactSource, CrashSpec, MessageEvent, PartitionSpec, Plan};
use tern_sim::units::BitRate;

fn secs(s: f64) -> SimTime {
    SimTime::from_secs_f64(s).unwrap()
}

/// A plan of `duration` seconds whose links are infinitely fast, so latencies are exact.
fn plan(duration: f64) -> Plan {
    let mut plan = Plan::new("test", secs(duration));
    plan.link.rate = BitRate(None);
    plan
}

/// Two hosts a0, a1 (epidemic, 1 MB buffers) and no contacts yet.
fn pair(duration: f64) -> Plan {
    let mut plan = plan(duration);
    plan.add_hosts("a", 2, RouterKind::Epidemic, 1_000_000);
    plan
}

fn contact(plan: &mut Plan, a: usize, b: usize, from: f64, to: f64) {
    for (t, up) in [(from, true), (to, false)] {
        plan.contacts.push(ContactEvent {
            time: secs(t),
            a,
            b,
            up,
            source: ContactSource::Schedule,
        });
    }
}

fn message(plan: &mut Plan, at: f64, from: usize, to: usize, size: u64, lifetime: f64) {
    plan.messages.push(MessageEvent {
        time: secs(at),
        from,
        to,
        size,
        lifetime: secs(lifetime),
        priority: proto::wire::Priority::Normal,
    });
}

fn run(plan: Plan) -> Report {
    tern_sim::run(plan).unwrap()
}

#[test]
fn zero_length_contact_on_an_infinitely_fast_link_carries_a_bundle() {
    let mut plan = pair(100.0);
    message(&mut plan, 1.0, 0, 1, 100, 3600.0);
    contact(&mut plan, 0, 1, 10.0, 10.0);
    let r = run(plan);
    assert_eq!((r.created, r.relayed, r.delivered), (1, 1, 1));
    assert_eq!(r.latency_avg, Some(9.0));
    assert_eq!(r.hopcount_avg, Some(1.0));
}

/// Timing tests turn the control channel off: with it, offers wait for the reconciliation
/// round trip, which is tested on its own.
fn without_control(mut plan: Plan) -> Plan {
    plan.link.control = false;
    plan
}

#[test]
fn a_transfer_takes_size_over_rate_plus_delay() {
    let mut plan = without_control(pair(100.0));
    plan.link.rate = BitRate(Some(8_000.0)); // 1000 bytes per second
    plan.link.delay = secs(0.5);
    message(&mut plan, 1.0, 0, 1, 1000, 3600.0);
    contact(&mut plan, 0, 1, 2.0, 50.0);
    let r = run(plan);
    assert_eq!(r.delivered, 1);
    // One bundle crossed: its bytes at 1000 B/s, plus the delay, after the contact at t = 2.
    let expected = 1.0 + r.bytes_sent as f64 / 1000.0 + 0.5;
    let latency = r.latency_avg.unwrap();
    assert!((latency - expected).abs() < 2e-6, "{latency} vs {expected}");
}

#[test]
fn transfers_on_one_channel_go_one_at_a_time() {
    let mut plan = without_control(pair(100.0));
    plan.link.rate = BitRate(Some(8_000.0));
    message(&mut plan, 1.0, 0, 1, 1000, 3600.0);
    message(&mut plan, 1.0, 0, 1, 1000, 3600.0);
    contact(&mut plan, 0, 1, 2.0, 50.0);
    let r = run(plan);
    assert_eq!(r.delivered, 2);
    // The second waits for the first: latencies 1 + x and 1 + 2x, x = one bundle's time.
    let x = r.bytes_sent as f64 / 2.0 / 1000.0;
    assert!((r.latency_avg.unwrap() - (1.0 + 1.5 * x)).abs() < 2e-6);
}

#[test]
fn a_contact_that_ends_mid_transfer_aborts_it_and_the_next_contact_delivers() {
    let mut plan = pair(300.0);
    plan.link.rate = BitRate(Some(8_000.0)); // a 10 kB bundle needs 10 s
    message(&mut plan, 0.0, 0, 1, 10_000, 3600.0);
    contact(&mut plan, 0, 1, 1.0, 5.0);
    contact(&mut plan, 0, 1, 100.0, 200.0);
    let r = run(plan);
    assert_eq!(r.aborted, 1);
    assert_eq!(r.started, 2);
    assert_eq!(r.delivered, 1);
    assert!(r.latency_avg.unwrap() > 100.0);
}

#[test]
fn a_lossy_link_loses_transfers_and_the_sender_sees_them_fail() {
    let mut plan = pair(100.0);
    plan.link.loss = 1.0;
    message(&mut plan, 0.0, 0, 1, 100, 3600.0);
    contact(&mut plan, 0, 1, 1.0, 10.0);
    contact(&mut plan, 0, 1, 20.0, 30.0);
    let r = run(plan);
    // Failed on a link means "not again on this link": one try per contact.
    assert_eq!((r.started, r.lost, r.delivered), (2, 2, 0));
}

#[test]
fn a_bundle_expires_at_its_lifetime_and_is_dropped() {
    let mut plan = pair(100.0);
    message(&mut plan, 0.0, 0, 1, 100, 10.0);
    contact(&mut plan, 0, 1, 20.0, 30.0);
    let r = run(plan);
    assert_eq!((r.delivered, r.dropped, r.started), (0, 1, 0));
    assert_eq!(r.buffertime_avg, Some(10.0));
}

#[test]
fn a_crash_loses_pending_writes_and_a_restart_recovers_durable_ones() {
    let mut plan = pair(100.0);
    plan.store_latency = secs(1.0);
    // Boot writes are flushed at 1 s; the first message's write would be at 2.2 s.
    message(&mut plan, 1.2, 0, 1, 100, 3600.0);
    message(&mut plan, 2.0, 0, 1, 100, 3600.0); // durable at 3 s
    plan.crashes.push(CrashSpec {
        host: 0,
        at: secs(1.5),
        restart: Some(secs(1.7)),
    });
    plan.crashes.push(CrashSpec {
        host: 0,
        at: secs(5.0),
        restart: Some(secs(6.0)),
    });
    contact(&mut plan, 0, 1, 10.0, 20.0);
    let r = run(plan);
    assert_eq!(r.created, 2);
    assert_eq!(r.dropped, 1, "the unflushed message died with the power");
    assert_eq!(r.delivered, 1);
    // Contact at 10 s, then the receiver's own write takes 1 s before it delivers.
    assert_eq!(r.latency_avg, Some(9.0));
}

#[test]
fn a_message_at_a_crashed_source_cannot_be_submitted() {
    let mut plan = pair(100.0);
    plan.crashes.push(CrashSpec {
        host: 0,
        at: secs(1.0),
        restart: None,
    });
    message(&mut plan, 2.0, 0, 1, 100, 3600.0);
    let r = run(plan);
    assert_eq!((r.created, r.submit_failed), (1, 1));
}

#[test]
fn a_crash_takes_its_links_down_and_a_restart_brings_them_back() {
    let mut plan = pair(100.0);
    contact(&mut plan, 0, 1, 0.0, 100.0);
    plan.crashes.push(CrashSpec {
        host: 1,
        at: secs(10.0),
        restart: Some(secs(20.0)),
    });
    message(&mut plan, 15.0, 0, 1, 100, 3600.0);
    let r = run(plan);
    assert_eq!(r.contacts, 2);
    assert_eq!(r.latency_avg, Some(5.0));
}

#[test]
fn a_partition_holds_messages_until_it_heals() {
    let mut plan = plan(200.0);
    plan.add_hosts("n", 3, RouterKind::Epidemic, 1_000_000);
    contact(&mut plan, 0, 1, 0.0, 200.0);
    contact(&mut plan, 1, 2, 0.0, 200.0);
    plan.partitions.push(PartitionSpec {
        at: secs(5.0),
        heal: Some(secs(60.0)),
        sides: vec![vec![0, 1], vec![2]],
    });
    message(&mut plan, 10.0, 0, 2, 100, 3600.0);
    let r = run(plan);
    assert_eq!(r.delivered, 1);
    assert_eq!(r.latency_avg, Some(50.0));
    assert_eq!(r.hopcount_avg, Some(2.0));
}

#[test]
fn direct_delivery_never_hands_a_message_to_a_relay() {
    let mut plan = plan(100.0);
    plan.add_hosts("n", 3, RouterKind::Direct, 1_000_000);
    contact(&mut plan, 0, 1, 1.0, 100.0);
    contact(&mut plan, 1, 2, 1.0, 100.0);
    message(&mut plan, 0.0, 0, 2, 100, 3600.0);
    let r = run(plan);
    assert_eq!((r.started, r.delivered), (0, 0));
}

#[test]
fn messages_created_during_the_warm_up_are_not_counted() {
    let mut plan = pair(100.0);
    plan.warmup = secs(10.0);
    message(&mut plan, 5.0, 0, 1, 100, 3600.0);
    message(&mut plan, 15.0, 0, 1, 100, 3600.0);
    contact(&mut plan, 0, 1, 20.0, 30.0);
    let r = run(plan);
    assert_eq!((r.created, r.delivered, r.relayed), (1, 1, 1));
    assert_eq!(r.latency_avg, Some(5.0));
}

#[test]
fn the_report_names_seed_hosts_and_time() {
    let mut plan = pair(42.0);
    plan.seed = 99;
    let r = run(plan);
    assert_eq!(r.run.seed, 99);
    assert_eq!(r.run.hosts, 2);
    assert_eq!(r.run.sim_time, 42.0);
    assert_eq!(r.run.trace_hash.len(), 16);
}

#[test]
fn the_event_file_lists_every_processed_event() {
    let mut plan = pair(10.0);
    contact(&mut plan, 0, 1, 1.0, 2.0);
    message(&mut plan, 0.0, 0, 1, 10, 60.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.txt");
    let mut world = tern_sim::world::World::new(plan).unwrap();
    world.trace_to(&path).unwrap();
    world.run();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().any(|l| l.starts_with("1.000000 link-up 0 1")));
    assert!(text.lines().any(|l| l.contains(" deliver 1 ")));
    assert!(text.lines().last().unwrap().starts_with("10.000000 end"));
}

/// An ION contact from `from` to `to` during `[start, end]` at `rate` bytes/s.
fn ion_contact(plan: &mut Plan, from: usize, to: usize, start: f64, end: f64, rate: f64) {
    for (t, up) in [(start, true), (end, false)] {
        plan.contacts.push(ContactEvent {
            time: secs(t),
            a: from,
            b: to,
            up,
            source: ContactSource::Ion,
        });
    }
    plan.ion
        .rates
        .entry((from, to))
        .or_default()
        .push((secs(start), secs(end), rate * 8.0));
}

#[test]
fn an_ion_contact_sends_at_its_rate_and_a_range_sets_the_delay() {
    let mut plan = without_control(pair(100.0));
    message(&mut plan, 1.0, 0, 1, 1000, 3600.0);
    ion_contact(&mut plan, 0, 1, 2.0, 50.0, 500.0);
    plan.ion
        .ranges
        .insert((0, 1), vec![(secs(0.0), secs(100.0), secs(1.5))]);
    let r = run(plan);
    assert_eq!(r.delivered, 1);
    // Waits for the contact at t = 2, then its bytes at 500 B/s, then the one-way light time.
    let expected = 1.0 + r.bytes_sent as f64 / 500.0 + 1.5;
    let latency = r.latency_avg.unwrap();
    assert!((latency - expected).abs() < 2e-6, "{latency} vs {expected}");
}

#[test]
fn an_ion_contact_carries_one_direction_only_until_the_other_opens() {
    let mut plan = pair(300.0);
    // a1 → a0 waits: only a0 → a1 has a contact until t = 200.
    message(&mut plan, 1.0, 1, 0, 100, 3600.0);
    ion_contact(&mut plan, 0, 1, 10.0, 100.0, 1000.0);
    ion_contact(&mut plan, 1, 0, 200.0, 250.0, 1000.0);
    let r = run(plan);
    assert_eq!((r.started, r.delivered), (1, 1));
    let expected = 199.0 + r.bytes_sent as f64 / 1000.0;
    let latency = r.latency_avg.unwrap();
    assert!((latency - expected).abs() < 2e-6, "{latency} vs {expected}");
}

#[test]
fn an_alert_reaches_every_recipient_and_counts_once_per_recipient() {
    let mut plan = plan(100.0);
    let hosts = plan.add_hosts("a", 4, RouterKind::Epidemic, 1_000_000);
    plan.workloads.push(tern_sim::plan::WorkloadSpec {
        interval: tern_sim::plan::Interval::Fixed(secs(50.0)),
        size: (100, 100),
        from: vec![0],
        to: hosts,
        lifetime: secs(3600.0),
        start: SimTime::ZERO,
        end: secs(60.0),
        priority: [1.0, 0.0, 0.0, 0.0],
        alert: Some("flood".into()),
    });
    // A line a0 - a1 - a2 - a3, after the alert at t = 50.
    contact(&mut plan, 0, 1, 51.0, 52.0);
    contact(&mut plan, 1, 2, 53.0, 54.0);
    contact(&mut plan, 2, 3, 55.0, 56.0);
    contact(&mut plan, 3, 1, 57.0, 58.0);
    let r = run(plan);
    assert_eq!((r.alerts.created, r.alerts.expected), (1, 3));
    assert_eq!(r.alerts.deliveries, 3);
    assert_eq!(r.alerts.latency_avg, Some(3.0)); // (1 + 3 + 5) / 3
    // Alerts stay out of The ONE's unicast statistics.
    assert_eq!((r.created, r.started, r.relayed), (0, 0, 0));
}

#[test]
fn deliveries_are_counted_per_priority_class() {
    let mut plan = pair(100.0);
    message(&mut plan, 1.0, 0, 1, 100, 3600.0);
    plan.messages.push(MessageEvent {
        time: secs(2.0),
        from: 0,
        to: 1,
        size: 100,
        lifetime: secs(3600.0),
        priority: proto::wire::Priority::Emergency,
    });
    contact(&mut plan, 0, 1, 10.0, 20.0);
    let r = run(plan);
    assert_eq!(r.classes[0].class, "emergency");
    assert_eq!((r.classes[0].created, r.classes[0].delivered), (1, 1));
    assert_eq!(r.classes[0].latency_avg, Some(8.0));
    assert_eq!(r.classes[2].class, "normal");
    assert_eq!(r.classes[2].latency_avg, Some(9.0));
}

#[test]
fn occupancy_is_sampled_until_the_end() {
    let mut plan = pair(100.0);
    plan.sample_every = secs(10.0);
    message(&mut plan, 5.0, 0, 1, 1000, 3600.0);
    contact(&mut plan, 0, 1, 40.0, 41.0);
    let r = run(plan);
    let times: Vec<f64> = r.samples.iter().map(|s| s.time).collect();
    assert_eq!(
        times,
        [
            0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0
        ]
    );
    assert_eq!(r.samples[0].stored_bundles, 0);
    // One copy at the source from t = 5; at t = 40 it is handed over and released.
    let bytes = r.samples[1].stored_bytes;
    assert!(bytes > 1000 && r.samples[1].stored_bundles == 1, "{bytes}");
    assert_eq!(r.samples[4].stored_bundles, 0);
    assert_eq!(r.occupancy_peak_bytes, bytes);
    assert_eq!((r.samples[10].created, r.samples[10].delivered), (1, 1));
}

#[test]
fn random_crashes_come_at_their_rate_and_restart_after_the_downtime() {
    let mut plan = plan(100_000.0);
    let hosts = plan.add_hosts("a", 10, RouterKind::Epidemic, 1_000_000);
    plan.fault_rates.push(tern_sim::plan::FaultRate {
        hosts,
        mean_interval: secs(1000.0),
        downtime: Some((secs(100.0), secs(100.0))),
    });
    let r = run(plan);
    // Each host is up ~1000/1100 of the time and fails at 1/1000 s while up: about
    // 10 × 100,000 / 1,100 = 909 crashes, Poisson-like; 4 standard errors is ±121.
    assert!(
        (r.crashes as f64 - 909.0).abs() < 121.0,
        "{} crashes",
        r.crashes
    );
}

/// a → b, b → c, then a meets c: only set reconciliation tells a that c has the bundle already.
fn relayed_twice(control: bool) -> Report {
    let mut plan = plan(100.0);
    plan.link.control = control;
    plan.add_hosts("a", 4, RouterKind::Epidemic, 1_000_000);
    message(&mut plan, 1.0, 0, 3, 100, 3600.0);
    contact(&mut plan, 0, 1, 10.0, 11.0);
    contact(&mut plan, 1, 2, 20.0, 21.0);
    contact(&mut plan, 0, 2, 30.0, 31.0);
    run(plan)
}

#[test]
fn a_reconciling_link_carries_only_what_the_peer_lacks() {
    let with = relayed_twice(true);
    assert_eq!((with.started, with.relayed, with.refused), (2, 2, 0));
    assert!(with.control_bytes > 0);
    let without = relayed_twice(false);
    assert_eq!(
        (without.started, without.relayed, without.refused),
        (3, 2, 1)
    );
    assert_eq!(without.control_bytes, 0);
}

#[test]
fn reconciliation_delays_offers_by_its_round_trip() {
    let mut plan = pair(100.0);
    plan.link.delay = secs(0.5);
    message(&mut plan, 1.0, 0, 1, 100, 3600.0);
    contact(&mut plan, 0, 1, 2.0, 50.0);
    let r = run(plan);
    assert_eq!(r.delivered, 1);
    // Waits for the contact (1 s), at least one exchange of control messages (0.5 s each way),
    // then the transfer's own 0.5 s delay.
    assert!(
        r.latency_avg.unwrap() >= 1.0 + 1.0 + 0.5,
        "{:?}",
        r.latency_avg
    );
}
