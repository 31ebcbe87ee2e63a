//! Priority classes in virtual time: transmission order, link shaping, storage shares and
//! eviction.

use super::*;
use crate::wire::Priority;

fn submit_class(net: &mut Net, h: usize, priority: Priority, lifetime_ms: u64, text: &str) {
    let now = net.now;
    let mut req = Submit::new("dtn://z/far".parse().unwrap(), text.as_bytes().to_vec());
    req.priority = priority;
    req.lifetime_ms = lifetime_ms;
    net.hosts[h].node.submit(now, req).unwrap();
    net.run();
}

/// Replaces host `h`'s node with one built from `config`.
fn reconfigure(net: &mut Net, h: usize, edit: impl FnOnce(&mut Config)) {
    let mut config = Config::new(net.id(h));
    edit(&mut config);
    net.hosts[h].node = Node::new(config, h as u64, net.now, Restored::default());
}

/// Classes of the bundles host `h` holds, in the order it admitted them.
fn classes(net: &Net, h: usize) -> Vec<Priority> {
    net.hosts[h].node.bundles().map(|b| b.priority).collect()
}

const HOUR: u64 = 3_600_000;

#[test]
fn bundles_go_out_by_class_then_by_earliest_expiry() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    submit_class(&mut net, 0, Priority::Bulk, HOUR, "bulk");
    submit_class(&mut net, 0, Priority::Normal, HOUR, "normal");
    submit_class(&mut net, 0, Priority::Emergency, 2 * HOUR, "late alert");
    submit_class(&mut net, 0, Priority::High, HOUR, "high");
    submit_class(&mut net, 0, Priority::Emergency, HOUR, "early alert");
    net.connect(0, 1);
    let order: Vec<(Priority, String)> = net.hosts[1]
        .node
        .bundles()
        .map(|b| (b.priority, b.expires.0.to_string()))
        .collect();
    let classes: Vec<Priority> = order.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        classes,
        [
            Priority::Emergency,
            Priority::Emergency,
            Priority::High,
            Priority::Normal,
            Priority::Bulk
        ]
    );
    assert!(
        order[0].1 < order[1].1,
        "the alert that expires first goes first"
    );
}

#[test]
fn the_class_travels_with_the_bundle_in_its_priority_block() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    net.register(2, "dtn://c/inbox");
    let now = net.now;
    let mut req = Submit::new("dtn://c/inbox".parse().unwrap(), &b"evacuate"[..]);
    req.priority = Priority::Emergency;
    net.hosts[0].node.submit(now, req).unwrap();
    net.run();
    net.connect(0, 1);
    assert_eq!(classes(&net, 1), [Priority::Emergency]);
    net.connect(1, 2);
    let (_, delivered) = &net.hosts[2].delivered[0];
    assert_eq!(Priority::of(delivered), Ok(Priority::Emergency));
}

#[test]
fn a_bundle_without_a_priority_block_is_normal() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.submit(0, "dtn://z/far", "plain");
    assert_eq!(classes(&net, 0), [Priority::Normal]);
    let key = net.hosts[0].node.bundles().next().unwrap().key;
    let bytes = net.hosts[0].store.bundle(key).unwrap();
    let bundle = Bundle::decode(bytes).unwrap();
    assert!(
        bundle
            .block(crate::wire::priority::PRIORITY_BLOCK_TYPE)
            .is_none()
    );
}

#[test]
fn a_bulk_flood_leaves_window_slots_for_an_alert() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    net.hosts[1].auto_flush = false; // b never acknowledges: transfers stay in flight
    for i in 0..40 {
        submit_class(&mut net, 0, Priority::Bulk, HOUR, &format!("photo {i}"));
    }
    net.connect(0, 1);
    let in_flight = |net: &Net| net.hosts[0].node.links().next().unwrap().in_flight;
    assert_eq!(
        in_flight(&net),
        8,
        "bulk fills at most half of the 16-slot window"
    );
    submit_class(&mut net, 0, Priority::Emergency, HOUR, "evacuate");
    assert_eq!(in_flight(&net), 9);
    assert_eq!(net.hosts[1].node.counters().received, 9);
    assert!(classes(&net, 1).contains(&Priority::Emergency));
}

#[test]
fn on_a_slow_link_lower_classes_stop_at_the_byte_budget_and_alerts_do_not() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    reconfigure(&mut net, 0, |c| {
        c.shaping.default_rate = 100; // 100 B/s × 2 s: 200 bytes ahead of an alert at most
    });
    net.hosts[1].auto_flush = false;
    let padding = "x".repeat(150);
    for i in 0..5 {
        submit_class(
            &mut net,
            0,
            Priority::Normal,
            HOUR,
            &format!("{i}{padding}"),
        );
    }
    net.connect(0, 1);
    assert_eq!(
        net.hosts[1].node.counters().received,
        1,
        "one transfer always goes"
    );
    for i in 0..3 {
        submit_class(
            &mut net,
            0,
            Priority::Emergency,
            HOUR,
            &format!("alert {i}"),
        );
    }
    assert_eq!(net.hosts[1].node.counters().received, 4);
    assert_eq!(
        classes(&net, 1)[1..],
        [
            Priority::Emergency,
            Priority::Emergency,
            Priority::Emergency
        ]
    );
}

#[test]
fn the_link_rate_the_driver_reports_sizes_the_budget() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    reconfigure(&mut net, 0, |c| c.shaping.default_rate = 100);
    net.hosts[1].auto_flush = false;
    let padding = "x".repeat(150);
    for i in 0..5 {
        submit_class(
            &mut net,
            0,
            Priority::Normal,
            HOUR,
            &format!("{i}{padding}"),
        );
    }
    let (la, _) = net.connect(0, 1);
    assert_eq!(net.hosts[1].node.counters().received, 1);
    net.hosts[0].node.set_link_rate(la, 1_000_000); // 2 s at 1 MB/s: everything fits
    let now = net.now;
    net.hosts[0].node.handle(now, Input::Timeout);
    net.run();
    assert_eq!(net.hosts[1].node.counters().received, 5);
}

#[test]
fn bulk_may_not_exceed_its_storage_share() {
    let mut net = Net::new(&["a", "b"], RouterKind::Epidemic);
    reconfigure(&mut net, 1, |c| c.storage_quota = 2_000);
    for i in 0..30 {
        submit_class(
            &mut net,
            0,
            Priority::Bulk,
            HOUR,
            &format!("bulk {i:02} padded"),
        );
    }
    submit_class(
        &mut net,
        0,
        Priority::Normal,
        HOUR,
        "normal after the flood",
    );
    net.connect(0, 1);
    let b = &net.hosts[1].node;
    assert!(b.stored_bytes() <= 2_000);
    let bulk: u64 = b
        .bundles()
        .filter(|s| s.priority == Priority::Bulk)
        .map(|s| s.size)
        .sum();
    assert!(bulk <= 1_000, "bulk holds {bulk} of its 1000-byte share");
    assert!(b.counters().refused_storage > 0);
    assert!(classes(&net, 1).contains(&Priority::Normal));
}

#[test]
fn a_bulk_flood_cannot_evict_emergency_bundles() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    reconfigure(&mut net, 1, |c| c.storage_quota = 1_500);
    for i in 0..4 {
        submit_class(
            &mut net,
            2,
            Priority::Emergency,
            HOUR,
            &format!("alert {i} padded"),
        );
    }
    net.connect(2, 1);
    let alerts = |net: &Net| {
        classes(net, 1)
            .iter()
            .filter(|p| **p == Priority::Emergency)
            .count()
    };
    assert_eq!(alerts(&net), 4);
    for i in 0..40 {
        submit_class(
            &mut net,
            0,
            Priority::Bulk,
            HOUR,
            &format!("bulk {i:02} padded"),
        );
    }
    net.connect(0, 1);
    for i in 0..40 {
        submit_class(
            &mut net,
            0,
            Priority::High,
            HOUR,
            &format!("high {i:02} padded"),
        );
    }
    assert_eq!(alerts(&net), 4, "no lower class evicts an emergency bundle");
    assert!(net.hosts[1].node.counters().refused_storage > 0);
}

#[test]
fn an_emergency_bundle_evicts_the_lowest_class_first() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    reconfigure(&mut net, 1, |c| {
        c.storage_quota = 1_000;
        c.storage_shares.bulk_max_percent = 100;
        c.storage_shares.normal_max_percent = 100;
        c.storage_shares.emergency_reserve_percent = 0;
    });
    for i in 0..3 {
        submit_class(
            &mut net,
            0,
            Priority::Normal,
            HOUR,
            &format!("normal {i} padded out"),
        );
        submit_class(
            &mut net,
            0,
            Priority::Bulk,
            HOUR,
            &format!("bulk {i} padded out"),
        );
    }
    let (la, _) = net.connect(0, 1);
    net.disconnect(0, la);
    let before = classes(&net, 1);
    assert_eq!(before.len(), 6);
    let full = net.hosts[1].node.stored_bytes();
    // An emergency relay bundle that needs about one bundle's room.
    let pad = "e".repeat((1_000 - full as usize).max(1) + 20);
    submit_class(&mut net, 2, Priority::Emergency, HOUR, &pad);
    net.connect(2, 1);
    let after = classes(&net, 1);
    assert!(after.contains(&Priority::Emergency));
    let count = |c: Priority| after.iter().filter(|p| **p == c).count();
    assert_eq!(
        count(Priority::Normal),
        3,
        "normals stay while bulk can make room"
    );
    assert!(count(Priority::Bulk) < 3);
    assert!(net.hosts[1].node.counters().evicted >= 1);
}

#[test]
fn relay_traffic_does_not_evict_its_own_class() {
    let mut net = Net::new(&["a", "b", "c"], RouterKind::Epidemic);
    reconfigure(&mut net, 1, |c| c.storage_quota = 600);
    for i in 0..10 {
        submit_class(
            &mut net,
            0,
            Priority::Normal,
            HOUR,
            &format!("first {i} padded"),
        );
    }
    net.connect(0, 1);
    let held = classes(&net, 1).len();
    for i in 0..10 {
        submit_class(
            &mut net,
            2,
            Priority::Normal,
            HOUR,
            &format!("second {i} padded"),
        );
    }
    net.connect(2, 1);
    assert_eq!(classes(&net, 1).len(), held);
    assert_eq!(net.hosts[1].node.counters().evicted, 0);
}
