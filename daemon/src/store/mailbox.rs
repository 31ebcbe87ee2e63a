//! Mailboxes: deliveries kept for a local application until it takes them.
//!
//! When the node delivers a bundle to a registration, the driver copies what the application
//! needs into a [`MailboxRecord`] here, so the bundle itself can be deleted at once while the
//! application may be offline for days. Records of one endpoint come back in delivery order;
//! the application removes each one after handling it (at-least-once delivery). Writes become
//! durable with the store's ordinary `flush`.
//!
//! A record keeps a small payload inline. The payload of a bundle stored as a file (see
//! [`super::files`]) stays in that file: the record names the file and the payload's byte range,
//! and holds one of the file's references until it is removed.

use bytes::Bytes;
use proto::wire::{CreationTimestamp, Eid};
use serde::{Deserialize, Serialize};

use super::files::FileRef;
use super::{SledStore, StoreError, WriteBatch, encode};

/// One delivered bundle as an application sees it: who sent it, to whom, and its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRecord {
    /// The bundle's source EID.
    pub source: Eid,
    /// The bundle's destination EID (the registration, or a group it belongs to).
    pub destination: Eid,
    /// The bundle's creation timestamp: with `source`, it names the bundle.
    pub creation: CreationTimestamp,
    /// The payload block's data.
    #[serde(with = "payload_bytes")]
    pub payload: Bytes,
    /// Whether the payload is an administrative record (RFC 9171 §6.1), such as a status report.
    pub admin_record: bool,
}

/// A mailbox record as stored (format version 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
enum StoredRecord {
    /// Everything in the record.
    Inline(MailboxRecord),
    /// The payload is bytes `offset..offset + len` of stored file `file`.
    File {
        source: Eid,
        destination: Eid,
        creation: CreationTimestamp,
        admin_record: bool,
        file: u64,
        offset: u64,
        len: u64,
    },
}

impl StoredRecord {
    fn file(&self) -> Option<u64> {
        match self {
            Self::Inline(_) => None,
            Self::File { file, .. } => Some(*file),
        }
    }
}

impl SledStore {
    /// Appends `record` to `endpoint`'s mailbox; returns its sequence number, which increases
    /// with each delivery (across restarts too: sled's id generator never hands one out twice).
    pub fn deliver(&self, endpoint: &Eid, record: &MailboxRecord) -> Result<u64, StoreError> {
        let seq = self
            .db
            .generate_id()
            .map_err(self.failed(|| format!("numbering a delivery to {endpoint}")))?;
        let value = encode(&StoredRecord::Inline(record.clone()), || {
            format!("a delivery to {endpoint}")
        })?;
        self.mailbox
            .insert(record_key(endpoint, seq), value)
            .map_err(self.failed(|| format!("writing delivery {seq} to {endpoint}")))?;
        self.note_write(record.payload.len())?;
        Ok(seq)
    }

    /// Adds `record` to `endpoint`'s mailbox in `batch` (applied with [`SledStore::commit`]);
    /// returns its sequence number. `bundle` is the stored bundle `key` that `record` was made
    /// from: when that bundle is a file and the record's payload is a slice of `bundle`, the
    /// record refers to the file's bytes instead of copying them.
    pub fn stage_delivery(
        &self,
        batch: &mut WriteBatch,
        endpoint: &Eid,
        key: proto::node::BundleKey,
        bundle: &Bytes,
        record: &MailboxRecord,
    ) -> Result<u64, StoreError> {
        let seq = self
            .db
            .generate_id()
            .map_err(self.failed(|| format!("numbering a delivery to {endpoint}")))?;
        let base = bundle.as_ptr() as usize;
        let start = record.payload.as_ptr() as usize;
        let within = start >= base && start + record.payload.len() <= base + bundle.len();
        let stored = match self.files.file_of(key) {
            Some(FileRef { file, len }) if within && len == bundle.len() as u64 => {
                self.files.add_ref(file);
                StoredRecord::File {
                    source: record.source.clone(),
                    destination: record.destination.clone(),
                    creation: record.creation,
                    admin_record: record.admin_record,
                    file,
                    offset: (start - base) as u64,
                    len: record.payload.len() as u64,
                }
            }
            _ => StoredRecord::Inline(record.clone()),
        };
        let value = encode(&stored, || format!("a delivery to {endpoint}"))?;
        batch.mailbox.insert(record_key(endpoint, seq), value);
        batch.mailbox_writes += 1;
        Ok(seq)
    }

    /// Up to `max` of `endpoint`'s records in delivery order, starting after sequence number
    /// `after` (from the beginning when `None`). A record that cannot be decoded is skipped with
    /// a warning naming it, so one damaged record does not block the rest of the mailbox.
    pub fn mailbox_peek(
        &self,
        endpoint: &Eid,
        after: Option<u64>,
        max: usize,
    ) -> Result<Vec<(u64, MailboxRecord)>, StoreError> {
        let start = match after {
            None => record_key(endpoint, 0),
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(seq) => record_key(endpoint, seq + 1),
        };
        let end = record_key(endpoint, u64::MAX);
        let mut records = Vec::new();
        for entry in self.mailbox.range(start..=end) {
            if records.len() >= max {
                break;
            }
            let (key, value) =
                entry.map_err(self.failed(|| format!("reading the mailbox of {endpoint}")))?;
            let seq = seq_of(&key);
            let record = postcard::from_bytes::<StoredRecord>(&value)
                .map_err(|e| e.to_string())
                .and_then(|stored| self.resolve(stored).map_err(|e| e.to_string()));
            match record {
                Ok(record) => records.push((seq, record)),
                Err(error) => {
                    tracing::warn!(%endpoint, seq, %error, "skipping an unreadable mailbox record");
                }
            }
        }
        Ok(records)
    }

    /// Removes record `seq` from `endpoint`'s mailbox; returns whether it was there.
    pub fn mailbox_remove(&self, endpoint: &Eid, seq: u64) -> Result<bool, StoreError> {
        let removed = self
            .mailbox
            .remove(record_key(endpoint, seq))
            .map_err(self.failed(|| format!("removing delivery {seq} from {endpoint}")))?;
        let file = removed
            .as_ref()
            .and_then(|v| postcard::from_bytes::<StoredRecord>(v).ok())
            .and_then(|stored| stored.file());
        if let Some(file) = file {
            self.files.release(file);
        }
        self.note_write(0)?;
        Ok(removed.is_some())
    }

    /// The record an application sees: a file-backed payload read from its file.
    fn resolve(&self, stored: StoredRecord) -> Result<MailboxRecord, StoreError> {
        match stored {
            StoredRecord::Inline(record) => Ok(record),
            StoredRecord::File {
                source,
                destination,
                creation,
                admin_record,
                file,
                offset,
                len,
            } => {
                let payload = self.files.read_range(file, offset, len).map_err(|source| {
                    self.file_failed(file, "reading a delivered payload", source)
                })?;
                Ok(MailboxRecord {
                    source,
                    destination,
                    creation,
                    payload,
                    admin_record,
                })
            }
        }
    }

    /// Counts the file references of every mailbox record (on open).
    pub(super) fn count_mailbox_file_refs(&self) -> Result<(), StoreError> {
        for entry in self.mailbox.iter() {
            let (_, value) = entry.map_err(self.failed(|| "reading the mailboxes".to_owned()))?;
            if let Some(file) = postcard::from_bytes::<StoredRecord>(&value)
                .ok()
                .and_then(|s| s.file())
            {
                self.files.add_ref(file);
            }
        }
        Ok(())
    }

    /// How many records wait in `endpoint`'s mailbox (walks them all).
    pub fn mailbox_len(&self, endpoint: &Eid) -> Result<usize, StoreError> {
        let mut count = 0;
        for entry in self.mailbox.scan_prefix(endpoint_prefix(endpoint)) {
            entry.map_err(self.failed(|| format!("counting the mailbox of {endpoint}")))?;
            count += 1;
        }
        Ok(count)
    }
}

/// Endpoint text and a 0x00 separator: EID text never holds 0x00, so `ipn:1.1` and `ipn:1.10`
/// get disjoint key ranges.
fn endpoint_prefix(endpoint: &Eid) -> Vec<u8> {
    let mut key = endpoint.to_string().into_bytes();
    key.push(0);
    key
}

fn record_key(endpoint: &Eid, seq: u64) -> Vec<u8> {
    let mut key = endpoint_prefix(endpoint);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number at the end of a record key (0 if the key is too short, which
/// `record_key` never writes).
fn seq_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|at| <[u8; 8]>::try_from(&key[at..]).ok())
        .map_or(0, u64::from_be_bytes)
}

/// Serde for `Bytes` as one byte string (postcard: a length and the bytes), since the `bytes`
/// crate's own serde support is not enabled in this workspace.
mod payload_bytes {
    use std::fmt;

    use bytes::Bytes;
    use serde::de::{SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_byte_buf(BytesVisitor)
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Bytes;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
            Ok(Bytes::copy_from_slice(v))
        }

        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
            Ok(Bytes::from(v))
        }

        // Self-describing formats (JSON) may write bytes as a list of numbers.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64 * 1024));
            while let Some(b) = seq.next_element::<u8>()? {
                v.push(b);
            }
            Ok(Bytes::from(v))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use std::time::Duration;

    use tempfile::TempDir;

    use super::*;
    use proto::wire::DtnTime;

    fn eid(text: &str) -> Eid {
        text.parse().unwrap()
    }

    fn record(n: u8) -> MailboxRecord {
        MailboxRecord {
            source: eid("ipn:9.1"),
            destination: eid("ipn:1.1"),
            creation: CreationTimestamp {
                time: DtnTime(1_000 + u64::from(n)),
                sequence: u64::from(n),
            },
            payload: Bytes::from(vec![n; 3]),
            admin_record: n % 2 == 1,
        }
    }

    #[test]
    fn mailbox_order_and_removal_survive_reopen() {
        let dir = TempDir::new().unwrap();
        let app = eid("ipn:1.1");
        let seqs: Vec<u64> = {
            let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
            let seqs = (0..4)
                .map(|n| store.deliver(&app, &record(n)).unwrap())
                .collect::<Vec<_>>();
            assert!(store.mailbox_remove(&app, seqs[1]).unwrap());
            store.flush().unwrap();
            seqs
        };
        let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
        let got = store.mailbox_peek(&app, None, 10).unwrap();
        let expected = vec![
            (seqs[0], record(0)),
            (seqs[2], record(2)),
            (seqs[3], record(3)),
        ];
        assert_eq!(got, expected);
        assert_eq!(store.mailbox_len(&app).unwrap(), 3);
    }

    #[test]
    fn sequence_numbers_keep_increasing_after_reopen() {
        let dir = TempDir::new().unwrap();
        let app = eid("ipn:1.1");
        let first = {
            let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
            let seq = store.deliver(&app, &record(0)).unwrap();
            store.flush().unwrap();
            seq
        };
        let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
        let second = store.deliver(&app, &record(1)).unwrap();
        assert!(second > first, "{second} after {first}");
        let order: Vec<u64> = store
            .mailbox_peek(&app, None, 10)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(order, vec![first, second]);
    }

    #[test]
    fn peek_pages_with_after_and_max() {
        let dir = TempDir::new().unwrap();
        let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
        let app = eid("dtn://node/app");
        let seqs: Vec<u64> = (0..5)
            .map(|n| store.deliver(&app, &record(n)).unwrap())
            .collect();
        let page: Vec<u64> = store
            .mailbox_peek(&app, Some(seqs[1]), 2)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(page, vec![seqs[2], seqs[3]]);
        assert!(
            store
                .mailbox_peek(&app, Some(u64::MAX), 2)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn mailboxes_of_endpoints_sharing_a_text_prefix_stay_apart() {
        let dir = TempDir::new().unwrap();
        let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
        let (short, long) = (eid("ipn:1.1"), eid("ipn:1.10"));
        store.deliver(&short, &record(1)).unwrap();
        store.deliver(&long, &record(2)).unwrap();
        store.deliver(&long, &record(3)).unwrap();
        assert_eq!(store.mailbox_len(&short).unwrap(), 1);
        assert_eq!(store.mailbox_len(&long).unwrap(), 2);
        let shorts = store.mailbox_peek(&short, None, 10).unwrap();
        assert_eq!(shorts.len(), 1);
        assert_eq!(shorts[0].1, record(1));
    }

    #[test]
    fn removing_a_missing_record_reports_false() {
        let dir = TempDir::new().unwrap();
        let store = SledStore::open_waiting(dir.path(), Duration::from_secs(5)).unwrap();
        assert!(!store.mailbox_remove(&eid("ipn:1.1"), 42).unwrap());
    }
}
