//! Telling the end of the log from damage.
//!
//! Recovery reads records until one does not check out. What it found there is one of:
//!
//! - **a clean end**: nothing but zeros follow (the active segment is kept ahead of the
//!   log in written zeros, see [`super::segment`]);
//! - **a torn write**: the process or the machine stopped while the last records were
//!   being written, so they were never acknowledged. What a torn write leaves is known:
//!   Linux writes a file page by page, so a killed process leaves a prefix that stops at a
//!   page boundary, and a power cut leaves whole sectors unwritten. Either way the bytes
//!   that did not arrive read as the zeros that were there before, or the file ends;
//! - **damage**: anything else. The records after it were acknowledged, so cutting the
//!   log there would silently drop committed transactions.
//!
//! [`judge`] decides, on these grounds, from the bad frame onwards:
//!
//! 1. an intact record continuing the sequence further on proves damage (a torn write is
//!    the end of what was written) — found by scanning forward byte by byte for a frame
//!    whose LSN is plausible and whose checksum verifies ([`next_intact`]);
//! 2. a frame that verifies with another length than its length field says is whole:
//!    its length field is damaged ([`whole_at_another_length`]);
//! 3. a frame cut off by the end of the segment, or with a sector-aligned stretch of
//!    zeros in it ([`SECTOR`]), may be torn — unless one damaged byte explains its checksum
//!    ([`one_damaged_byte_explains`]), which for a frame of up to [`EXPLAIN_LIMIT`] bytes
//!    a torn write does only with a chance below one in 10^4;
//! 4. a complete frame with no unwritten stretch is damage.
//!
//! What stays ambiguous: a damaged final record longer than [`EXPLAIN_LIMIT`] whose
//! content happens to end in zeros from a sector boundary on, or with more than one
//! damaged byte and such zeros, looks like a torn write and is cut off as one. The other
//! way round, a power cut that persisted a later sector of an unacknowledged write but not
//! an earlier one leaves intact records after a bad one, which rule 1 reports as damage:
//! the database then refuses to open until it is salvaged (which, in that case, loses
//! only what was never acknowledged).

use super::record::{self, COMPRESSED, CRC_AT, FLAGS_AT, Frame, HEADER_LEN, LSN_AT, MAX_PAYLOAD};
use super::segment;
use crate::Lsn;

/// The unit a disk writes atomically, at the least; what a torn write leaves unwritten.
pub const SECTOR: usize = 512;

/// The largest frame for which [`one_damaged_byte_explains`] is asked: above it, chance
/// explanations of a torn frame's checksum become too likely.
pub const EXPLAIN_LIMIT: usize = 4096;

/// What the bytes from a bad frame onwards are.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Only zeros: the log ended here.
    CleanEnd,
    /// A torn write; the reason, for the log.
    Torn(String),
    /// Damage; the reason, for the error.
    Damaged(String),
}

/// Judges the bytes of a segment from `pos`, where a frame with LSN `expected` failed to
/// verify for reason `problem`.
pub fn judge(bytes: &[u8], pos: usize, expected: Lsn, problem: &str) -> Verdict {
    let rest = &bytes[pos..];
    if segment::is_preallocated(rest) {
        return Verdict::CleanEnd;
    }
    if let Some(next) = next_intact(bytes, pos + 1, expected) {
        return Verdict::Damaged(format!(
            "{problem}, and an intact record (LSN {}) follows at offset {}: damage, not a torn write",
            next.lsn, next.offset
        ));
    }
    if let Some(len) = whole_at_another_length(rest, expected) {
        return Verdict::Damaged(format!(
            "{problem}; the record is whole with a {len}-byte payload, so its length field is damaged"
        ));
    }
    if rest.len() < HEADER_LEN {
        return Verdict::Torn(format!("{problem} (the segment ends inside the record's header)"));
    }
    let len = record::u32_at(rest, 0) as usize;
    if len > MAX_PAYLOAD {
        return Verdict::Damaged(format!("{problem}: a torn write leaves zeros, not a garbled length"));
    }
    let Some(frame) = rest.get(..HEADER_LEN + len) else {
        return Verdict::Torn(format!("{problem} (the segment ends inside the record)"));
    };
    if !has_unwritten_sector(bytes, pos, pos + frame.len()) {
        return Verdict::Damaged(format!(
            "{problem}; the record is complete (no part of it is unwritten), so this is damage, not a torn write"
        ));
    }
    if frame.len() <= EXPLAIN_LIMIT && one_damaged_byte_explains(frame) {
        return Verdict::Damaged(format!(
            "{problem}; one damaged byte explains the checksum: damage, not a torn write"
        ));
    }
    Verdict::Torn(format!("{problem} (part of the record was never written)"))
}

/// An intact record found by [`next_intact`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intact {
    /// Where its frame starts.
    pub offset: usize,
    pub lsn: Lsn,
    /// Header plus stored payload.
    pub frame_len: usize,
}

/// The first intact frame at or after `from` whose LSN could follow `expected` (at least
/// `expected`, and no further ahead than the bytes in between could hold records).
pub fn next_intact(bytes: &[u8], from: usize, expected: Lsn) -> Option<Intact> {
    let mut scratch = Vec::new();
    // A frame's LSN is not zero, so no frame starts after the last non-zero byte (the
    // active segment's zeros run a mebibyte ahead of the log).
    let written = bytes.iter().rposition(|&b| b != 0)?;
    let last = bytes.len().checked_sub(HEADER_LEN)?.min(written);
    for offset in from..=last {
        let at = &bytes[offset..];
        let lsn = u64::from_le_bytes(at[LSN_AT..LSN_AT + 8].try_into().ok()?);
        let most = expected.saturating_add(((offset + 1 - from.min(offset)) / HEADER_LEN) as u64 + 1);
        // Cheap tests first: nearly every offset fails them.
        if lsn < expected || lsn > most || at[FLAGS_AT] & !COMPRESSED != 0 {
            continue;
        }
        if HEADER_LEN + record::u32_at(at, 0) as usize > at.len() {
            continue;
        }
        if let Frame::Record { lsn: found, frame_len, .. } = record::decode_with(at, &mut scratch)
            && found == lsn
        {
            return Some(Intact { offset, lsn, frame_len });
        }
    }
    None
}

/// Counts the intact records from `from` on (resynchronizing past bad stretches), starting
/// at LSN `expected`: what a salvage discards. Returns the count and the last LSN seen.
pub fn count_intact(bytes: &[u8], from: usize, expected: Lsn) -> (u64, Option<Lsn>) {
    let (mut count, mut last, mut pos, mut expected) = (0, None, from, expected);
    while let Some(found) = next_intact(bytes, pos, expected) {
        count += 1;
        last = Some(found.lsn);
        pos = found.offset + found.frame_len;
        expected = found.lsn + 1;
    }
    (count, last)
}

/// If the frame at the start of `rest` carries LSN `expected` and verifies with a payload
/// length other than its length field's, that length: the frame is whole, its length
/// field damaged. Looks no further than [`SECTOR`] bytes past the last non-zero byte (a
/// record's own content rarely ends in that many zeros; the log is zeros after it).
pub fn whole_at_another_length(rest: &[u8], expected: Lsn) -> Option<usize> {
    if rest.len() < HEADER_LEN
        || u64::from_le_bytes(rest[LSN_AT..LSN_AT + 8].try_into().ok()?) != expected
        || rest[FLAGS_AT] & !COMPRESSED != 0
    {
        return None;
    }
    let stored = record::u32_at(rest, CRC_AT);
    let declared = record::u32_at(rest, 0) as usize;
    let written = rest.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let limit = rest.len().min(written + SECTOR).min(HEADER_LEN + MAX_PAYLOAD);
    let mut crc = Crc::new();
    crc.update(&rest[LSN_AT..HEADER_LEN]);
    for len in 0..=limit.saturating_sub(HEADER_LEN) {
        if len > 0 {
            crc.update(&rest[HEADER_LEN + len - 1..HEADER_LEN + len]);
        }
        if len != declared && crc.value() == stored {
            return Some(len);
        }
    }
    None
}

/// True if some sector-aligned stretch of `bytes[start..end]` (a whole sector, or the part
/// of one inside the range) is all zeros: what a torn write leaves where it did not write.
pub fn has_unwritten_sector(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut at = start;
    while at < end {
        let piece_end = ((at / SECTOR + 1) * SECTOR).min(end);
        if bytes[at..piece_end].iter().all(|&b| b == 0) {
            return true;
        }
        at = piece_end;
    }
    false
}

/// True if changing one byte of `frame` (a whole frame: header and stored payload) would
/// make its checksum verify: damage. The checksum is linear, so the difference between
/// the stored and the computed checksum (the syndrome) is the checksum of the error alone;
/// a single damaged byte at distance `k` from the end with error `m` gives `Z^k(T[m])`,
/// where `T` is the CRC table and `Z` one step over a zero byte. Walking `Z` backwards
/// from the syndrome tries every position in one pass.
pub fn one_damaged_byte_explains(frame: &[u8]) -> bool {
    if frame.len() < HEADER_LEN {
        return false;
    }
    let message = &frame[LSN_AT..];
    let syndrome = crc32c::crc32c(message) ^ record::u32_at(frame, CRC_AT);
    if syndrome == 0 {
        return false;
    }
    // A damaged byte of the stored checksum itself.
    if syndrome.to_le_bytes().iter().filter(|&&b| b != 0).count() == 1 {
        return true;
    }
    let tables = tables();
    let mut state = syndrome;
    for _ in 0..message.len() {
        if tables.single_byte_errors.binary_search(&state).is_ok() {
            return true;
        }
        state = tables.step_back(state);
    }
    false
}

/// CRC32C (Castagnoli, reflected), bit-exact with the `crc32c` crate.
const POLYNOMIAL: u32 = 0x82F6_3B78;

struct Tables {
    /// `T[b]`: the register after one byte `b` from a zero register.
    table: [u32; 256],
    /// Which byte `b` has `T[b]` with a given top byte (a bijection, checked in tests).
    by_top_byte: [u8; 256],
    /// `T[m]` for every non-zero `m`, sorted: the syndromes of one damaged last byte.
    single_byte_errors: Vec<u32>,
}

impl Tables {
    fn step(&self, state: u32) -> u32 {
        (state >> 8) ^ self.table[(state & 0xff) as usize]
    }

    /// The inverse of [`Tables::step`] over a zero byte.
    fn step_back(&self, state: u32) -> u32 {
        let b = self.by_top_byte[(state >> 24) as usize];
        ((state ^ self.table[b as usize]) << 8) | u32::from(b)
    }
}

fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut table = [0u32; 256];
        for (b, entry) in table.iter_mut().enumerate() {
            let mut r = b as u32;
            for _ in 0..8 {
                r = if r & 1 != 0 { (r >> 1) ^ POLYNOMIAL } else { r >> 1 };
            }
            *entry = r;
        }
        let mut by_top_byte = [0u8; 256];
        for (b, entry) in table.iter().enumerate() {
            by_top_byte[(entry >> 24) as usize] = b as u8;
        }
        let mut single_byte_errors: Vec<u32> = table[1..].to_vec();
        single_byte_errors.sort_unstable();
        Tables { table, by_top_byte, single_byte_errors }
    })
}

/// A running CRC32C, one byte at a time (for trying every length of a frame).
struct Crc(u32);

impl Crc {
    fn new() -> Crc {
        Crc(!0)
    }

    fn update(&mut self, bytes: &[u8]) {
        let tables = tables();
        for &b in bytes {
            self.0 = tables.step(self.0 ^ u32::from(b));
        }
    }

    fn value(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(lsn: Lsn, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        record::encode(&mut out, lsn, payload);
        out
    }

    #[test]
    fn the_tables_match_the_crc32c_crate_and_step_back_inverts_a_step() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut crc = Crc::new();
        crc.update(&data);
        assert_eq!(crc.value(), crc32c::crc32c(&data));
        let tables = tables();
        let mut tops: Vec<u32> = tables.table.iter().map(|t| t >> 24).collect();
        tops.sort_unstable();
        tops.dedup();
        assert_eq!(tops.len(), 256, "the top byte of T[b] identifies b");
        for state in [1u32, 0xdead_beef, 0x8000_0000, 0x1234_5678] {
            assert_eq!(tables.step_back(tables.step(state)), state);
        }
    }

    #[test]
    fn one_damaged_byte_is_recognized_wherever_it_is() {
        let original = frame(9, b"a record of some length, with a payload of its own");
        for at in 0..original.len() {
            if at < CRC_AT {
                continue; // the length field is not covered by the checksum
            }
            for mask in [0x01u8, 0x80, 0xff, 0x5a] {
                let mut damaged = original.clone();
                damaged[at] ^= mask;
                assert!(one_damaged_byte_explains(&damaged), "byte {at} mask {mask:#x}");
            }
        }
    }

    #[test]
    fn a_frame_torn_at_a_sector_is_not_explained_by_one_byte() {
        // A record from mid-sector to well past the next sector boundary, whose bytes past
        // the boundary never arrived.
        let mut bytes = vec![0u8; 300];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let payload: Vec<u8> = (0..1500)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8 | 1
            })
            .collect();
        let whole = frame(4, &payload);
        assert!(whole.len() > 1500, "stored uncompressed");
        bytes.extend_from_slice(&whole);
        let torn_from = 2 * SECTOR;
        let mut torn = bytes.clone();
        torn[torn_from..].fill(0);
        torn.extend_from_slice(&[0u8; 4096]);
        assert!(has_unwritten_sector(&torn, 300, 300 + whole.len()));
        assert!(!one_damaged_byte_explains(&torn[300..300 + whole.len()]));
        assert!(matches!(judge(&torn, 300, 4, "checksum mismatch"), Verdict::Torn(_)));
        // The same record whole but with one flipped bit is damage.
        let mut flipped = bytes.clone();
        flipped[300 + 700] ^= 0x04;
        flipped.extend_from_slice(&[0u8; 4096]);
        assert!(matches!(judge(&flipped, 300, 4, "checksum mismatch"), Verdict::Damaged(_)));
    }

    #[test]
    fn a_damaged_length_field_is_found_either_way() {
        let whole = frame(5, b"payload of the last record");
        for new_len in [0u32, 3, 25, 27, 40, 1 << 12, 1 << 20, u32::MAX] {
            let mut bytes = whole.clone();
            bytes[..4].copy_from_slice(&new_len.to_le_bytes());
            bytes.extend_from_slice(&[0u8; 2048]);
            assert_eq!(whole_at_another_length(&bytes, 5), Some(26), "length {new_len}");
            assert!(matches!(judge(&bytes, 0, 5, "bad"), Verdict::Damaged(_)), "length {new_len}");
        }
    }

    #[test]
    fn intact_records_after_a_bad_one_are_found_and_counted() {
        let mut bytes = Vec::new();
        for lsn in 10..20 {
            bytes.extend_from_slice(&frame(lsn, format!("record {lsn}").as_bytes()));
        }
        let second = frame(10, b"record 10").len();
        bytes[second + 20] ^= 0x01; // LSN 11's payload
        let found = next_intact(&bytes, second + 1, 11).expect("LSN 12 follows");
        assert_eq!(found.lsn, 12);
        assert_eq!(count_intact(&bytes, second + 1, 11), (8, Some(19)));
        assert!(matches!(judge(&bytes, second, 11, "checksum mismatch"), Verdict::Damaged(_)));
    }

    #[test]
    fn zeros_are_a_clean_end_and_a_short_tail_is_torn() {
        let whole = frame(3, b"the last record");
        let mut bytes = vec![0u8; 64];
        assert_eq!(judge(&bytes, 0, 3, "bad"), Verdict::CleanEnd);
        bytes = whole[..whole.len() - 4].to_vec();
        assert!(matches!(judge(&bytes, 0, 3, "cut short"), Verdict::Torn(_)));
        bytes = whole[..10].to_vec();
        assert!(matches!(judge(&bytes, 0, 3, "cut short"), Verdict::Torn(_)));
    }
}
