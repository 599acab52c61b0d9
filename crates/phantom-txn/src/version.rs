//! How versions are laid out in an engine.
//!
//! A version's engine key is the user key followed by the bitwise complement of its commit
//! timestamp, big-endian:
//!
//! ```text
//!   +----------------------+----------------------------+
//!   | user key (n bytes)   | !commit_ts (8 bytes, BE)   |
//!   +----------------------+----------------------------+
//! ```
//!
//! Complementing the timestamp puts the newest version of a key first, so the version a
//! snapshot at `s` sees is the first entry at or after `key ++ !s`: one seek.
//!
//! The value is a one-byte tag, then the user value:
//!
//! ```text
//!   0x00            tombstone (the key was deleted at this timestamp)
//!   0x01 <value>    the key's value as of this timestamp
//! ```
//!
//! Appending the timestamp keeps versions of different keys apart only if no user key is a
//! proper prefix of another. The SQL layer builds every key with `phantom_storage::keycode`,
//! whose encodings are self-delimiting, which guarantees that.

use std::ops::Bound;

use phantom_storage::StorageError;

use crate::{Result, Timestamp};

const TS_LEN: usize = 8;
/// Bytes a version adds after the user key.
pub const KEY_SUFFIX: usize = TS_LEN;
/// Bytes a version adds before the user value.
pub const VALUE_PREFIX: usize = 1;
const TOMBSTONE: u8 = 0;
const LIVE: u8 = 1;

/// The engine key of `user_key` as written at `ts`.
pub fn encode_key(user_key: &[u8], ts: Timestamp) -> Vec<u8> {
    let mut key = Vec::with_capacity(user_key.len() + TS_LEN);
    key.extend_from_slice(user_key);
    key.extend_from_slice(&(!ts).to_be_bytes());
    key
}

/// [`encode_key`], reusing `user_key`'s allocation.
pub fn into_key(mut user_key: Vec<u8>, ts: Timestamp) -> Vec<u8> {
    user_key.extend_from_slice(&(!ts).to_be_bytes());
    user_key
}

/// [`encode_value`], reusing `value`'s allocation.
pub fn into_value(value: Option<Vec<u8>>) -> Vec<u8> {
    match value {
        None => vec![TOMBSTONE],
        Some(mut v) => {
            v.insert(0, LIVE);
            v
        }
    }
}

/// Splits an engine key into the user key and the commit timestamp.
pub fn decode_key(key: &[u8]) -> Result<(&[u8], Timestamp)> {
    if key.len() < TS_LEN {
        return Err(corrupt(format!("version key of {} bytes is too short", key.len())));
    }
    let (user_key, ts) = key.split_at(key.len() - TS_LEN);
    let mut ts_bytes = [0u8; TS_LEN];
    ts_bytes.copy_from_slice(ts);
    Ok((user_key, !u64::from_be_bytes(ts_bytes)))
}

/// The engine value for a write: `Some(value)` or `None` for a delete.
pub fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![TOMBSTONE],
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(LIVE);
            out.extend_from_slice(v);
            out
        }
    }
}

/// Decodes an engine value: `Some(value)`, or `None` for a tombstone.
pub fn decode_value(value: &[u8]) -> Result<Option<&[u8]>> {
    match value.split_first() {
        Some((&LIVE, rest)) => Ok(Some(rest)),
        Some((&TOMBSTONE, [])) => Ok(None),
        _ => Err(corrupt("malformed version value".to_string())),
    }
}

/// The engine-key range holding every version of every user key in `range`.
pub fn engine_range(range: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let newest = |k: &[u8]| encode_key(k, Timestamp::MAX);
    let oldest = |k: &[u8]| encode_key(k, 0);
    let start = match &range.0 {
        Bound::Included(k) => Bound::Included(newest(k)),
        Bound::Excluded(k) => Bound::Excluded(oldest(k)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let end = match &range.1 {
        Bound::Included(k) => Bound::Included(oldest(k)),
        Bound::Excluded(k) => Bound::Excluded(newest(k)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (start, end)
}

/// The engine-key range holding the versions of `user_key` a snapshot at `ts` may see,
/// newest first.
pub fn visible_range(user_key: &[u8], ts: Timestamp) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (Bound::Included(encode_key(user_key, ts)), Bound::Included(encode_key(user_key, 0)))
}

fn corrupt(reason: String) -> crate::TxnError {
    StorageError::Corrupt { path: "<mvcc>".into(), offset: 0, reason }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_sort_first() {
        assert!(encode_key(b"k", 9) < encode_key(b"k", 3));
        assert_eq!(decode_key(&encode_key(b"key", 42)).ok(), Some((&b"key"[..], 42)));
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(decode_value(&encode_value(Some(b"v"))).ok(), Some(Some(&b"v"[..])));
        assert_eq!(decode_value(&encode_value(None)).ok(), Some(None));
        assert!(decode_value(&[]).is_err());
        assert!(decode_value(&[7]).is_err());
    }

    #[test]
    fn ranges_cover_exactly_their_keys() {
        let r = engine_range(&(Bound::Excluded(b"b".to_vec()), Bound::Included(b"d".to_vec())));
        let inside = |k: &[u8]| {
            let key = encode_key(k, 5);
            let lo = match &r.0 {
                Bound::Excluded(s) => key > *s,
                _ => false,
            };
            let hi = match &r.1 {
                Bound::Included(e) => key <= *e,
                _ => false,
            };
            lo && hi
        };
        assert!(!inside(b"b"));
        assert!(inside(b"c"));
        assert!(inside(b"d"));
        assert!(!inside(b"e"));
    }
}
