//! Number <-> text conversions with Redis 7 semantics, shared by the request parser and the
//! reply writer (and usable by command implementations).
//!
//! Both directions sit on the hot path: every multibulk request carries one count line and one
//! length line per argument, and nearly every reply carries a length or integer. So nothing here
//! allocates: parsing works on a borrowed slice and formatting writes digits into a stack buffer
//! or straight into the caller's `Vec`. The accepted/produced text follows Redis exactly
//! (`string2ll` for parsing, `ll2string`/`d2string` for formatting) because clients and the
//! Redis test-suite compare these bytes literally.

use std::fmt::Write as _;

/// Maximum number of bytes `format_u64`/`format_i64` can produce ("-9223372036854775808").
pub const MAX_I64_LEN: usize = 20;

/// Size of the stack buffer [`format_f64`] needs; every double fits with room to spare.
pub const F64_BUF_LEN: usize = 32;

/// Two ASCII digits for every value 0..100, so formatting emits two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Parses a signed 64-bit integer exactly like Redis `string2ll`.
///
/// Accepted: an optional `-` followed by decimal digits, no leading zeros (except the single
/// string `"0"`), no spaces or `+`, at most 20 bytes, and a value that fits in `i64`.
/// `"-0"` and `""` are rejected, as in Redis.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    // LONG_STR_SIZE in Redis is 21: anything that long cannot be a valid i64.
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        // v == 2^63 maps to i64::MIN through the wrapping negation.
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Formats `v` into the tail of `out`, returning the index where the digits start.
#[inline]
pub fn format_u64(out: &mut [u8; MAX_I64_LEN], mut v: u64) -> usize {
    let mut i = MAX_I64_LEN;
    while v >= 100 {
        let r = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        out[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    }
    if v >= 10 {
        let r = v as usize * 2;
        i -= 2;
        out[i..i + 2].copy_from_slice(&DIGIT_PAIRS[r..r + 2]);
    } else {
        i -= 1;
        out[i] = b'0' + v as u8;
    }
    i
}

/// Formats `v` (with a leading `-` when negative) into the tail of `out`; returns the start index.
#[inline]
pub fn format_i64(out: &mut [u8; MAX_I64_LEN], v: i64) -> usize {
    let mut i = format_u64(out, v.unsigned_abs());
    if v < 0 {
        // |i64::MIN| has 19 digits, so there is always room for the sign.
        i -= 1;
        out[i] = b'-';
    }
    i
}

/// The decimal text of `v`, formatted into `out` (no allocation).
#[inline]
pub fn i64_digits(out: &mut [u8; MAX_I64_LEN], v: i64) -> &[u8] {
    let start = format_i64(out, v);
    &out[start..]
}

/// Appends the decimal text of `v` to `out` without allocating beyond `out`'s own growth.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; MAX_I64_LEN];
    let start = format_u64(&mut tmp, v);
    out.extend_from_slice(&tmp[start..]);
}

/// Appends the decimal text of `v` to `out`.
#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; MAX_I64_LEN];
    let start = format_i64(&mut tmp, v);
    out.extend_from_slice(&tmp[start..]);
}

/// Appends `v` formatted like Redis 7.2 `d2string` (see [`format_f64`]).
#[inline]
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    let mut tmp = [0u8; F64_BUF_LEN];
    let n = format_f64(&mut tmp, v);
    out.extend_from_slice(&tmp[..n]);
}

/// A fixed-size `fmt::Write` sink, so the standard library's shortest round-trip float printer
/// can be used without a heap allocation.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats a double like Redis 7.2 `d2string` into `out` and returns the length.
///
/// * NaN → `nan`, ±infinity → `inf` / `-inf`, zero → `0` / `-0`.
/// * Integral values in `[-2^62, 2^62]` print as plain integers (`3.0` → `3`).
/// * Everything else uses the shortest digit string that round-trips (Redis uses Grisu2 via
///   `fpconv_dtoa`; we use the standard library's exact shortest algorithm, which agrees except
///   in rare cases where Grisu2 emits one extra digit) laid out by `fpconv`'s `emit_digits`
///   rules: `0.1`, `1.5`, `123456.789`, `1e+300`, `1.5e-7`.
pub fn format_f64(out: &mut [u8; F64_BUF_LEN], v: f64) -> usize {
    fn put(out: &mut [u8; F64_BUF_LEN], s: &[u8]) -> usize {
        out[..s.len()].copy_from_slice(s);
        s.len()
    }
    if v.is_nan() {
        return put(out, b"nan");
    }
    if v.is_infinite() {
        return put(out, if v < 0.0 { b"-inf" } else { b"inf" });
    }
    if v == 0.0 {
        return put(out, if v.is_sign_negative() { b"-0" } else { b"0" });
    }
    // double2ll: (double)(LLONG_MAX/2) rounds to exactly 2^62.
    const LIMIT: f64 = 4_611_686_018_427_387_904.0;
    if (-LIMIT..=LIMIT).contains(&v) && v.trunc() == v {
        let mut tmp = [0u8; MAX_I64_LEN];
        let start = format_i64(&mut tmp, v as i64);
        return put(out, &tmp[start..]);
    }

    // Shortest round-trip digits via "{:e}", e.g. "1.2345e-5" or "1e300".
    let mut sci = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    if write!(sci, "{:e}", v.abs()).is_err() {
        // Cannot happen (the longest output is ~24 bytes); degrade gracefully anyway.
        return put(out, b"nan");
    }
    let text = &sci.buf[..sci.len];
    let mut digits = [0u8; 20];
    let mut ndigits = 0usize;
    let mut exp10: i32 = 0;
    let mut exp_neg = false;
    let mut in_exp = false;
    for &c in text {
        match c {
            b'e' => in_exp = true,
            b'-' if in_exp => exp_neg = true,
            b'0'..=b'9' if in_exp => exp10 = exp10 * 10 + i32::from(c - b'0'),
            b'0'..=b'9' if ndigits < digits.len() => {
                digits[ndigits] = c;
                ndigits += 1;
            }
            _ => {}
        }
    }
    if ndigits == 0 {
        // Cannot happen for a finite non-zero value; never index an empty digit string.
        return put(out, b"0");
    }
    if exp_neg {
        exp10 = -exp10;
    }
    let neg = v < 0.0;
    let mut len = 0usize;
    if neg {
        out[0] = b'-';
        len = 1;
    }
    len + emit_digits(&digits[..ndigits], exp10, neg, &mut out[len..])
}

/// Port of fpconv's `emit_digits`: lays out `digits` × 10^K where the first digit has decimal
/// exponent `exp10` (so K = exp10 - ndigits + 1). Returns the number of bytes written.
fn emit_digits(digits: &[u8], exp10: i32, neg: bool, dest: &mut [u8]) -> usize {
    let nd = digits.len() as i32;
    let k = exp10 - nd + 1;
    let mut exp = exp10.abs();

    // Plain integer with trailing zeros.
    if k >= 0 && exp < nd + 7 {
        dest[..digits.len()].copy_from_slice(digits);
        let zeros = k as usize;
        dest[digits.len()..digits.len() + zeros].fill(b'0');
        return digits.len() + zeros;
    }
    // Decimal without exponent.
    if k < 0 && (k > -7 || exp < 4) {
        let offset = nd - k.abs();
        if offset <= 0 {
            let zeros = (-offset) as usize;
            dest[0] = b'0';
            dest[1] = b'.';
            dest[2..2 + zeros].fill(b'0');
            dest[2 + zeros..2 + zeros + digits.len()].copy_from_slice(digits);
            return digits.len() + 2 + zeros;
        }
        let offset = offset as usize;
        dest[..offset].copy_from_slice(&digits[..offset]);
        dest[offset] = b'.';
        dest[offset + 1..digits.len() + 1].copy_from_slice(&digits[offset..]);
        return digits.len() + 1;
    }
    // Scientific notation: d[.ddd]e±X with no exponent padding.
    let nd = digits.len().min(18 - usize::from(neg));
    let mut idx = 0;
    dest[idx] = digits[0];
    idx += 1;
    if nd > 1 {
        dest[idx] = b'.';
        idx += 1;
        dest[idx..idx + nd - 1].copy_from_slice(&digits[1..nd]);
        idx += nd - 1;
    }
    dest[idx] = b'e';
    dest[idx + 1] = if exp10 < 0 { b'-' } else { b'+' };
    idx += 2;
    let mut cent = 0;
    if exp > 99 {
        cent = exp / 100;
        dest[idx] = b'0' + cent as u8;
        idx += 1;
        exp -= cent * 100;
    }
    if exp > 9 {
        let dec = exp / 10;
        dest[idx] = b'0' + dec as u8;
        idx += 1;
        exp -= dec * 10;
    } else if cent != 0 {
        dest[idx] = b'0';
        idx += 1;
    }
    dest[idx] = b'0' + (exp % 10) as u8;
    idx + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"12"), Some(12));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"000000000000000000001",
            b"1.0",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn integers_format_like_ll2string() {
        for v in [0i64, 1, 9, 10, 99, 100, 12345, -1, -10, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn doubles_format_like_redis_7_2() {
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(-0.1), "-0.1");
        assert_eq!(f(3.0), "3");
        assert_eq!(f(-3.0), "-3");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(f64::NEG_INFINITY), "-inf");
        assert_eq!(f(f64::NAN), "nan");
        assert_eq!(f(1e300), "1e+300");
        assert_eq!(f(-1e300), "-1e+300");
        assert_eq!(f(1e18), "1000000000000000000");
        assert_eq!(f(1e19), "1e+19");
        assert_eq!(f(5e18), "5e+18");
        assert_eq!(f(1.2345678901234567e19), "12345678901234567000");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1.5e-7), "1.5e-7");
        assert_eq!(f(1.234e-5), "1.234e-5");
        assert_eq!(f(123456.789), "123456.789");
        assert_eq!(f(3.25), "3.25");
        assert_eq!(f(123.456), "123.456");
        assert_eq!(f(12345.678901234567), "1.2345678901234567e+4");
        assert_eq!(f(1e-300), "1e-300");
        assert_eq!(f(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(f(5e-324), "5e-324");
        assert_eq!(f(1e100), "1e+100");
        assert_eq!(f(2.5e-10), "2.5e-10");
    }

    #[test]
    fn doubles_round_trip() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let s = f(v);
            assert!(s.len() < F64_BUF_LEN);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e} -> {s}");
        }
    }
}
