//! Bloom filters: one per table, so a lookup skips tables that cannot hold its key.
//!
//! Ten bits per key and seven probes give about 1% false positives. Probes come from one
//! 64-bit hash by double hashing (Kirsch and Mitzenmacher): probe i = h1 + i * h2.

/// Bits per key.
const BITS_PER_KEY: usize = 10;
/// Probes per key (≈ ln 2 × bits per key).
const PROBES: u8 = 7;

/// A 64-bit hash of `key` (FNV-1a with a final avalanche); stable across builds and
/// platforms, because filters are stored in files.
pub fn hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Builds a filter from key hashes; the encoding is `[probes u8][bits...]`.
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let bits = (hashes.len() * BITS_PER_KEY).max(64);
    let bytes = bits.div_ceil(8);
    let bits = bytes * 8;
    let mut out = vec![0u8; 1 + bytes];
    out[0] = PROBES;
    for &h in hashes {
        let (mut h1, h2) = (h, (h >> 32) | 1);
        for _ in 0..PROBES {
            let bit = (h1 % bits as u64) as usize;
            out[1 + bit / 8] |= 1 << (bit % 8);
            h1 = h1.wrapping_add(h2);
        }
    }
    out
}

/// False if `hash`'s key is certainly not in the filter.
pub fn may_contain(filter: &[u8], hash: u64) -> bool {
    let Some((&probes, bits)) = filter.split_first() else { return true };
    if bits.is_empty() {
        return true;
    }
    let nbits = bits.len() as u64 * 8;
    let (mut h1, h2) = (hash, (hash >> 32) | 1);
    for _ in 0..probes {
        let bit = (h1 % nbits) as usize;
        if bits[bit / 8] & (1 << (bit % 8)) == 0 {
            return false;
        }
        h1 = h1.wrapping_add(h2);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let keys: Vec<Vec<u8>> = (0..10_000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let filter = build(&keys.iter().map(|k| hash(k)).collect::<Vec<_>>());
        assert!(keys.iter().all(|k| may_contain(&filter, hash(k))));
        let false_positives =
            (10_000..110_000u32).filter(|i| may_contain(&filter, hash(&i.to_be_bytes()))).count();
        assert!(false_positives < 2_000, "{false_positives} false positives in 100,000");
    }
}
