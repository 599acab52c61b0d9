//! The frame around every log record.
//!
//! ```text
//!   offset  size  field
//!   0       4     payload length, u32 little-endian
//!   4       4     CRC32C of bytes 8.. (LSN, flags, payload), u32 little-endian
//!   8       8     LSN, u64 little-endian
//!   16      1     flags (bit 0: the payload is LZ4-compressed; others must be 0)
//!   17      n     payload
//! ```
//!
//! Payloads of 256 bytes or more are compressed with LZ4 (block format, with the original
//! length in front) when that saves at least an eighth; commit records of real rows often
//! shrink to a third. Compression happens before the log's lock is taken, so it costs
//! the committing thread, not everyone else. The length and checksum cover the stored
//! (compressed) bytes, so a torn or damaged record is still found before decompression.
//!
//! The checksum covers the LSN, so a record copied to the wrong place, or a stale record
//! left from an earlier life of the file, does not pass as the record expected next.

use std::borrow::Cow;

use crate::Lsn;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 17;
/// The largest payload a record may carry.
pub const MAX_PAYLOAD: usize = 1 << 30;

pub const LEN_AT: usize = 0;
pub const CRC_AT: usize = 4;
pub const LSN_AT: usize = 8;
pub const FLAGS_AT: usize = 16;
/// The only flag bit defined (so flags above it mean damage).
pub const COMPRESSED: u8 = 1;
/// Smaller payloads are stored as they are.
const COMPRESS_FROM: usize = 256;

/// A payload ready to be framed: compressed if that pays.
pub struct Prepared<'a> {
    flags: u8,
    bytes: Cow<'a, [u8]>,
}

impl Prepared<'_> {
    /// Bytes the framed record takes.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.bytes.len()
    }
}

/// Compresses `payload` when that pays (call this outside any lock).
pub fn prepare(payload: &[u8]) -> Prepared<'_> {
    if payload.len() >= COMPRESS_FROM {
        let compressed = lz4_flex::compress_prepend_size(payload);
        if compressed.len() <= payload.len() - payload.len() / 8 {
            return Prepared { flags: COMPRESSED, bytes: Cow::Owned(compressed) };
        }
    }
    Prepared { flags: 0, bytes: Cow::Borrowed(payload) }
}

/// Appends a framed record to `out` (tests; the log prepares outside its lock).
#[cfg(test)]
pub fn encode(out: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    encode_prepared(out, lsn, &prepare(payload));
}

/// Appends a framed record of a prepared payload to `out`.
pub fn encode_prepared(out: &mut Vec<u8>, lsn: Lsn, payload: &Prepared<'_>) {
    let start = out.len();
    out.extend_from_slice(&(payload.bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&lsn.to_le_bytes());
    out.push(payload.flags);
    out.extend_from_slice(&payload.bytes);
    let crc = crc32c::crc32c(&out[start + LSN_AT..]);
    out[start + CRC_AT..start + CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

/// What is found at a position in a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An intact record and the length of its frame.
    Record {
        /// Its LSN.
        lsn: Lsn,
        /// Its payload (decompressed if it was stored compressed).
        payload: Cow<'a, [u8]>,
        /// Header plus payload.
        frame_len: usize,
    },
    /// The data ends in the middle of a frame (a write that did not complete).
    Truncated,
    /// The frame's checksum could not be verified (a length beyond the limit) or does not
    /// match: a torn write or damage, which recovery tells apart (see [`super::tail`]).
    Unverified(&'static str),
    /// A frame whose checksum matches but whose content is invalid: never a torn write.
    Invalid(&'static str),
}

/// The little-endian `u32` at `at` (the caller checks the bounds).
pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Parses the frame at the start of `bytes`.
#[cfg(test)]
pub fn decode(bytes: &[u8]) -> Frame<'_> {
    let mut scratch = Vec::new();
    match decode_with(bytes, &mut scratch) {
        Frame::Record { lsn, payload, frame_len } => {
            Frame::Record { lsn, payload: Cow::Owned(payload.into_owned()), frame_len }
        }
        Frame::Truncated => Frame::Truncated,
        Frame::Unverified(why) => Frame::Unverified(why),
        Frame::Invalid(why) => Frame::Invalid(why),
    }
}

/// Parses the frame at the start of `bytes`, decompressing into `scratch` (reused across
/// records, so recovery does not allocate a fresh buffer per record).
pub fn decode_with<'a>(bytes: &'a [u8], scratch: &'a mut Vec<u8>) -> Frame<'a> {
    if bytes.len() < HEADER_LEN {
        return Frame::Truncated;
    }
    let len = u32_at(bytes, LEN_AT) as usize;
    if len > MAX_PAYLOAD {
        return Frame::Unverified("length field exceeds the record size limit");
    }
    let Some(frame) = bytes.get(..HEADER_LEN + len) else {
        return Frame::Truncated;
    };
    if crc32c::crc32c(&frame[LSN_AT..]) != u32_at(frame, CRC_AT) {
        return Frame::Unverified("checksum mismatch");
    }
    let stored = &frame[HEADER_LEN..];
    let payload = match frame[FLAGS_AT] {
        0 => Cow::Borrowed(stored),
        COMPRESSED => {
            // The original length comes first; refuse absurd ones before allocating.
            if stored.len() < 4 || u32_at(stored, 0) as usize > MAX_PAYLOAD {
                return Frame::Invalid("compressed payload has a bad length");
            }
            scratch.clear();
            scratch.resize(u32_at(stored, 0) as usize, 0);
            match lz4_flex::decompress_into(&stored[4..], scratch) {
                Ok(n) if n == scratch.len() => Cow::Borrowed(&scratch[..]),
                _ => return Frame::Invalid("compressed payload does not decompress"),
            }
        }
        _ => return Frame::Invalid("unknown flags"),
    };
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&frame[LSN_AT..LSN_AT + 8]);
    Frame::Record { lsn: u64::from_le_bytes(lsn), payload, frame_len: frame.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_round_trip(lsn in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = Vec::new();
            encode(&mut buf, lsn, &payload);
            prop_assert_eq!(decode(&buf), Frame::Record { lsn, payload: Cow::Borrowed(&payload[..]), frame_len: buf.len() });
        }

        #[test]
        fn any_cut_is_truncated(payload in proptest::collection::vec(any::<u8>(), 0..64), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode(&mut buf, 7, &payload);
            let cut = cut.index(buf.len());
            prop_assert_eq!(decode(&buf[..cut]), Frame::Truncated);
        }

        #[test]
        fn any_flipped_bit_is_detected(payload in proptest::collection::vec(any::<u8>(), 1..64), bit in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode(&mut buf, 7, &payload);
            let bit = bit.index(buf.len() * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            let ok = matches!(decode(&buf), Frame::Record { lsn: 7, payload: p, .. } if *p == *payload.as_slice());
            prop_assert!(!ok);
        }

        #[test]
        fn compressible_payloads_are_stored_smaller_and_come_back_whole(
            lsn in any::<u64>(), unit in proptest::collection::vec(any::<u8>(), 1..8), repeat in 40usize..2000,
        ) {
            let payload = unit.repeat(repeat);
            let mut buf = Vec::new();
            encode(&mut buf, lsn, &payload);
            if payload.len() >= COMPRESS_FROM {
                prop_assert!(buf.len() < HEADER_LEN + payload.len(), "repetitive data compresses");
            }
            match decode(&buf) {
                Frame::Record { lsn: l, payload: p, frame_len } => {
                    prop_assert_eq!(l, lsn);
                    prop_assert_eq!(&*p, payload.as_slice());
                    prop_assert_eq!(frame_len, buf.len());
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
