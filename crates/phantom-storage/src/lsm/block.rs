//! Data blocks: sorted entries with shared key prefixes and restart points.
//!
//! ```text
//!   entry    = varint shared, varint unshared, varint value_header, key suffix, value
//!              (value_header 0: tombstone; n + 1: a value of n bytes)
//!   restarts = u32 offset of every 16th entry, whose key is stored whole (shared = 0)
//!   trailer  = u32 number of restarts
//! ```
//!
//! Consecutive keys of a table share long prefixes (same table, same index, increasing
//! ids), so storing only the differing suffix saves much of the key bytes. Restart points
//! let a lookup binary-search to within 16 entries without decoding the whole block.

use super::memtable::Slot;
use crate::varint;

/// Entries between restart points.
const RESTART_INTERVAL: usize = 16;

/// Builds one block.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    count: usize,
}

impl BlockBuilder {
    /// Adds an entry; keys must come in increasing order.
    pub fn add(&mut self, key: &[u8], slot: &Slot) {
        let shared = if self.count.is_multiple_of(RESTART_INTERVAL) {
            self.restarts.push(self.buf.len() as u32);
            0
        } else {
            self.last_key.iter().zip(key).take_while(|(a, b)| a == b).count()
        };
        varint::put(&mut self.buf, shared as u64);
        varint::put(&mut self.buf, (key.len() - shared) as u64);
        match slot {
            None => varint::put(&mut self.buf, 0),
            Some(v) => varint::put(&mut self.buf, v.len() as u64 + 1),
        }
        self.buf.extend_from_slice(&key[shared..]);
        if let Some(v) = slot {
            self.buf.extend_from_slice(v);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.count += 1;
    }

    /// Bytes the finished block would take.
    pub fn size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// True before the first entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The encoded block; the builder is empty again afterwards.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts.clear();
        self.last_key.clear();
        self.count = 0;
        out
    }
}

/// A decoded block: its entries in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub entries: Vec<(Vec<u8>, Slot)>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes the entries from `pos` up to `end`, starting with a whole key.
fn decode_run(
    data: &[u8],
    mut pos: usize,
    end: usize,
    limit: usize,
    out: &mut Vec<(Vec<u8>, Slot)>,
) -> Result<(), String> {
    let mut key: Vec<u8> = Vec::new();
    let mut taken = 0;
    while pos < end && taken < limit {
        let shared = varint::get(data, &mut pos).ok_or("bad entry header")? as usize;
        let unshared = varint::get(data, &mut pos).ok_or("bad entry header")? as usize;
        let header = varint::get(data, &mut pos).ok_or("bad entry header")? as usize;
        if shared > key.len() {
            return Err("shared prefix longer than the previous key".into());
        }
        key.truncate(shared);
        let suffix_end = pos.checked_add(unshared).filter(|&e| e <= end).ok_or("key runs past the block")?;
        key.extend_from_slice(&data[pos..suffix_end]);
        pos = suffix_end;
        let slot = if header == 0 {
            None
        } else {
            let value_end =
                pos.checked_add(header - 1).filter(|&e| e <= end).ok_or("value runs past the block")?;
            let v = data[pos..value_end].to_vec();
            pos = value_end;
            Some(v)
        };
        out.push((key.clone(), slot));
        taken += 1;
    }
    Ok(())
}

/// The restart offsets and where the entries end.
fn restarts(data: &[u8]) -> Result<(Vec<usize>, usize), String> {
    let n =
        u32_at(data, data.len().checked_sub(4).ok_or("block too short")?).ok_or("block too short")? as usize;
    let table_start = data.len().checked_sub(4 + 4 * n).ok_or("restart count out of range")?;
    let offsets = (0..n)
        .map(|i| u32_at(data, table_start + 4 * i).map(|o| o as usize).ok_or("bad restart"))
        .collect::<Result<Vec<_>, _>>()?;
    if offsets.iter().any(|&o| o > table_start) {
        return Err("restart offset out of range".into());
    }
    Ok((offsets, table_start))
}

impl Block {
    /// Decodes a whole block (what scans and the block cache hold).
    pub fn decode(data: &[u8]) -> Result<Block, String> {
        let (_, end) = restarts(data)?;
        let mut entries = Vec::new();
        decode_run(data, 0, end, usize::MAX, &mut entries)?;
        Ok(Block { entries })
    }

    /// The slot of `key` in the encoded block, decoding at most one restart interval.
    pub fn lookup(data: &[u8], key: &[u8]) -> Result<Option<Slot>, String> {
        let (offsets, end) = restarts(data)?;
        // The last restart whose (whole) key is <= `key`.
        let mut lo = 0;
        let mut hi = offsets.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            let mut first = Vec::with_capacity(1);
            decode_run(data, offsets[mid], end, 1, &mut first)?;
            if first.first().is_some_and(|(k, _)| k.as_slice() <= key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(start) = lo.checked_sub(1).map(|i| offsets[i]) else { return Ok(None) };
        let stop = offsets.get(lo).copied().unwrap_or(end);
        let mut run = Vec::with_capacity(RESTART_INTERVAL);
        decode_run(data, start, stop, RESTART_INTERVAL, &mut run)?;
        Ok(run.into_iter().find(|(k, _)| k.as_slice() == key).map(|(_, slot)| slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<(Vec<u8>, Slot)> {
        (0..n)
            .map(|i| {
                let key = format!("table/index/{i:06}").into_bytes();
                let slot = if i % 7 == 3 { None } else { Some(format!("value {i}").into_bytes()) };
                (key, slot)
            })
            .collect()
    }

    #[test]
    fn blocks_round_trip_and_share_prefixes() {
        let entries = sample(100);
        let mut builder = BlockBuilder::default();
        for (k, s) in &entries {
            builder.add(k, s);
        }
        let raw: usize = entries.iter().map(|(k, s)| k.len() + s.as_ref().map_or(0, Vec::len)).sum();
        let size = builder.size();
        let data = builder.finish();
        assert_eq!(data.len(), size);
        assert!(data.len() < raw, "prefix sharing saves space: {} vs {raw}", data.len());
        assert_eq!(Block::decode(&data).expect("decode").entries, entries);
        for (k, s) in &entries {
            assert_eq!(Block::lookup(&data, k).expect("lookup"), Some(s.clone()));
        }
        assert_eq!(Block::lookup(&data, b"table/index/000050x").expect("lookup"), None);
        assert_eq!(Block::lookup(&data, b"a").expect("lookup"), None);
        assert_eq!(Block::lookup(&data, b"z").expect("lookup"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut builder = BlockBuilder::default();
        for (k, s) in sample(40) {
            builder.add(&k, &s);
        }
        let data = builder.finish();
        for cut in [0, 3, 10, data.len() / 2] {
            let _ = Block::decode(&data[..cut]);
            let _ = Block::lookup(&data[..cut], b"table/index/000001");
        }
        let mut bad = data.clone();
        bad[0] = 0xff;
        bad[1] = 0xff;
        let _ = Block::decode(&bad);
    }
}
