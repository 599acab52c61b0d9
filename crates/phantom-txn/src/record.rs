//! Commit records: what the write-ahead log holds for one transaction.
//!
//! A committed transaction is normally one WAL record holding its commit timestamp and its
//! whole write set, so recovery either replays all of a transaction or none of it (the
//! WAL's checksum covers the record).
//!
//! A write set too large to encode at once (one that spilled to disk, see
//! [`crate::write_set`]) is logged as several records with the same timestamp: *parts*
//! (type 2), then a final commit record (type 1). The commit exists only once its final
//! record is in the log; recovery replays parts as they come and, at the end, removes the
//! versions of any timestamp whose final record never arrived (see [`crate::store`]).
//!
//! Layout (integers are LEB128 varints unless noted):
//!
//! ```text
//!   u8    record type (1 = commit, or the last record of one; 2 = part of a commit)
//!   u64   commit timestamp (little-endian)
//!   n     number of writes
//!   then per write:
//!     u8  op: 0 = put, 1 = delete, 2 = create keyspace
//!     put:     keyspace, key length, key, value length, value
//!     delete:  keyspace, key length, key
//!     create:  keyspace, engine kind (u8)
//! ```

use phantom_storage::StorageError;

use crate::keyspace::{EngineKind, KeyspaceId};
use crate::{Result, Timestamp};

const COMMIT: u8 = 1;
const COMMIT_PART: u8 = 2;
const OP_PUT: u8 = 0;
const OP_DELETE: u8 = 1;
const OP_CREATE_KEYSPACE: u8 = 2;

/// One write of a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// A keyspace (table or index) came into existence.
    CreateKeyspace {
        /// Its id.
        keyspace: KeyspaceId,
        /// Its engine.
        kind: EngineKind,
    },
    /// `key` was set to `value`.
    Put {
        /// The keyspace.
        keyspace: KeyspaceId,
        /// The user key (without version suffix).
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// `key` was deleted.
    Delete {
        /// The keyspace.
        keyspace: KeyspaceId,
        /// The user key.
        key: Vec<u8>,
    },
}

impl Write {
    /// The keyspace written (or created).
    pub fn keyspace(&self) -> KeyspaceId {
        match self {
            Write::CreateKeyspace { keyspace, .. }
            | Write::Put { keyspace, .. }
            | Write::Delete { keyspace, .. } => *keyspace,
        }
    }
}

/// A transaction's commit: its timestamp and write set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitRecord {
    /// The commit timestamp.
    pub ts: Timestamp,
    /// The writes, in the order they are applied.
    pub writes: Vec<Write>,
    /// False for a part of a commit whose final record follows later in the log.
    pub complete: bool,
}

impl CommitRecord {
    /// Serializes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.writes.len() * 32);
        out.push(if self.complete { COMMIT } else { COMMIT_PART });
        out.extend_from_slice(&self.ts.to_le_bytes());
        put_varint(&mut out, self.writes.len() as u64);
        for write in &self.writes {
            match write {
                Write::Put { keyspace, key, value } => {
                    out.push(OP_PUT);
                    put_varint(&mut out, u64::from(*keyspace));
                    put_bytes(&mut out, key);
                    put_bytes(&mut out, value);
                }
                Write::Delete { keyspace, key } => {
                    out.push(OP_DELETE);
                    put_varint(&mut out, u64::from(*keyspace));
                    put_bytes(&mut out, key);
                }
                Write::CreateKeyspace { keyspace, kind } => {
                    out.push(OP_CREATE_KEYSPACE);
                    put_varint(&mut out, u64::from(*keyspace));
                    out.push(kind.tag());
                }
            }
        }
        out
    }

    /// Parses a record; malformed input is a corruption error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<CommitRecord> {
        let mut r = Reader { bytes, pos: 0 };
        let complete = match r.u8()? {
            COMMIT => true,
            COMMIT_PART => false,
            _ => return Err(r.corrupt("unknown record type")),
        };
        let ts = u64::from_le_bytes(r.array()?);
        let count = r.varint()?;
        // Every write takes at least 3 bytes, which bounds a hostile count.
        if count > (bytes.len() as u64) / 3 + 1 {
            return Err(r.corrupt("write count exceeds record size"));
        }
        let mut writes = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let write = match r.u8()? {
                OP_PUT => {
                    let keyspace = r.keyspace()?;
                    let key = with_room(r.bytes()?, 0, crate::version::KEY_SUFFIX);
                    let value = with_room(r.bytes()?, crate::version::VALUE_PREFIX, 0);
                    Write::Put { keyspace, key, value }
                }
                OP_DELETE => {
                    let keyspace = r.keyspace()?;
                    Write::Delete { keyspace, key: with_room(r.bytes()?, 0, crate::version::KEY_SUFFIX) }
                }
                OP_CREATE_KEYSPACE => {
                    let keyspace = r.keyspace()?;
                    let kind =
                        EngineKind::from_tag(r.u8()?).ok_or_else(|| r.corrupt("unknown engine kind"))?;
                    Write::CreateKeyspace { keyspace, kind }
                }
                _ => return Err(r.corrupt("unknown write op")),
            };
            writes.push(write);
        }
        if r.pos != bytes.len() {
            return Err(r.corrupt("trailing bytes after the last write"));
        }
        Ok(CommitRecord { ts, writes, complete })
    }
}

/// Copies `bytes` into a vector with spare capacity for what recovery will add around
/// them (the version suffix of a key, the tag before a value), so that costs no
/// reallocation.
fn with_room(bytes: &[u8], before: usize, after: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(before + bytes.len() + after);
    v.extend_from_slice(bytes);
    v
}

fn put_varint(out: &mut Vec<u8>, v: u64) {
    phantom_storage::varint::put(out, v);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, reason: &str) -> crate::TxnError {
        StorageError::Corrupt {
            path: "<commit record>".into(),
            offset: self.pos as u64,
            reason: reason.to_string(),
        }
        .into()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(self.corrupt("record ends early")),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64> {
        phantom_storage::varint::get(self.bytes, &mut self.pos)
            .ok_or_else(|| self.corrupt("bad or truncated varint"))
    }

    fn keyspace(&mut self) -> Result<KeyspaceId> {
        let v = self.varint()?;
        KeyspaceId::try_from(v).map_err(|_| self.corrupt("keyspace id out of range"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.corrupt("length out of range"))?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn write_strategy() -> impl Strategy<Value = Write> {
        prop_oneof![
            (
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..20),
                proptest::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(keyspace, key, value)| Write::Put { keyspace, key, value }),
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(keyspace, key)| Write::Delete { keyspace, key }),
            any::<u32>().prop_map(|keyspace| Write::CreateKeyspace { keyspace, kind: EngineKind::Memory }),
        ]
    }

    proptest! {
        #[test]
        fn records_round_trip(ts in any::<u64>(), writes in proptest::collection::vec(write_strategy(), 0..10), complete in any::<bool>()) {
            let record = CommitRecord { ts, writes, complete };
            let decoded = CommitRecord::decode(&record.encode()).ok();
            prop_assert_eq!(decoded, Some(record));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = CommitRecord::decode(&bytes);
        }

        #[test]
        fn truncated_records_are_errors(ts in any::<u64>(), writes in proptest::collection::vec(write_strategy(), 1..5), cut in any::<prop::sample::Index>()) {
            let bytes = CommitRecord { ts, writes, complete: true }.encode();
            let cut = cut.index(bytes.len());
            prop_assert!(CommitRecord::decode(&bytes[..cut]).is_err());
        }
    }
}
