//! Large bundles as files beside sled, so that a node relaying big bundles holds only the ones
//! it is working on in memory.
//!
//! Why: sled 0.34 keeps every value of a tree node in its in-memory page cache, so a node that
//! stored or delivered 100 MiB of 1 MiB bundles held about that much heap (measured with
//! heaptrack: the `PutBundle` and mailbox inserts were the whole peak). Bundles of at least
//! [`FILE_MIN`] bytes are therefore written to a file of their own, and sled keeps only a small
//! reference ([`FileRef`]). A delivered payload stays in the bundle's file: the mailbox record
//! refers to a byte range of it, so delivering never copies a payload.
//!
//! # Names and references
//!
//! Files are named by a number from sled's id generator, never by bundle key or mailbox
//! sequence: those can repeat after a restart, and a new bundle must never overwrite a file an
//! old mailbox record still reads. One file can be referenced by its bundle record and by
//! mailbox records (a bundle delivered to several endpoints, or delivered and still forwarded);
//! [`Files`] counts references in memory (rebuilt on open) and removes a file only when the
//! last one is gone.
//!
//! # Crash safety
//!
//! - A new file is written before the sled record that refers to it is applied, and a flush
//!   syncs every file written (and the directory) *before* sled's own flush. So every record
//!   that was durable when `Input::Stored` was reported points at a whole file. A record that
//!   sled made durable on its own before its file was synced belongs to a bundle never
//!   acknowledged; recovery checks each file's length and drops such a bundle.
//! - A file whose last reference is removed is deleted only after the flush that made the
//!   removal durable ([`Files::take_doomed`] before sled's flush, [`Files::reap`] after). A
//!   crash in between leaves an unreferenced file, which the next open deletes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use proto::node::BundleKey;
use serde::{Deserialize, Serialize};

/// Bundles of at least this many bytes are stored as files (see the module doc). Below it a
/// bundle costs less in sled than a file create, write, sync and unlink.
pub const FILE_MIN: usize = 64 * 1024;

/// Where a file-backed bundle's bytes are: the value of its `F` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FileRef {
    /// The file's number (its name is this in hex).
    pub(super) file: u64,
    /// The bundle's length, to recognise a file that was not completely written.
    pub(super) len: u64,
}

/// The file directory of one store, with the reference counts and the pending syncs and
/// deletions. Shared by every clone of the store.
#[derive(Debug)]
pub(super) struct Files {
    dir: PathBuf,
    /// The file of each file-backed bundle (mirrors the `F` records).
    bundles: Mutex<BTreeMap<BundleKey, FileRef>>,
    /// References to each file: its bundle record and mailbox records.
    refs: Mutex<BTreeMap<u64, u32>>,
    /// Files written since the last flush started, to sync before sled's flush.
    unsynced: Mutex<Vec<File>>,
    /// Files created (or removed) since the directory was last synced.
    dir_dirty: AtomicBool,
    /// Files without references, to delete once their removal is durable.
    doomed: Mutex<Vec<u64>>,
    /// Files read so far, so tests can tell that recovery reads none.
    reads: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data, still consistent enough to
    // keep (worst case: a file deleted late).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Files {
    /// Opens (creates) the directory.
    pub(super) fn open(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            bundles: Mutex::default(),
            refs: Mutex::default(),
            unsynced: Mutex::default(),
            dir_dirty: AtomicBool::new(false),
            doomed: Mutex::default(),
            reads: AtomicUsize::new(0),
        })
    }

    /// The directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn path(&self, file: u64) -> PathBuf {
        self.dir.join(format!("{file:016x}"))
    }

    /// The file of bundle `key`, if it is file-backed.
    pub(super) fn file_of(&self, key: BundleKey) -> Option<FileRef> {
        lock(&self.bundles).get(&key).copied()
    }

    /// Notes that bundle `key` is in file `at` (after [`Self::create`], or on open).
    pub(super) fn set_bundle(&self, key: BundleKey, at: FileRef) {
        lock(&self.bundles).insert(key, at);
    }

    /// Forgets bundle `key`'s file (the caller releases the bundle's reference).
    pub(super) fn take_bundle(&self, key: BundleKey) -> Option<FileRef> {
        lock(&self.bundles).remove(&key)
    }

    /// Writes a new file with one reference (not yet durable: see [`Self::sync`]).
    pub(super) fn create(&self, file: u64, bytes: &[u8]) -> std::io::Result<()> {
        let mut f = File::create(self.path(file))?;
        f.write_all(bytes)?;
        self.dir_dirty.store(true, Ordering::Relaxed);
        lock(&self.unsynced).push(f);
        lock(&self.refs).insert(file, 1);
        Ok(())
    }

    /// Counts one more reference to `file` (a delivery of its bundle, or one found on open).
    pub(super) fn add_ref(&self, file: u64) {
        *lock(&self.refs).entry(file).or_insert(0) += 1;
    }

    /// Drops one reference; the last one dooms the file (deleted after the next flush).
    pub(super) fn release(&self, file: u64) {
        let mut refs = lock(&self.refs);
        let gone = match refs.get_mut(&file) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                refs.remove(&file);
                true
            }
            None => false,
        };
        drop(refs);
        if gone {
            lock(&self.doomed).push(file);
        }
    }

    /// Whether `file` holds at least `len` bytes (an error if shorter), without reading it:
    /// recovery checks every bundle file this way (see `store`'s "Restoring without payloads").
    pub(super) fn check(&self, file: u64, len: u64) -> std::io::Result<()> {
        let size = std::fs::metadata(self.path(file))?.len();
        if size < len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "file {} has {size} bytes, {len} expected",
                    self.path(file).display()
                ),
            ));
        }
        Ok(())
    }

    /// The whole file.
    pub(super) fn read(&self, file: u64, len: u64) -> std::io::Result<Bytes> {
        self.read_range(file, 0, len)
    }

    /// `len` bytes at `offset`; an error if the file is shorter.
    pub(super) fn read_range(&self, file: u64, offset: u64, len: u64) -> std::io::Result<Bytes> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut f = File::open(self.path(file))?;
        let size = f.metadata()?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "file {} has {size} bytes, {len} expected at offset {offset}",
                    self.path(file).display()
                ),
            ));
        }
        f.seek(SeekFrom::Start(offset))?;
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        let mut buf = vec![0; len];
        f.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// First half of a flush: takes the doomed files (their removal is applied; the caller's
    /// sled flush makes it durable) and syncs every file written so far and the directory.
    pub(super) fn sync(&self) -> std::io::Result<Vec<u64>> {
        let doomed = std::mem::take(&mut *lock(&self.doomed));
        let unsynced = std::mem::take(&mut *lock(&self.unsynced));
        let synced = unsynced
            .iter()
            .try_for_each(File::sync_data)
            .and_then(|()| {
                if self.dir_dirty.swap(false, Ordering::Relaxed) {
                    File::open(&self.dir)?.sync_all()?;
                }
                Ok(())
            });
        if let Err(e) = synced {
            // Nothing may be reported durable before these files are: keep them for the retry.
            lock(&self.unsynced).extend(unsynced);
            self.unsync(doomed);
            return Err(e);
        }
        Ok(doomed)
    }

    /// Puts back what [`Self::sync`] took when the flush failed.
    pub(super) fn unsync(&self, doomed: Vec<u64>) {
        self.dir_dirty.store(true, Ordering::Relaxed);
        lock(&self.doomed).extend(doomed);
    }

    /// Second half of a flush: deletes the doomed files, whose removal is now durable.
    pub(super) fn reap(&self, doomed: Vec<u64>) {
        for file in doomed {
            let path = self.path(file);
            if let Err(error) = std::fs::remove_file(&path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "cannot delete a stored file; it is deleted on the next start");
            }
        }
    }

    /// Deletes every file in the directory that has no reference: left by a crash between a
    /// durable removal and the deletion, or written for a bundle whose record never became
    /// durable. Call after counting the references of the records found on open.
    pub(super) fn remove_unreferenced(&self) -> std::io::Result<usize> {
        let refs = lock(&self.refs);
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let known = name
                .to_str()
                .and_then(|n| u64::from_str_radix(n, 16).ok())
                .is_some_and(|file| refs.contains_key(&file));
            if !known {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Files read since the store was opened, for tests.
    #[cfg(test)]
    pub(super) fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// References counted, for tests.
    #[cfg(test)]
    pub(super) fn refs(&self, file: u64) -> u32 {
        lock(&self.refs).get(&file).copied().unwrap_or(0)
    }
}
