//! End-to-end tests of `tern bundle create` and `tern bundle inspect`: the real binary, run as a
//! user would, checking exit codes, stdout and the one-line errors on stderr.
//!
//! The binary comes from `tern_tests::built_binary`, which builds it first (see there for why a
//! dependency on the daemon crate would not). Expected values come from the conformance vectors
//! in `proto/tests/data/bpv7/bpv7_bundles.json`, read independently of tern's own decoder.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// What one run of `tern` did.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "tern failed: {}", self.stderr);
        serde_json::from_slice(&self.stdout).unwrap()
    }

    /// The error line, checking there is exactly one.
    fn error_line(&self) -> &str {
        assert_ne!(self.code, 0, "tern succeeded unexpectedly");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "want one line on stderr, got: {:?}",
            self.stderr
        );
        lines[0]
    }
}

fn tern(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(tern_tests::built_binary("tern-daemon", "tern"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Inputs are small; the child reads them whole before writing, so this cannot deadlock.
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A directory under the system temp dir, unique per test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tern-cli-bundle-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The bundle cases of the BPv7 conformance vectors.
fn vectors() -> Vec<Value> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/data/bpv7/bpv7_bundles.json");
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    file["cases"].as_array().unwrap().clone()
}

fn vector(id: &str) -> Vec<u8> {
    let case = vectors().into_iter().find(|c| c["id"] == id).unwrap();
    hex::decode(case["hex"].as_str().unwrap()).unwrap()
}

/// The URI of an EID given as the vectors' decoded CBOR: `[1, "//n/d"]`, `[1, 0]`, `[2, [n, s]]`.
fn uri(eid: &Value) -> String {
    match (eid[0].as_u64().unwrap(), &eid[1]) {
        (1, Value::Number(_)) => "dtn:none".to_owned(),
        (1, Value::String(ssp)) => format!("dtn:{ssp}"),
        (2, Value::Array(parts)) => {
            let nums: Vec<String> = parts.iter().map(ToString::to_string).collect();
            format!("ipn:{}", nums.join("."))
        }
        other => panic!("unexpected EID in vector: {other:?}"),
    }
}

fn create(extra: &[&str]) -> Vec<u8> {
    let mut args = vec![
        "bundle",
        "create",
        "--src",
        "dtn://node1/",
        "--dst",
        "ipn:7.3",
    ];
    args.extend_from_slice(extra);
    let run = tern(&args, b"");
    assert_eq!(run.code, 0, "create failed: {}", run.stderr);
    run.stdout
}

fn inspect(input: &[u8]) -> Value {
    tern(&["bundle", "inspect"], input).json()
}

#[test]
fn created_bundle_inspects_back_with_every_crc_type() {
    for (crc, name) in [("none", "none"), ("16", "CRC-16/X.25"), ("32c", "CRC-32C")] {
        let raw = create(&[
            "--crc",
            crc,
            "--payload",
            "hello, world",
            "--lifetime",
            "90s",
        ]);
        assert_eq!(
            raw.first(),
            Some(&0x9f),
            "raw CBOR starts with an indefinite array"
        );
        let v = inspect(&raw);
        let p = &v["primary"];
        assert_eq!(p["source"], "dtn://node1/");
        assert_eq!(p["destination"], "ipn:7.3");
        assert_eq!(p["report_to"], "dtn://node1/");
        assert_eq!(p["lifetime"]["ms"], 90_000);
        assert_eq!(p["crc"]["type"], name);
        assert_eq!(v["size"], raw.len());
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0]["crc"]["type"], name);
        assert_eq!(blocks[0]["payload"]["text"], "hello, world");
        assert_eq!(blocks[0]["payload"]["length"], 12);
    }
}

#[test]
fn payload_file_round_trips_byte_for_byte() {
    let dir = TempDir::new();
    let payload: Vec<u8> = (0..=255u8).chain([0, 0xff, 0xc3]).collect();
    let (payload_file, bundle_file) = (dir.file("payload.bin"), dir.file("bundle.cbor"));
    std::fs::write(&payload_file, &payload).unwrap();
    let written = create(&[
        "--payload-file",
        path_str(&payload_file),
        "-o",
        path_str(&bundle_file),
    ]);
    assert!(written.is_empty(), "-o writes the file, not stdout");
    let run = tern(
        &["bundle", "inspect", "--payload", path_str(&bundle_file)],
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, payload);
}

#[test]
fn hex_output_inspects_the_same_as_raw() {
    let text = create(&["--hex", "--payload", "same either way", "--hop-limit", "4"]);
    let text = String::from_utf8(text).unwrap();
    assert!(text.ends_with('\n'));
    let digits = text.trim_end();
    assert!(
        digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let raw = hex::decode(digits).unwrap();
    assert_eq!(inspect(text.as_bytes()), inspect(&raw));
}

#[test]
fn hex_input_may_be_uppercase_and_spread_over_lines() {
    let raw = vector("selfgen-dtn-crc-mix");
    let upper = hex::encode_upper(&raw);
    let wrapped: Vec<String> = upper
        .as_bytes()
        .chunks(32)
        .map(|c| format!("  {}\n", String::from_utf8_lossy(c)))
        .collect();
    assert_eq!(inspect(wrapped.concat().as_bytes()), inspect(&raw));
}

#[test]
fn every_conformance_vector_inspects_to_its_fields() {
    for case in vectors() {
        let id = case["id"].as_str().unwrap();
        let raw = hex::decode(case["hex"].as_str().unwrap()).unwrap();
        let v = inspect(&raw);
        let decoded = case["decoded"].as_array().unwrap();
        let (primary, blocks) = (&decoded[0], &decoded[1..]);
        let p = &v["primary"];
        assert_eq!(v["size"], raw.len(), "{id}");
        assert_eq!(p["flags"]["bits"], primary[1], "{id}");
        assert_eq!(p["crc"]["code"], primary[2], "{id}");
        assert_eq!(p["destination"], uri(&primary[3]), "{id}");
        assert_eq!(p["source"], uri(&primary[4]), "{id}");
        assert_eq!(p["report_to"], uri(&primary[5]), "{id}");
        assert_eq!(p["creation"]["time_ms"], primary[6][0], "{id}");
        assert_eq!(p["creation"]["sequence"], primary[6][1], "{id}");
        assert_eq!(p["lifetime"]["ms"], primary[7], "{id}");
        let shown = v["blocks"].as_array().unwrap();
        assert_eq!(shown.len(), blocks.len(), "{id}");
        for (s, b) in shown.iter().zip(blocks) {
            assert_eq!(s["type"]["code"], b[0], "{id}");
            assert_eq!(s["number"], b[1], "{id}");
            assert_eq!(s["flags"]["bits"], b[2], "{id}");
            assert_eq!(s["crc"]["code"], b[3], "{id}");
        }
        let payload_hex = blocks.last().unwrap()[4]["bstr"].as_str().unwrap();
        let payload = shown.last().unwrap();
        assert_eq!(payload["payload"]["length"], payload_hex.len() / 2, "{id}");
    }
}

#[test]
fn extension_blocks_show_their_typed_content() {
    let v = inspect(&vector("selfgen-dtn-crc-mix"));
    let blocks = &v["blocks"];
    assert_eq!(blocks[0]["previous_node"], "dtn://node1/");
    assert_eq!(blocks[1]["bundle_age_ms"], 1234);
    assert_eq!(blocks[2]["hop_count"]["limit"], 30);
    assert_eq!(blocks[2]["hop_count"]["count"], 1);
    assert_eq!(v["primary"]["creation"]["utc"], "2023-12-04T10:13:20.000Z");
    let names = &v["primary"]["flags"]["names"];
    assert_eq!(
        names,
        &serde_json::json!(["must_not_fragment", "report_delivery"])
    );
}

#[test]
fn fragment_fields_are_shown() {
    let v = inspect(&vector("selfgen-fragment-crc16"));
    assert_eq!(v["primary"]["fragment"]["offset"], 10);
    assert_eq!(v["primary"]["fragment"]["total_adu_length"], 35);
    assert_eq!(v["primary"]["creation"]["utc"], Value::Null);
}

#[test]
fn payload_flag_prints_exactly_the_payload() {
    let run = tern(
        &["bundle", "inspect", "--payload", "-"],
        &vector("selfgen-dtn-crc-mix"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, b"Hello, DTN!");
}

#[test]
fn created_flags_and_hop_limit_show_in_inspect() {
    let raw = create(&[
        "--hop-limit",
        "9",
        "--report-to",
        "ipn:9.0",
        "--request-delivery-report",
        "--must-not-fragment",
    ]);
    let v = inspect(&raw);
    assert_eq!(v["primary"]["report_to"], "ipn:9.0");
    assert_eq!(v["primary"]["flags"]["bits"], 0x2_0004);
    assert_eq!(v["blocks"][0]["hop_count"]["limit"], 9);
    assert_eq!(v["blocks"][0]["hop_count"]["count"], 0);
}

#[test]
fn corrupted_crc_exits_2_naming_the_block_and_offset() {
    let mut raw = vector("selfgen-dtn-crc-mix");
    // Bundle age block #3: array(6) type 7, number 3, flags 0, CRC-32C, data 0x1904d2, then the
    // CRC as a 4-byte string (header 0x44 at +9, value at +10..+14).
    let block = hex::decode("8607030002431904d244").unwrap();
    let start = raw.windows(block.len()).position(|w| w == block).unwrap();
    raw[start + 13] ^= 0xff;
    let run = tern(&["bundle", "inspect"], &raw);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.error_line(),
        format!(
            "error: invalid bundle: block #3 (type 7, bundle age) at byte {}: CRC-32C mismatch: \
             block carries 0x7f83e513, computed 0x7f83e5ec",
            start + 9
        )
    );
}

#[test]
fn truncated_bundle_is_refused_with_the_offset() {
    let raw = vector("selfgen-dtn-crc-mix");
    let run = tern(&["bundle", "inspect"], &raw[..raw.len() / 2]);
    assert_eq!(run.code, 2);
    let line = run.error_line();
    assert!(line.starts_with("error: invalid bundle: "), "{line}");
    assert!(line.contains(" at byte "), "{line}");
}

#[test]
fn bad_hex_is_refused_naming_the_character_position() {
    let run = tern(&["bundle", "inspect"], b"9f89\n07x1");
    assert_eq!(run.code, 2);
    let line = run.error_line();
    assert!(
        line.starts_with("error: invalid hex: 'x' at line 2, column 3 (byte 7)"),
        "{line}"
    );
}

#[test]
fn odd_number_of_hex_digits_is_refused() {
    let run = tern(&["bundle", "inspect"], b"9f8907a");
    assert_eq!(run.code, 2);
    assert!(run.error_line().contains("odd number of hex digits (7)"));
}

#[test]
fn empty_input_is_refused() {
    let run = tern(&["bundle", "inspect"], b"\n");
    assert_eq!(run.code, 2);
    assert!(run.error_line().starts_with("error: empty input"));
}

#[test]
fn missing_input_file_exits_1_naming_the_file() {
    let dir = TempDir::new();
    let missing = dir.file("nope.cbor");
    let run = tern(&["bundle", "inspect", path_str(&missing)], b"");
    assert_eq!(run.code, 1);
    assert!(run.error_line().contains("nope.cbor"));
}

#[test]
fn bad_destination_is_refused_naming_the_flag() {
    let run = tern(
        &["bundle", "create", "--src", "ipn:1.1", "--dst", "dtn://x"],
        b"",
    );
    assert_eq!(run.code, 2);
    assert!(
        run.error_line()
            .starts_with("error: --dst: dtn EID needs a '/'"),
        "{}",
        run.stderr
    );
}

#[test]
fn lifetime_without_unit_is_refused_naming_the_flag() {
    let run = tern(
        &[
            "bundle",
            "create",
            "--src",
            "ipn:1.1",
            "--dst",
            "ipn:2.1",
            "--lifetime",
            "90",
        ],
        b"",
    );
    assert_eq!(run.code, 2);
    assert!(
        run.error_line()
            .starts_with("error: --lifetime: '90' is not a duration")
    );
}

#[test]
fn anonymous_bundle_requesting_reports_is_refused() {
    let args = [
        "bundle",
        "create",
        "--src",
        "dtn:none",
        "--dst",
        "ipn:2.1",
        "--request-deletion-report",
    ];
    let run = tern(&args, b"");
    assert_eq!(run.code, 2);
    assert!(
        run.error_line()
            .starts_with("error: cannot build the bundle: ")
    );
}

#[test]
fn status_report_vector_shows_its_admin_record() {
    let v = inspect(&vector("selfgen-status-report-received"));
    let record = &v["admin_record"];
    assert_eq!(record["kind"], "bundle status report");
    assert_eq!(record["received"]["asserted"], true);
    assert_eq!(record["delivered"]["asserted"], false);
    assert_eq!(record["reason"]["code"], 0);
    assert_eq!(record["subject"]["source"], "ipn:2.1");
    assert_eq!(record["subject"]["creation"]["sequence"], 40);
}
