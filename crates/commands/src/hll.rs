//! The HyperLogLog sketch behind PFADD / PFCOUNT / PFMERGE, in Redis's own format, so an HLL is
//! an ordinary string whose bytes mean the same as in Redis (a value copied from one server to
//! the other counts the same) and counts come out identical.
//!
//! Format (Redis hyperloglog.c): a 16-byte header `HYLL`, encoding (0 dense, 1 sparse), three
//! zero bytes, and a little-endian cached cardinality whose top bit marks it stale; then 16384
//! registers (the low 14 bits of an element's MurmurHash64A pick one, the run of zeros in the
//! other 50 plus one is the candidate value; a register keeps the largest):
//! - dense: 6 bits per register, packed from the least significant bit (12,288 bytes);
//! - sparse: run lengths, `00xxxxxx` ZERO (1-64 zero registers), `01xxxxxx yyyyyyyy` XZERO (up
//!   to 16384), `1vvvvvxx` VAL (1-4 registers of value 1-32). New HLLs are sparse; one is
//!   promoted to dense when a register needs more than 32 or the string would pass
//!   `hll-sparse-max-bytes` (3000).
//!
//! The sparse update follows Redis step by step (split the opcode that covers the register,
//! then merge equal neighbouring VALs within five opcodes), so the bytes match Redis's, not only
//! the counts. The cardinality is Ertl's improved estimator over the register histogram, as in
//! Redis 5 and later.
//!
//! Every input is a string a client may have written: a malformed one is reported
//! ([`Corrupt`]), never trusted for an index.

/// Registers (2^14).
pub const REGISTERS: usize = 1 << 14;
const P: u32 = 14;
const Q: u32 = 64 - P;
pub const HEADER: usize = 16;
/// Length of a dense HLL.
pub const DENSE_SIZE: usize = HEADER + REGISTERS * 6 / 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const MAX_ENCODING: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
/// 1 / (2 ln 2).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A string that claims to be an HLL but cannot be read as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash2, 64-bit version (MurmurHash64A), as Redis computes it (little-endian reads).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and its candidate value (Redis's hllPatLen).
pub fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Whether `s` is an HLL string (Redis's isHLLObjectOrReply checks).
pub fn is_hll(s: &[u8]) -> bool {
    s.len() >= HEADER
        && &s[..4] == b"HYLL"
        && s[4] <= MAX_ENCODING
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// A new, empty HLL: sparse, every register in one XZERO.
pub fn new_sparse() -> Vec<u8> {
    let mut s = vec![0u8; HEADER];
    s[..4].copy_from_slice(b"HYLL");
    s[4] = SPARSE;
    push_xzero(&mut s, REGISTERS);
    s
}

fn push_xzero(out: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    out.push((l >> 8) as u8 | 0x40);
    out.push((l & 0xff) as u8);
}

fn zero_or_xzero(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(out, len);
    } else {
        out.push((len - 1) as u8);
    }
}

fn val(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len - 1) as u8
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(v);
    regs[byte] &= !((63u16 << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !((63u16 >> (8 - fb)) as u8);
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Marks the cached cardinality stale.
pub fn invalidate(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// Stores `card` as the cached cardinality (valid).
pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// The cached cardinality, if valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0)
        .then(|| u64::from_le_bytes([s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]]))
}

/// A sparse opcode at `p`: (registers it covers, its length in bytes, its value).
fn opcode(s: &[u8], p: usize) -> Option<(usize, usize, u8)> {
    let b = *s.get(p)?;
    Some(match b & 0xc0 {
        0x00 => (usize::from(b & 0x3f) + 1, 1, 0),
        0x40 => {
            let lo = *s.get(p + 1)?;
            ((usize::from(b & 0x3f) << 8 | usize::from(lo)) + 1, 2, 0)
        }
        _ => (usize::from(b & 0x3) + 1, 1, ((b >> 2) & 0x1f) + 1),
    })
}

/// Calls `f(first register, run length, value)` for every run of a sparse HLL; Corrupt when the
/// runs do not cover exactly the 16384 registers.
fn sparse_runs(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut p = HEADER;
    let mut idx = 0;
    while p < s.len() {
        let (run, len, value) = opcode(s, p).ok_or(Corrupt)?;
        if idx + run > REGISTERS {
            return Err(Corrupt);
        }
        f(idx, run, value);
        idx += run;
        p += len;
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// Converts a sparse HLL to dense (keeping magic and cached cardinality).
pub fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER].copy_from_slice(&s[..HEADER]);
    dense[4] = DENSE;
    sparse_runs(s, |first, run, value| {
        if value > 0 {
            for i in first..first + run {
                dense_set(&mut dense[HEADER..], i, value);
            }
        }
    })?;
    *s = dense;
    Ok(())
}

/// Whether adding `element` would raise a register (PFADD without copying the value when
/// nothing would change, the usual case for a big HLL).
pub fn would_change(s: &[u8], element: &[u8]) -> Result<bool, Corrupt> {
    let (index, count) = register_of(element);
    Ok(register(s, index)? < count)
}

/// The value of register `index`.
fn register(s: &[u8], index: usize) -> Result<u8, Corrupt> {
    if s[4] == DENSE {
        return Ok(dense_get(&s[HEADER..], index));
    }
    let mut p = HEADER;
    let mut first = 0;
    loop {
        let (span, oplen, value) = opcode(s, p).ok_or(Corrupt)?;
        if index < first + span {
            return Ok(value);
        }
        p += oplen;
        first += span;
    }
}

/// Adds an element; true when a register changed (PFADD's reply). `sparse_max` is
/// `hll-sparse-max-bytes`.
pub fn add(s: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = register_of(element);
    set(s, index, count, sparse_max)
}

/// Raises register `index` to `count` if lower; true when it changed.
pub fn set(s: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    if s[4] == DENSE {
        let regs = &mut s[HEADER..];
        if dense_get(regs, index) >= count {
            return Ok(false);
        }
        dense_set(regs, index, count);
        invalidate(s);
        return Ok(true);
    }
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: the opcode covering the register.
    let mut p = HEADER;
    let mut first = 0;
    let mut prev = None;
    let (span, oplen, value) = loop {
        let (span, oplen, value) = opcode(s, p).ok_or(Corrupt)?;
        if index < first + span {
            break (span, oplen, value);
        }
        prev = Some(p);
        p += oplen;
        first += span;
    };
    // Step 2: cases that change the opcode in place.
    if value > 0 {
        if value >= count {
            return Ok(false);
        }
        if span == 1 {
            s[p] = val(count, 1);
            return Ok(merge_and_invalidate(s, prev));
        }
    }
    if value == 0 && oplen == 1 && span == 1 {
        s[p] = val(count, 1);
        return Ok(merge_and_invalidate(s, prev));
    }
    // Step 3: split the opcode (at most XZERO - VAL - XZERO).
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    if value == 0 {
        if index != first {
            zero_or_xzero(&mut seq, index - first);
        }
        seq.push(val(count, 1));
        if index != last {
            zero_or_xzero(&mut seq, last - index);
        }
    } else {
        if index != first {
            seq.push(val(value, index - first));
        }
        seq.push(val(count, 1));
        if index != last {
            seq.push(val(value, last - index));
        }
    }
    if seq.len() > oplen && s.len() + seq.len() - oplen > sparse_max {
        return promote(s, index, count);
    }
    s.splice(p..p + oplen, seq);
    Ok(merge_and_invalidate(s, prev))
}

/// Step 4 of a sparse update: merges equal adjacent VALs, scanning five opcodes from the one
/// before the change (Redis's window), then marks the cache stale. Returns true.
fn merge_and_invalidate(s: &mut Vec<u8>, prev: Option<usize>) -> bool {
    let mut p = prev.unwrap_or(HEADER);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if b & 0xc0 == 0x40 {
            p += 2;
            continue;
        }
        if b & 0xc0 == 0x00 {
            p += 1;
            continue;
        }
        if let Some(&next) = s.get(p + 1) {
            if next & 0x80 != 0 {
                let (v1, v2) = (((b >> 2) & 0x1f) + 1, ((next >> 2) & 0x1f) + 1);
                let len = usize::from(b & 3) + usize::from(next & 3) + 2;
                if v1 == v2 && len <= VAL_MAX_LEN {
                    s[p + 1] = val(v1, len);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate(s);
    true
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    let regs = &mut s[HEADER..];
    let changed = dense_get(regs, index) < count;
    if changed {
        dense_set(regs, index, count);
    }
    invalidate(s);
    Ok(changed)
}

/// Folds an HLL into `max` (register-wise maximum), as PFCOUNT of several keys and PFMERGE do.
pub fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s[4] == DENSE {
        for (g, m) in s[HEADER..].chunks_exact(3).zip(max.chunks_exact_mut(4)) {
            for (slot, v) in m.iter_mut().zip(unpack(g)) {
                *slot = (*slot).max(v);
            }
        }
        return Ok(());
    }
    sparse_runs(s, |first, run, value| {
        if value > 0 {
            for m in &mut max[first..first + run] {
                *m = (*m).max(value);
            }
        }
    })
}

/// Writes `max` into a dense HLL's registers (PFMERGE), four registers per three bytes.
pub fn write_dense(s: &mut [u8], max: &[u8; REGISTERS]) {
    for (g, r) in s[HEADER..].chunks_exact_mut(3).zip(max.chunks_exact(4)) {
        let (r0, r1, r2, r3) = (r[0] & 63, r[1] & 63, r[2] & 63, r[3] & 63);
        g[0] = r0 | r1 << 6;
        g[1] = r1 >> 2 | r2 << 4;
        g[2] = r2 >> 4 | r3 << 2;
    }
}

/// The four registers packed in three dense bytes (registers never straddle such a group).
fn unpack(g: &[u8]) -> [u8; 4] {
    let (a, b, c) = (g[0], g[1], g[2]);
    [
        a & 63,
        (a >> 6 | b << 2) & 63,
        (b >> 4 | c << 4) & 63,
        c >> 2,
    ]
}

/// The cardinality estimate of one HLL (its cached value when valid).
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    if let Some(c) = cached(s) {
        return Ok(c);
    }
    let mut histo = [0u32; 64];
    if s[4] == DENSE {
        for g in s[HEADER..].chunks_exact(3) {
            for v in unpack(g) {
                histo[usize::from(v)] += 1;
            }
        }
    } else {
        sparse_runs(s, |_, run, value| histo[usize::from(value)] += run as u32)?;
    }
    Ok(estimate(&histo))
}

/// The cardinality estimate of raw registers (the union of several HLLs).
pub fn count_registers(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &v in max.iter() {
        histo[usize::from(v & 63)] += 1;
    }
    estimate(&histo)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over the register histogram (Redis's hllCount).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q as usize + 1])) / m);
    for j in (1..=Q as usize).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values taken from Redis 7.0.15: `PFADD h3 a b c d e f g` and its GET (the cache set by a
    /// PFCOUNT: 7), and the counts of `e0`..`e999` and `e0`..`e49999`.
    #[test]
    fn counts_and_bytes_match_redis() {
        let mut s = new_sparse();
        for e in ["a", "b", "c", "d", "e", "f", "g"] {
            add(&mut s, e.as_bytes(), 3000).unwrap();
        }
        let mut want = b"HYLL\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00".to_vec();
        want.extend_from_slice(b"Fm\x80V\x0c\x80D<\x848\x80P\xb1\x84I\x8c\x80Bm\x80BZ");
        assert_eq!(count(&s).unwrap(), 7);
        s[8..16].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(s, want);
        for (n, redis) in [(1000, 1008), (50_000, 49_978)] {
            let mut s = new_sparse();
            for i in 0..n {
                add(&mut s, format!("e{i}").as_bytes(), 3000).unwrap();
            }
            assert_eq!(count(&s).unwrap(), redis, "{n} elements");
        }
    }

    #[test]
    fn dense_registers_do_not_disturb_their_neighbours() {
        let mut regs = vec![0u8; REGISTERS * 6 / 8];
        let mut expect = vec![0u8; REGISTERS];
        let mut x = 12345u64;
        for round in 0..3 {
            for (i, slot) in expect.iter_mut().enumerate() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((x >> 33) & 63) as u8;
                if round < 2 || i % 3 == 0 {
                    *slot = v;
                    dense_set(&mut regs, i, v);
                }
            }
            for (i, &v) in expect.iter().enumerate() {
                assert_eq!(dense_get(&regs, i), v, "register {i}");
            }
        }
    }

    #[test]
    fn packed_groups_read_and_write_like_single_registers() {
        let mut max = [0u8; REGISTERS];
        for (i, m) in max.iter_mut().enumerate() {
            *m = ((i * 7 + i / 5) % 64) as u8;
        }
        let mut s = new_sparse();
        to_dense(&mut s).unwrap();
        write_dense(&mut s, &max);
        for (i, &v) in max.iter().enumerate() {
            assert_eq!(dense_get(&s[HEADER..], i), v, "register {i}");
        }
        let mut back = [0u8; REGISTERS];
        merge_into(&mut back, &s).unwrap();
        assert_eq!(back, max);
    }

    #[test]
    fn sparse_and_dense_agree_and_counts_are_close() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_SIZE);
        let mut checkpoint = 1u64;
        for i in 1..=200_000u64 {
            let e = i.to_le_bytes();
            let a = add(&mut sparse, &e, 3000).unwrap();
            let b = add(&mut dense, &e, usize::MAX).unwrap();
            assert_eq!(a, b, "element {i}");
            if i == checkpoint {
                let (cs, cd) = (count(&sparse).unwrap(), count(&dense).unwrap());
                assert_eq!(cs, cd, "at {i}");
                let err = (cs as f64 - i as f64).abs() / i as f64;
                assert!(i < 100 || err < 0.05, "{i}: {cs}");
                checkpoint *= 10;
            }
        }
        assert_eq!(sparse[4], DENSE, "promoted past hll-sparse-max-bytes");
        let mut small = new_sparse();
        for i in 0..100u32 {
            add(&mut small, &i.to_le_bytes(), 3000).unwrap();
        }
        assert_eq!(small[4], SPARSE);
        assert!(small.len() < 400, "{}", small.len());
    }

    #[test]
    fn malformed_strings_are_reported_not_trusted() {
        let mut s = new_sparse();
        s.truncate(HEADER + 1);
        // A valid cached cardinality is answered as it is (as Redis does); a stale one makes
        // the count read the registers.
        assert_eq!(count(&s), Ok(0));
        s[15] |= 0x80;
        assert_eq!(count(&s), Err(Corrupt));
        assert_eq!(add(&mut s.clone(), b"x", 3000), Err(Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &s), Err(Corrupt));
        // Runs past the registers.
        let mut s = new_sparse();
        s.extend_from_slice(&[0x00]);
        s[15] |= 0x80;
        assert_eq!(count(&s), Err(Corrupt));
        assert!(!is_hll(b"HYLL"));
        assert!(!is_hll(&[
            b'H', b'Y', b'L', b'L', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        ]));
        assert!(is_hll(&new_sparse()));
    }
}
