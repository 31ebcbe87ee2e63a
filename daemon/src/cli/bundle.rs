//! `tern bundle`: create and inspect bundles offline.
//!
//! `create` builds a bundle from flags with [`BundleBuilder`] and writes it raw or as hex;
//! `inspect` reads one (raw CBOR or hex, auto-detected) and prints every field as JSON, or just
//! its payload. Neither touches a running node: they are for tests, debugging and scripts.
//!
//! Command-line values are parsed here rather than by clap so that every refusal is one line that
//! names the flag and the broken rule (`--dst: dtn EID needs a '/' ...`). Errors are typed
//! ([`BundleError`]) and carry their exit code: 2 for bad input, 1 for failed IO.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use proto::wire::{
    BuildError, Bundle, BundleBuilder, BundleFlags, CrcType, CreationTimestamp, DecodeError,
    DtnTime, Eid,
};

use super::input::{self, InputError};
use super::view;

/// `tern bundle …`
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Build a bundle and write it as raw CBOR (or as hex text with --hex).
    Create(CreateArgs),
    /// Decode a bundle (raw CBOR or hex text) and print every field as JSON.
    Inspect(InspectArgs),
}

/// Flags of `tern bundle create`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Source endpoint: dtn://node/service, ipn:node.service, or dtn:none (anonymous).
    #[arg(long, value_name = "EID")]
    pub src: String,
    /// Destination endpoint.
    #[arg(long, value_name = "EID")]
    pub dst: String,
    /// Where status reports go [default: the source].
    #[arg(long, value_name = "EID")]
    pub report_to: Option<String>,
    /// How long the bundle lives after creation, e.g. 90s, 15m, 1h, 2d.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub lifetime: String,
    /// CRC type of every block (RFC 9171 §4.2.1).
    #[arg(long, value_enum, default_value_t = CrcArg::Crc32c)]
    pub crc: CrcArg,
    /// Payload given as text (UTF-8).
    #[arg(long, value_name = "TEXT", conflicts_with = "payload_file")]
    pub payload: Option<String>,
    /// Payload read from a file, byte for byte; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub payload_file: Option<PathBuf>,
    /// Add a hop-count block with this limit, 1–255 (RFC 9171 §4.4.3).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub hop_limit: Option<u8>,
    /// Forbid fragmenting the bundle.
    #[arg(long)]
    pub must_not_fragment: bool,
    /// Ask for a status report when the bundle is received.
    #[arg(long)]
    pub request_reception_report: bool,
    /// Ask for a status report when the bundle is forwarded.
    #[arg(long)]
    pub request_forwarding_report: bool,
    /// Ask for a status report when the bundle is delivered.
    #[arg(long)]
    pub request_delivery_report: bool,
    /// Ask for a status report when the bundle is deleted.
    #[arg(long)]
    pub request_deletion_report: bool,
    /// Ask that status reports carry the time of the event.
    #[arg(long)]
    pub request_status_time: bool,
    /// Ask the destination application to acknowledge receipt.
    #[arg(long)]
    pub request_app_ack: bool,
    /// Write the bundle to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write lowercase hex text and a newline instead of raw CBOR.
    #[arg(long)]
    pub hex: bool,
}

/// Flags of `tern bundle inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// File holding the bundle as raw CBOR or hex text; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Print the payload's bytes, unchanged, instead of JSON.
    #[arg(long)]
    pub payload: bool,
}

/// The `--crc` choices, spelled as people say them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrcArg {
    /// No CRC.
    #[value(name = "none")]
    None,
    /// CRC-16/X.25.
    #[value(name = "16")]
    Crc16,
    /// CRC-32C (Castagnoli).
    #[value(name = "32c")]
    Crc32c,
}

impl From<CrcArg> for CrcType {
    fn from(c: CrcArg) -> Self {
        match c {
            CrcArg::None => Self::None,
            CrcArg::Crc16 => Self::Crc16,
            CrcArg::Crc32c => Self::Crc32c,
        }
    }
}

/// Why a `tern bundle` command failed. Each variant's message is one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// A command-line value was refused.
    #[error("{flag}: {reason}")]
    BadArgument {
        /// The flag, as typed (`--dst`).
        flag: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The flags describe a bundle RFC 9171 forbids.
    #[error("cannot build the bundle: {0}")]
    Build(#[from] BuildError),
    /// The input is not a bundle's bytes (bad hex, empty, too large).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The bytes are not a valid bundle; the error names the block and byte offset.
    #[error("invalid bundle: {0}")]
    Invalid(#[from] DecodeError),
    /// Reading or writing a file or stream failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl BundleError {
    /// The process exit code: 2 for input the user can fix, 1 for IO failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Io { .. } => 1,
            _ => 2,
        }
    }

    /// True when the reader of our output went away (`tern bundle inspect | head`): not worth
    /// an error message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }

    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// Runs one `tern bundle` subcommand. `stdin` and `stdout` are parameters so tests can drive it.
pub fn run(
    cmd: BundleCmd,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), BundleError> {
    match cmd {
        BundleCmd::Create(args) => create(&args, stdin, stdout),
        BundleCmd::Inspect(args) => inspect(&args, stdin, stdout),
    }
}

/// `tern bundle create`: builds the bundle stamped with the wall clock and writes it.
pub fn create(
    args: &CreateArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), BundleError> {
    let payload = match (&args.payload, &args.payload_file) {
        (Some(text), _) => Bytes::from(text.clone().into_bytes()),
        (None, Some(path)) => Bytes::from(read_whole(path, stdin, "--payload-file")?),
        (None, None) => Bytes::new(),
    };
    // A clock set before 1970 is as good as no clock: DTN time 0, which `build_bundle` handles.
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let bundle = build_bundle(args, payload, since_epoch)?;
    let mut bytes = bundle.encode();
    log_bundle("created bundle", &bundle, bytes.len());
    if args.hex {
        bytes = format!("{}\n", hex::encode(&bytes)).into_bytes();
    }
    match args.output.as_deref() {
        Some(path) if path != Path::new("-") => {
            fs::write(path, &bytes).map_err(BundleError::io(format!("output {}", path.display())))
        }
        _ => write_all(stdout, &bytes),
    }
}

/// Builds the bundle `args` describe, created `since_unix_epoch` after 1970 (the caller reads
/// the clock, so this stays deterministic and testable).
pub fn build_bundle(
    args: &CreateArgs,
    payload: Bytes,
    since_unix_epoch: Duration,
) -> Result<Bundle, BundleError> {
    let source = parse_eid("--src", &args.src)?;
    let destination = parse_eid("--dst", &args.dst)?;
    let report_to = match &args.report_to {
        Some(text) => Some(parse_eid("--report-to", text)?),
        None => None,
    };
    let lifetime_ms =
        parse_lifetime(&args.lifetime).map_err(|reason| BundleError::BadArgument {
            flag: "--lifetime",
            reason,
        })?;
    let creation = creation_timestamp(since_unix_epoch);
    let mut builder = BundleBuilder::new(source, destination, creation, lifetime_ms)
        .crc(args.crc.into())
        .flags(args.bundle_flags())
        .payload(payload);
    if let Some(eid) = report_to {
        builder = builder.report_to(eid);
    }
    if creation.time == DtnTime(0) {
        // RFC 9171 §4.2.7: without a clock, a bundle age block must say how old the bundle is.
        builder = builder.bundle_age(0);
    }
    if let Some(limit) = args.hop_limit {
        builder = builder.hop_limit(limit);
    }
    Ok(builder.build()?)
}

impl CreateArgs {
    /// The bundle processing control flags the `--must-not-fragment` and `--request-*` flags ask
    /// for (RFC 9171 §4.2.3).
    pub fn bundle_flags(&self) -> BundleFlags {
        let wanted = [
            (self.must_not_fragment, BundleFlags::MUST_NOT_FRAGMENT),
            (self.request_reception_report, BundleFlags::REPORT_RECEPTION),
            (
                self.request_forwarding_report,
                BundleFlags::REPORT_FORWARDING,
            ),
            (self.request_delivery_report, BundleFlags::REPORT_DELIVERY),
            (self.request_deletion_report, BundleFlags::REPORT_DELETION),
            (self.request_status_time, BundleFlags::STATUS_TIME_REQUESTED),
            (self.request_app_ack, BundleFlags::APP_ACK_REQUESTED),
        ];
        wanted
            .into_iter()
            .filter(|(on, _)| *on)
            .fold(BundleFlags::empty(), |acc, (_, flag)| acc | flag)
    }
}

/// The creation timestamp for a bundle made `since_unix_epoch` after 1970 (RFC 9171 §4.2.7).
///
/// The sequence number is the sub-millisecond part of the clock reading (0–999,999 ns), so two
/// bundles this command creates from the same source in the same millisecond still differ —
/// without state shared between invocations. Two runs would have to read the clock in the same
/// nanosecond to collide.
pub fn creation_timestamp(since_unix_epoch: Duration) -> CreationTimestamp {
    let unix_ms = u64::try_from(since_unix_epoch.as_millis()).unwrap_or(u64::MAX);
    let sub_ms_nanos = since_unix_epoch.subsec_nanos() % 1_000_000;
    CreationTimestamp::new(DtnTime::from_unix_ms(unix_ms), u64::from(sub_ms_nanos))
}

/// Parses a lifetime such as `90s`, `1h 30m` or `2d` into milliseconds. The error is the reason,
/// for the caller to put after the flag's name.
pub fn parse_lifetime(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration ({e}); write e.g. 90s, 15m, 1h or 2d"))?;
    let ms = u64::try_from(duration.as_millis())
        .map_err(|_| format!("'{text}' is too long to count in milliseconds"))?;
    if ms == 0 {
        return Err(format!(
            "'{text}' is shorter than a millisecond: the bundle would expire on creation"
        ));
    }
    Ok(ms)
}

/// Parses an EID flag, naming the flag in the error.
fn parse_eid(flag: &'static str, text: &str) -> Result<Eid, BundleError> {
    text.parse()
        .map_err(|e: proto::wire::EidError| BundleError::BadArgument {
            flag,
            reason: e.to_string(),
        })
}

/// `tern bundle inspect`: decodes the input and prints its JSON view or its payload.
pub fn inspect(
    args: &InspectArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<(), BundleError> {
    let raw = match args.input.as_deref() {
        Some(path) if path != Path::new("-") => read_whole(path, stdin, "input")?,
        _ => read_stream(stdin, "stdin")?,
    };
    let bytes = input::bundle_bytes(raw)?;
    let size = bytes.len();
    let bundle = Bundle::decode(Bytes::from(bytes))?;
    log_bundle("decoded bundle", &bundle, size);
    if args.payload {
        return write_all(stdout, bundle.payload());
    }
    view::write_json(stdout, &bundle, size)
        .and_then(|()| stdout.flush())
        .map_err(BundleError::io("stdout"))
}

/// Reads a file (or stdin for `-`) whole, within [`input::MAX_INPUT_LEN`].
fn read_whole(path: &Path, stdin: &mut dyn Read, what: &str) -> Result<Vec<u8>, BundleError> {
    if path == Path::new("-") {
        return read_stream(stdin, "stdin");
    }
    let name = format!("{what} {}", path.display());
    let mut file = fs::File::open(path).map_err(BundleError::io(name.clone()))?;
    read_stream(&mut file, &name)
}

fn read_stream(reader: &mut dyn Read, name: &str) -> Result<Vec<u8>, BundleError> {
    Ok(input::read_limited(reader).map_err(BundleError::io(name))??)
}

fn log_bundle(what: &str, bundle: &Bundle, size: usize) {
    let p = bundle.primary();
    tracing::debug!(
        size,
        source = %p.source,
        time_ms = p.creation.time.millis(),
        sequence = p.creation.sequence,
        "{what}"
    );
}

fn write_all(out: &mut dyn Write, bytes: &[u8]) -> Result<(), BundleError> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(BundleError::io("stdout"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use clap::Parser;

    use super::*;

    /// Parses `tern bundle create …` flags the way the binary does.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: BundleCmd,
    }

    fn create_args(extra: &[&str]) -> CreateArgs {
        let mut argv = vec!["t", "create", "--src", "dtn://a/", "--dst", "ipn:2.1"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().cmd {
            BundleCmd::Create(a) => a,
            BundleCmd::Inspect(_) => unreachable!(),
        }
    }

    const NOW: Duration = Duration::new(1_701_684_800, 123_456_789);

    #[test]
    fn lifetimes_accept_human_durations() {
        assert_eq!(parse_lifetime("90s"), Ok(90_000));
        assert_eq!(parse_lifetime("1h"), Ok(3_600_000));
        assert_eq!(parse_lifetime("2d"), Ok(172_800_000));
        assert_eq!(parse_lifetime("1h 30m"), Ok(5_400_000));
        assert_eq!(parse_lifetime("250ms"), Ok(250));
    }

    #[test]
    fn lifetime_without_unit_is_refused_with_an_example() {
        let reason = parse_lifetime("90").unwrap_err();
        assert!(reason.contains("'90' is not a duration"), "{reason}");
        assert!(reason.contains("90s"), "{reason}");
    }

    #[test]
    fn lifetime_below_a_millisecond_is_refused() {
        assert!(
            parse_lifetime("0s")
                .unwrap_err()
                .contains("shorter than a millisecond")
        );
    }

    #[test]
    fn creation_timestamp_uses_dtn_time_and_sub_millisecond_sequence() {
        let ts = creation_timestamp(NOW);
        assert_eq!(ts.time, DtnTime(755_000_000_123));
        assert_eq!(ts.sequence, 456_789);
    }

    #[test]
    fn clock_before_2000_gives_a_bundle_age_block() {
        let b = build_bundle(&create_args(&[]), Bytes::new(), Duration::from_secs(5)).unwrap();
        assert_eq!(b.primary().creation.time, DtnTime(0));
        assert_eq!(b.bundle_age(), Some(0));
    }

    #[test]
    fn flags_and_options_reach_the_bundle() {
        let args = create_args(&[
            "--crc",
            "16",
            "--lifetime",
            "90s",
            "--hop-limit",
            "7",
            "--report-to",
            "dtn://reports/",
            "--must-not-fragment",
            "--request-delivery-report",
        ]);
        let b = build_bundle(&args, Bytes::from_static(b"x"), NOW).unwrap();
        let p = b.primary();
        assert_eq!(p.crc, CrcType::Crc16);
        assert_eq!(p.lifetime_ms, 90_000);
        assert_eq!(p.report_to.to_string(), "dtn://reports/");
        assert_eq!(
            p.flags,
            BundleFlags::MUST_NOT_FRAGMENT | BundleFlags::REPORT_DELIVERY
        );
        assert_eq!(b.hop_count().map(|h| h.limit), Some(7));
        assert_eq!(b.payload().as_ref(), b"x");
    }

    #[test]
    fn bad_destination_names_the_flag() {
        let mut args = create_args(&[]);
        args.dst = "dtn://nowhere".into();
        let err = build_bundle(&args, Bytes::new(), NOW).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("--dst: dtn EID needs a '/'"),
            "{err}"
        );
    }

    #[test]
    fn anonymous_bundle_asking_for_reports_is_refused() {
        let mut args = create_args(&["--request-reception-report"]);
        args.src = "dtn:none".into();
        let err = build_bundle(&args, Bytes::new(), NOW).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot build the bundle: "),
            "{err}"
        );
    }

    #[test]
    fn created_hex_inspects_to_json() {
        let args = create_args(&["--hex", "--payload", "hello"]);
        let mut hex_out = Vec::new();
        create(&args, &mut io::empty(), &mut hex_out).unwrap();
        assert_eq!(hex_out.last(), Some(&b'\n'));
        let inspect_args = InspectArgs {
            input: None,
            payload: false,
        };
        let mut json = Vec::new();
        inspect(&inspect_args, &mut hex_out.as_slice(), &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["primary"]["destination"], "ipn:2.1");
        assert_eq!(v["blocks"][0]["payload"]["text"], "hello");
    }

    #[test]
    fn truncated_bundle_is_an_invalid_bundle_error() {
        let b = build_bundle(&create_args(&[]), Bytes::new(), NOW).unwrap();
        let bytes = b.encode();
        let args = InspectArgs {
            input: None,
            payload: false,
        };
        let err = inspect(&args, &mut &bytes[..bytes.len() - 3], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, BundleError::Invalid(_)), "{err}");
        assert_eq!(err.exit_code(), 2);
    }
}
