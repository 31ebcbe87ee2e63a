//! The daemon's durable store: a node's [`StoreOp`]s kept in sled, and the mailboxes of local
//! applications.
//!
//! What it is: the disk behind `proto::node`'s storage effects. The driver collects the
//! `Output::Store` ops (and mailbox deliveries) of one turn of its loop in a [`WriteBatch`], in
//! order, applies them with one [`SledStore::commit`] (one sled batch per tree instead of one
//! per op), then makes a whole group of turns durable with one [`SledStore::flush`] (group
//! commit: many ops, one fsync) and only then reports `Input::Stored`. On restart, [`SledStore::restored`] gives `Node::new` what it recovers. The
//! semantics are exactly those of `proto::node::store::StoreState`; the conformance test in
//! `tests/tests/store_conformance.rs` checks that op for op.
//!
//! # On-disk layout (format version [`FORMAT_VERSION`])
//!
//! Tree `node` holds every node record under a one-byte prefix, so that each [`StoreOp`] is one
//! atomic sled batch (a bundle and its metadata are written and removed together):
//!
//! | key                                | value                                   |
//! |------------------------------------|-----------------------------------------|
//! | `V`                                | format version, `u32` big-endian        |
//! | `B` + bundle key (`u64` big-endian)| the encoded bundle, exactly as received |
//! | `F` + bundle key (`u64` big-endian)| postcard(`FileRef`): the bundle is a file (see below) |
//! | `M` + bundle key (`u64` big-endian)| postcard([`BundleMeta`])                |
//! | `I` + bundle key (`u64` big-endian)| postcard([`BundleIndex`]), written once with the bundle |
//! | `T` + postcard([`BundleId`])       | postcard([`DtnTime`]): the tombstone's end |
//! | `R` + endpoint URI text            | empty: a registration                   |
//! | `S`                                | the router's state (`StoreOp::PutRouterState`) |
//!
//! A bundle of at least [`FILE_MIN`] bytes is not in sled but in a file of directory `files/`,
//! named by a number from sled's id generator; its `F` record says which (see [`files`] for
//! why, and for the crash-safety rules). A bundle has either a `B` or an `F` record.
//!
//! # Restoring without payloads
//!
//! [`SledStore::restored`] builds the node's bundle table from the `I` and `M` records alone:
//! it never reads a bundle's file, only checks its length, and walks the `B` records' keys
//! without keeping their values. Bytes come back only for the few bundles the node needs them
//! for ([`BundleIndex::needs_bytes_on_restore`]: fragments addressed to a registered endpoint).
//! So a node storing gigabytes starts in memory proportional to its bundle count, not to its
//! store (a Raspberry Pi restarting after a power cut must not run out of memory).
//!
//! Tree `mailbox` holds deliveries waiting for their application (see [`MailboxRecord`]):
//! endpoint URI text + `0x00` + sequence number (`u64` big-endian) → postcard(record), where the
//! record either holds its payload or names the stored file and byte range that hold it. EID text
//! never contains `0x00`, so one endpoint's records form one contiguous, ordered key range.
//!
//! Big-endian numbers make sled's byte order the numeric order: bundles come back in admission
//! order and mailbox records in delivery order.
//!
//! # What recovery forgives
//!
//! A store that cannot be read at all, or whose format version is not ours, is refused: guessing
//! at an unknown layout could silently lose bundles. Single damaged records are not worth a node
//! that will not start: a bundle whose metadata is missing or unreadable comes back with
//! `BundleMeta::default()` (the bundle outlives its bookkeeping); a bundle whose index is missing
//! or unreadable is read and decoded once to rebuild it (and dropped if it does not decode); a
//! metadata or index record without its bundle is dropped, and an unreadable tombstone or
//! registration is skipped. Each case logs a warning naming the record's key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proto::node::{BundleIndex, BundleKey, BundleMeta, Restored, StoreOp, StoredBundle};
use proto::wire::{Bundle, BundleId, DtnTime, Eid};
use serde::Serialize;

mod files;
mod mailbox;

pub use files::FILE_MIN;
use files::{FileRef, Files};
pub use mailbox::MailboxRecord;

/// The layout version this build reads and writes. Bump it whenever the layout above changes,
/// so an older or newer tern refuses a store it would misread instead of corrupting it.
/// Version 2 added file-backed bundles (`F` records, `files/`), file-backed mailbox records and
/// the router state record. Version 3 added the `I` (index) records, so that a restart reads
/// no bundle bytes; a version 2 store lacks them and is refused rather than read bundle by
/// bundle.
pub const FORMAT_VERSION: u32 = 3;

/// sled's page cache. Its default (1 GiB) is far more than a node needs once large bundles
/// are files: the records left are small, and the operating system caches the disk anyway.
pub const CACHE_CAPACITY: u64 = 16 << 20;

/// Most ops applied between two flushes; [`SledStore::apply`] flushes on reaching it.
///
/// Why: sled 0.34.7 can deadlock when many log writes are queued on its IO thread pool while a
/// file truncation (after deletes) waits behind them: a thread holding the segment lock waits for
/// the truncation, and every pool thread waits for that lock (fixed upstream only after 0.34.7,
/// sled PR #1269). 10,000 unflushed puts and deletes per round hung within about ten rounds;
/// with a flush at least every 1,024 ops no run hung in minutes. Bounding the backlog keeps that
/// queue short. The cost is one extra fsync per this many ops, only when the driver's own group
/// commit does not flush sooner.
pub const MAX_UNFLUSHED_OPS: usize = 256;

/// Most bundle bytes applied between two flushes; see [`MAX_UNFLUSHED_OPS`].
pub const MAX_UNFLUSHED_BYTES: usize = 16 << 20;

const NODE_TREE: &str = "node";
const MAILBOX_TREE: &str = "mailbox";
const VERSION_KEY: &[u8] = b"V";
const BUNDLE: u8 = b'B';
const FILE_BUNDLE: u8 = b'F';
const ROUTER_STATE_KEY: &[u8] = b"S";
const FILES_DIR: &str = "files";
const META: u8 = b'M';
const INDEX: u8 = b'I';
const TOMBSTONE: u8 = b'T';
const REGISTRATION: u8 = b'R';

/// Why the store could not do what was asked. Every variant names the store's directory or the
/// record involved, so an operator can find it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled could not open the directory (missing permissions, locked by another process, ...).
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The store's directory.
        path: PathBuf,
        /// What sled reported.
        source: sled::Error,
    },
    /// Another process (or a store of this process not yet fully closed: sled finishes closing
    /// on background threads) holds the store's lock.
    #[error("the store at {path} is in use by another process (its lock is held)")]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// The store was written with a layout this build does not know.
    #[error(
        "the store at {path} has format version {found}, but this tern reads only version \
         {FORMAT_VERSION}: use a matching tern, or move the directory away to start empty"
    )]
    UnknownVersion {
        /// The store's directory.
        path: PathBuf,
        /// The version found on disk.
        found: u32,
    },
    /// The store has records but no readable version record: not ours, or damaged.
    #[error(
        "the store at {path} holds records but {problem}: it was not written by tern, or is \
         damaged; refusing to guess its layout"
    )]
    BadVersionRecord {
        /// The store's directory.
        path: PathBuf,
        /// What is wrong with the version record.
        problem: String,
    },
    /// Reading or writing failed.
    #[error("store at {path}: {doing} failed: {source}")]
    Io {
        /// The store's directory.
        path: PathBuf,
        /// What the store was doing, naming the record.
        doing: String,
        /// What sled reported.
        source: sled::Error,
    },
    /// A bundle's or payload's file could not be written, read or synced.
    #[error("store at {path}: {doing} failed: {source}")]
    File {
        /// The file (or the directory).
        path: PathBuf,
        /// What the store was doing.
        doing: String,
        /// What the system reported.
        source: std::io::Error,
    },
    /// A record could not be encoded (postcard refuses only what serde cannot express).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// The record.
        what: String,
        /// What postcard reported.
        source: postcard::Error,
    },
}

/// Counts for an operator's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Stored bundles.
    pub bundles: u64,
    /// Total encoded size of the stored bundles.
    pub bundle_bytes: u64,
    /// What sled reports as its size on disk (logs and snapshots included).
    pub size_on_disk: u64,
}

/// A node's durable state and its applications' mailboxes, in one sled database.
///
/// Cheap to clone (sled handles are shared), so the driver can hand a clone to
/// `spawn_blocking` for [`Self::flush`] while it keeps applying ops.
#[derive(Debug, Clone)]
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    node: sled::Tree,
    mailbox: sled::Tree,
    files: Arc<Files>,
    backlog: Arc<Backlog>,
}

/// Store ops and mailbox deliveries of one turn of the driver, applied together by
/// [`SledStore::commit`]: one sled batch per tree, however many ops.
///
/// Why: each sled `apply_batch` takes sled's write lock and reserves log space; at one batch per
/// op a relaying node spent most of its time there (about 250 µs per bundle on a loaded
/// 2-core machine). Staged ops are visible to [`SledStore::bundle_in`] before the commit, so
/// the driver can transmit or deliver a bundle put in the same turn.
#[derive(Debug, Default)]
pub struct WriteBatch {
    node: sled::Batch,
    mailbox: sled::Batch,
    /// Bundles put in this batch, for reads before the commit.
    puts: BTreeMap<BundleKey, Bytes>,
    /// Bundles deleted in this batch.
    deleted: BTreeSet<BundleKey>,
    /// File references dropped by this batch, released once it is applied.
    released: Vec<u64>,
    node_writes: usize,
    mailbox_writes: usize,
    bytes: usize,
}

impl WriteBatch {
    /// Whether nothing was staged.
    pub fn is_empty(&self) -> bool {
        self.node_writes == 0 && self.mailbox_writes == 0 && self.released.is_empty()
    }
}

/// Writes applied since the last flush, shared by every clone of a store.
#[derive(Debug, Default)]
struct Backlog {
    ops: AtomicUsize,
    bytes: AtomicUsize,
}

impl Backlog {
    fn clear(&self) {
        self.ops.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. A new store gets the current format version; an
    /// existing one must already have it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.to_path_buf();
        let open_err = |source: sled::Error| match source {
            // sled 0.34 reports a held lock only as this message; a variant of our own lets the
            // caller tell "in use" from "broken".
            sled::Error::Io(ref e) if e.to_string().contains("could not acquire lock") => {
                StoreError::Locked { path: path.clone() }
            }
            source => StoreError::Open {
                path: path.clone(),
                source,
            },
        };
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_CAPACITY)
            .open()
            .map_err(open_err)?;
        let node = db.open_tree(NODE_TREE).map_err(open_err)?;
        let mailbox = db.open_tree(MAILBOX_TREE).map_err(open_err)?;
        let files_dir = dir.join(FILES_DIR);
        let files = Files::open(files_dir.clone()).map_err(|source| StoreError::File {
            path: files_dir,
            doing: "creating the file directory".to_owned(),
            source,
        })?;
        let store = Self {
            path,
            db,
            node,
            mailbox,
            files: Arc::new(files),
            backlog: Arc::default(),
        };
        store.check_version()?;
        store.count_file_refs()?;
        Ok(store)
    }

    /// Rebuilds the files' reference counts from the records and deletes unreferenced files.
    fn count_file_refs(&self) -> Result<(), StoreError> {
        for (key, value) in self.scan(FILE_BUNDLE)? {
            let (Some(bundle), Ok(at)) = (key_of(&key), postcard::from_bytes::<FileRef>(&value))
            else {
                tracing::warn!(record = %describe_key(&key), "skipping an unreadable file record");
                continue;
            };
            self.files.set_bundle(bundle, at);
            self.files.add_ref(at.file);
        }
        self.count_mailbox_file_refs()?;
        let removed = self
            .files
            .remove_unreferenced()
            .map_err(|source| StoreError::File {
                path: self.files.dir().to_path_buf(),
                doing: "deleting unreferenced files".to_owned(),
                source,
            })?;
        if removed > 0 {
            tracing::info!(
                removed,
                "deleted files no record refers to (left by a crash)"
            );
        }
        Ok(())
    }

    /// [`Self::open`], retrying for up to `wait` while the store is [`StoreError::Locked`].
    ///
    /// Why: sled releases its lock on background threads shortly after the last handle is
    /// dropped, so a store closed and reopened in one process (a restart in a test, a driver
    /// restarting its node) can briefly find it still held.
    pub fn open_waiting(dir: &Path, wait: Duration) -> Result<Self, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            match Self::open(dir) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                result => return result,
            }
        }
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_version(&self) -> Result<(), StoreError> {
        let found = self
            .node
            .get(VERSION_KEY)
            .map_err(self.failed(|| "reading the format version".to_owned()))?;
        let bad = |problem: String| StoreError::BadVersionRecord {
            path: self.path.clone(),
            problem,
        };
        let Some(found) = found else {
            if self.node.is_empty() && self.mailbox.is_empty() {
                self.node
                    .insert(VERSION_KEY, &FORMAT_VERSION.to_be_bytes())
                    .map_err(self.failed(|| "writing the format version".to_owned()))?;
                self.flush()?;
                return Ok(());
            }
            return Err(bad("no format version record".to_owned()));
        };
        let Ok(bytes) = <[u8; 4]>::try_from(found.as_ref()) else {
            return Err(bad(format!(
                "a {}-byte format version record (expected 4)",
                found.len()
            )));
        };
        match u32::from_be_bytes(bytes) {
            FORMAT_VERSION => Ok(()),
            found => Err(StoreError::UnknownVersion {
                path: self.path.clone(),
                found,
            }),
        }
    }

    /// Applies one op, atomically: [`Self::stage`] and [`Self::commit`] of a batch of one.
    /// Not yet durable: see [`Self::flush`]. Ops must be applied in the order the node emitted
    /// them.
    ///
    /// Usually returns without touching the disk; after [`MAX_UNFLUSHED_OPS`] ops or
    /// [`MAX_UNFLUSHED_BYTES`] bytes since the last flush it flushes first (see there for why).
    pub fn apply(&self, op: &StoreOp) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        self.stage(&mut batch, op)?;
        self.commit(batch)
    }

    /// Adds `op` to `batch`. A bundle of at least [`FILE_MIN`] bytes is written to its file now
    /// (its record comes with the batch); nothing is durable before [`Self::flush`].
    pub fn stage(&self, batch: &mut WriteBatch, op: &StoreOp) -> Result<(), StoreError> {
        match op {
            StoreOp::PutBundle {
                key,
                bytes,
                index,
                meta,
            } => {
                // Putting a key again replaces the bundle whole, as in `StoreState`: its old
                // file (if any) loses its reference and the other kind of record goes.
                if let Some(old) = self.files.take_bundle(*key) {
                    batch.released.push(old.file);
                }
                if bytes.len() >= FILE_MIN {
                    batch.node.remove(&bundle_key(*key));
                    let file = self
                        .db
                        .generate_id()
                        .map_err(self.failed(|| format!("numbering the file of {key}")))?;
                    self.files
                        .create(file, bytes)
                        .map_err(|source| self.file_failed(file, "writing a bundle", source))?;
                    let at = FileRef {
                        file,
                        len: bytes.len() as u64,
                    };
                    self.files.set_bundle(*key, at);
                    batch.node.insert(
                        &file_key(*key),
                        encode(&at, || format!("file record of {key}"))?,
                    );
                } else {
                    batch.node.remove(&file_key(*key));
                    batch.node.insert(&bundle_key(*key), bytes.as_ref());
                }
                batch.node.insert(
                    &meta_key(*key),
                    encode(meta, || format!("metadata of {key}"))?,
                );
                batch.node.insert(
                    &index_key(*key),
                    encode(index, || format!("index of {key}"))?,
                );
                batch.puts.insert(*key, bytes.clone());
                batch.deleted.remove(key);
                batch.node_writes += 3;
                batch.bytes += bytes.len();
            }
            StoreOp::UpdateMeta { key, meta } => {
                // As in `StoreState`: metadata only for a bundle that is stored, so a meta record
                // never outlives its bundle.
                if self.has_bundle(batch, *key)? {
                    batch.node.insert(
                        &meta_key(*key),
                        encode(meta, || format!("metadata of {key}"))?,
                    );
                    batch.node_writes += 1;
                }
            }
            StoreOp::DeleteBundle { key } => {
                batch.node.remove(&bundle_key(*key));
                batch.node.remove(&file_key(*key));
                batch.node.remove(&meta_key(*key));
                batch.node.remove(&index_key(*key));
                if let Some(at) = self.files.take_bundle(*key) {
                    batch.released.push(at.file);
                }
                batch.puts.remove(key);
                batch.deleted.insert(*key);
                batch.node_writes += 4;
            }
            StoreOp::PutTombstone { id, until } => {
                batch.node.insert(
                    tombstone_key(id)?,
                    encode(until, || format!("tombstone {id:?}"))?,
                );
                batch.node_writes += 1;
            }
            StoreOp::DeleteTombstone { id } => {
                batch.node.remove(tombstone_key(id)?);
                batch.node_writes += 1;
            }
            StoreOp::PutRegistration { endpoint } => {
                batch.node.insert(registration_key(endpoint), &[]);
                batch.node_writes += 1;
            }
            StoreOp::DeleteRegistration { endpoint } => {
                batch.node.remove(registration_key(endpoint));
                batch.node_writes += 1;
            }
            StoreOp::PutRouterState { state } => {
                batch.node.insert(ROUTER_STATE_KEY, state.as_ref());
                batch.node_writes += 1;
            }
        }
        Ok(())
    }

    /// Whether bundle `key` is stored, counting what `batch` staged.
    fn has_bundle(&self, batch: &WriteBatch, key: BundleKey) -> Result<bool, StoreError> {
        if batch.puts.contains_key(&key) {
            return Ok(true);
        }
        if batch.deleted.contains(&key) {
            return Ok(false);
        }
        if self.files.file_of(key).is_some() {
            return Ok(true);
        }
        self.node
            .contains_key(bundle_key(key))
            .map_err(self.failed(|| format!("looking up {key}")))
    }

    /// Applies everything staged in `batch`: the mailbox deliveries first, then the node's ops
    /// (so that a crash can lose a bundle's deletion but never keep the deletion and lose the
    /// delivery that came before it: sled recovers a prefix of its log). Each tree's part is
    /// atomic. Not yet durable: see [`Self::flush`].
    pub fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if batch.mailbox_writes > 0 {
            self.mailbox
                .apply_batch(batch.mailbox)
                .map_err(self.failed(|| "writing deliveries".to_owned()))?;
        }
        if batch.node_writes > 0 {
            self.node
                .apply_batch(batch.node)
                .map_err(self.failed(|| format!("applying {} writes", batch.node_writes)))?;
        }
        for file in batch.released {
            self.files.release(file);
        }
        self.note_writes(batch.node_writes + batch.mailbox_writes, batch.bytes)
    }

    /// Makes everything applied so far durable (fsync); returns the bytes written. Blocking: the
    /// driver runs it off its event loop, once for a whole group of ops.
    ///
    /// Files come first: every file written so far (and the directory) is synced before sled's
    /// flush makes the records that refer to them durable; files whose last reference was
    /// removed before this flush are deleted after it (see [`files`]).
    pub fn flush(&self) -> Result<usize, StoreError> {
        self.backlog.clear();
        let doomed = self.files.sync().map_err(|source| StoreError::File {
            path: self.files.dir().to_path_buf(),
            doing: "syncing stored files".to_owned(),
            source,
        })?;
        match self.db.flush() {
            Ok(n) => {
                self.files.reap(doomed);
                Ok(n)
            }
            Err(e) => {
                self.files.unsync(doomed);
                Err(self.failed(|| "flushing to disk".to_owned())(e))
            }
        }
    }

    /// A stored bundle's bytes, as applied (durable or not), for transmitting or delivering it.
    pub fn bundle(&self, key: BundleKey) -> Result<Option<Bytes>, StoreError> {
        if let Some(at) = self.files.file_of(key) {
            return self
                .files
                .read(at.file, at.len)
                .map(Some)
                .map_err(|source| self.file_failed(at.file, "reading a bundle", source));
        }
        let found = self
            .node
            .get(bundle_key(key))
            .map_err(self.failed(|| format!("reading {key}")))?;
        Ok(found.map(|v| Bytes::copy_from_slice(&v)))
    }

    /// [`Self::bundle`], counting what `batch` staged and has not committed yet.
    pub fn bundle_in(
        &self,
        batch: &WriteBatch,
        key: BundleKey,
    ) -> Result<Option<Bytes>, StoreError> {
        if let Some(bytes) = batch.puts.get(&key) {
            return Ok(Some(bytes.clone()));
        }
        if batch.deleted.contains(&key) {
            return Ok(None);
        }
        self.bundle(key)
    }

    /// Everything `Node::new` needs after a restart: bundles in key order with their index and
    /// metadata (bytes only where [`BundleIndex::needs_bytes_on_restore`] asks), tombstones and
    /// registrations. Reads no bundle file and keeps no bundle value (see the module doc).
    /// Damaged records are handled as the module doc says.
    pub fn restored(&self) -> Result<Restored, StoreError> {
        let registrations = self.restored_registrations()?;
        let mut metas = self.records_by_bundle(META)?;
        let mut indices = self.records_by_bundle(INDEX)?;
        let mut present = BTreeSet::new();
        // Keys only: each value is dropped as soon as the walk passes it.
        for key in self.node.scan_prefix([BUNDLE]).keys() {
            let key = key.map_err(self.failed(|| "reading the 'B' records".to_owned()))?;
            match key_of(&key) {
                Some(bundle) => {
                    present.insert(bundle);
                }
                None => {
                    tracing::warn!(record = %describe_key(&key), "skipping a bundle record with a malformed key");
                }
            }
        }
        for (key, _) in self.scan(FILE_BUNDLE)? {
            let Some(bundle) = key_of(&key) else {
                continue;
            };
            let Some(at) = self.files.file_of(bundle) else {
                continue;
            };
            match self.files.check(at.file, at.len) {
                Ok(()) => {
                    present.insert(bundle);
                }
                Err(source) => {
                    // Its record became durable before its file was synced: a bundle that was
                    // never acknowledged (see `files`).
                    let error = self.file_failed(at.file, "checking a bundle's file", source);
                    tracing::warn!(%bundle, %error, "dropping a bundle whose file is incomplete");
                    self.drop_bundle(bundle)?;
                }
            }
        }
        let mut bundles = Vec::new();
        for bundle in present {
            let meta = match metas.remove(&bundle) {
                None => {
                    tracing::warn!(%bundle, "bundle has no metadata record; restoring it with default metadata");
                    BundleMeta::default()
                }
                Some(raw) => postcard::from_bytes(&raw).unwrap_or_else(|error| {
                    tracing::warn!(%bundle, %error, "bundle's metadata record is unreadable; restoring it with default metadata");
                    BundleMeta::default()
                }),
            };
            let read = indices
                .remove(&bundle)
                .map(|raw| postcard::from_bytes::<BundleIndex>(&raw));
            let index = match read {
                Some(Ok(index)) => index,
                damaged => {
                    let problem = if damaged.is_some() {
                        "unreadable"
                    } else {
                        "missing"
                    };
                    tracing::warn!(%bundle, problem, "bundle's index record is damaged; rebuilding it from the bundle");
                    match self.rebuilt_index(bundle)? {
                        Some(index) => index,
                        None => {
                            self.drop_bundle(bundle)?;
                            continue;
                        }
                    }
                }
            };
            let bytes = if index.needs_bytes_on_restore(&registrations) {
                self.bundle(bundle).unwrap_or_else(|error| {
                    tracing::warn!(%bundle, %error, "cannot read a local fragment; restoring it without its bytes");
                    None
                })
            } else {
                None
            };
            bundles.push(StoredBundle {
                key: bundle,
                index,
                meta,
                bytes,
            });
        }
        for bundle in metas.keys() {
            tracing::warn!(%bundle, "dropping a metadata record whose bundle is gone");
        }
        for bundle in indices.keys() {
            tracing::warn!(%bundle, "dropping an index record whose bundle is gone");
        }
        let router_state = self
            .node
            .get(ROUTER_STATE_KEY)
            .map_err(self.failed(|| "reading the router state".to_owned()))?
            .map(|v| Bytes::copy_from_slice(&v));
        Ok(Restored {
            bundles,
            tombstones: self.restored_tombstones()?,
            registrations,
            router_state,
        })
    }

    /// The records under `prefix` (`M` or `I`), by bundle key; malformed keys are skipped.
    fn records_by_bundle(&self, prefix: u8) -> Result<BTreeMap<BundleKey, sled::IVec>, StoreError> {
        let mut records = BTreeMap::new();
        for (key, value) in self.scan(prefix)? {
            let Some(bundle) = key_of(&key) else {
                tracing::warn!(record = %describe_key(&key), "skipping a record with a malformed key");
                continue;
            };
            records.insert(bundle, value);
        }
        Ok(records)
    }

    /// The index of a stored bundle whose index record is damaged, from its bytes (read for
    /// this bundle alone); `None` if it cannot be read or no longer decodes.
    fn rebuilt_index(&self, bundle: BundleKey) -> Result<Option<BundleIndex>, StoreError> {
        let bytes = match self.bundle(bundle) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::warn!(%bundle, %error, "dropping a bundle that cannot be read");
                return Ok(None);
            }
        };
        let size = bytes.len() as u64;
        match Bundle::decode(bytes) {
            Ok(decoded) => Ok(Some(BundleIndex::of(&decoded, size))),
            Err(error) => {
                tracing::warn!(%bundle, %error, "dropping a stored bundle that does not decode");
                Ok(None)
            }
        }
    }

    /// Removes a bundle's records and its file reference (recovery only).
    fn drop_bundle(&self, bundle: BundleKey) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        self.stage(&mut batch, &StoreOp::DeleteBundle { key: bundle })?;
        self.commit(batch)?;
        self.flush().map(|_| ())
    }

    fn restored_tombstones(&self) -> Result<Vec<(BundleId, DtnTime)>, StoreError> {
        let mut tombstones = Vec::new();
        for (key, value) in self.scan(TOMBSTONE)? {
            let decoded = postcard::from_bytes::<BundleId>(&key[1..])
                .and_then(|id| Ok((id, postcard::from_bytes::<DtnTime>(&value)?)));
            match decoded {
                Ok(tombstone) => tombstones.push(tombstone),
                Err(error) => {
                    tracing::warn!(record = %describe_key(&key), %error, "skipping an unreadable tombstone");
                }
            }
        }
        Ok(tombstones)
    }

    fn restored_registrations(&self) -> Result<Vec<Eid>, StoreError> {
        let mut registrations = Vec::new();
        for (key, _) in self.scan(REGISTRATION)? {
            let parsed = std::str::from_utf8(&key[1..])
                .map_err(|e| e.to_string())
                .and_then(|text| text.parse::<Eid>().map_err(|e| e.to_string()));
            match parsed {
                Ok(endpoint) => registrations.push(endpoint),
                Err(error) => {
                    tracing::warn!(record = %describe_key(&key), %error, "skipping an unreadable registration");
                }
            }
        }
        Ok(registrations)
    }

    /// How much is stored. Walks every bundle record: for `status`, not for a hot path.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let (mut bundles, mut bundle_bytes) = (0u64, 0u64);
        for (_, bytes) in self.scan(BUNDLE)? {
            bundles += 1;
            bundle_bytes += bytes.len() as u64;
        }
        for (_, value) in self.scan(FILE_BUNDLE)? {
            if let Ok(at) = postcard::from_bytes::<FileRef>(&value) {
                bundles += 1;
                bundle_bytes += at.len;
            }
        }
        let size_on_disk = self
            .db
            .size_on_disk()
            .map_err(self.failed(|| "measuring the size on disk".to_owned()))?;
        Ok(StoreStats {
            bundles,
            bundle_bytes,
            size_on_disk,
        })
    }

    /// Every record of the node tree under `prefix`, in key order.
    fn scan(&self, prefix: u8) -> Result<Vec<(sled::IVec, sled::IVec)>, StoreError> {
        self.node
            .scan_prefix([prefix])
            .collect::<Result<_, _>>()
            .map_err(self.failed(|| format!("reading the '{}' records", char::from(prefix))))
    }

    /// Counts a write; flushes once the backlog reaches either bound.
    fn note_write(&self, bytes: usize) -> Result<(), StoreError> {
        self.note_writes(1, bytes)
    }

    /// Counts `writes` record writes; flushes once the backlog reaches either bound.
    fn note_writes(&self, writes: usize, bytes: usize) -> Result<(), StoreError> {
        let ops = self.backlog.ops.fetch_add(writes, Ordering::Relaxed) + writes;
        let total = self.backlog.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if ops >= MAX_UNFLUSHED_OPS || total >= MAX_UNFLUSHED_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// A file error, naming the file.
    fn file_failed(&self, file: u64, doing: &str, source: std::io::Error) -> StoreError {
        StoreError::File {
            path: self.files.path(file),
            doing: doing.to_owned(),
            source,
        }
    }

    /// Wraps a sled error with the store's path and what it was doing (built only on failure).
    fn failed<'a>(
        &'a self,
        doing: impl FnOnce() -> String + 'a,
    ) -> impl FnOnce(sled::Error) -> StoreError + 'a {
        move |source| StoreError::Io {
            path: self.path.clone(),
            doing: doing(),
            source,
        }
    }
}

fn bundle_key(key: BundleKey) -> [u8; 9] {
    prefixed_u64(BUNDLE, key.0)
}

fn file_key(key: BundleKey) -> [u8; 9] {
    prefixed_u64(FILE_BUNDLE, key.0)
}

fn meta_key(key: BundleKey) -> [u8; 9] {
    prefixed_u64(META, key.0)
}

fn index_key(key: BundleKey) -> [u8; 9] {
    prefixed_u64(INDEX, key.0)
}

fn prefixed_u64(prefix: u8, n: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&n.to_be_bytes());
    key
}

/// The bundle key of a `B` or `M` record, if its key has the right length.
fn key_of(record_key: &[u8]) -> Option<BundleKey> {
    let n = <[u8; 8]>::try_from(record_key.get(1..)?).ok()?;
    Some(BundleKey(u64::from_be_bytes(n)))
}

fn tombstone_key(id: &BundleId) -> Result<Vec<u8>, StoreError> {
    let mut key = vec![TOMBSTONE];
    key.extend_from_slice(&encode(id, || format!("tombstone key {id:?}"))?);
    Ok(key)
}

fn registration_key(endpoint: &Eid) -> Vec<u8> {
    let mut key = vec![REGISTRATION];
    key.extend_from_slice(endpoint.to_string().as_bytes());
    key
}

fn encode<T: Serialize>(value: &T, what: impl FnOnce() -> String) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|source| StoreError::Encode {
        what: what(),
        source,
    })
}

/// A node-tree key in words, for logs: `B/b12`, `R/ipn:1.2`, or the prefix and hex bytes.
fn describe_key(key: &[u8]) -> String {
    let Some((&prefix, rest)) = key.split_first() else {
        return "(empty key)".to_owned();
    };
    let prefix = char::from(prefix);
    match (prefix, key_of(key)) {
        ('B' | 'F' | 'M' | 'I', Some(bundle)) => format!("{prefix}/{bundle}"),
        ('R', _) => format!("R/{}", String::from_utf8_lossy(rest)),
        _ => format!("{prefix}/{}", hex::encode(rest)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests;
