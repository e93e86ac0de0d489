//! Argument parsing with Redis's exact number rules (util.c string2ll / string2ld) and option
//! matching. Strictness matters: clients rely on "01", "+1" and " 1" being rejected as integers.

use crate::error::{CmdError, NOT_FLOAT, NOT_INTEGER};

/// Redis string2ll rules (see `ringkv_protocol::num::parse_i64`).
pub use ringkv_protocol::num::parse_i64;

/// Redis string2ld-style float: what strtold accepts over the whole string, no leading/trailing
/// spaces, "inf"/"-inf"/"+inf" allowed, NaN rejected.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5000 {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => {
            // Rust's parser accepts "nan"/"infinity" forms handled above and rejects hex floats,
            // which strtold would take; hex floats are vanishingly rare in Redis usage.
            if lower.contains("nan") || lower.contains("inf") {
                return None;
            }
            text.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

pub fn int_arg(s: &[u8]) -> Result<i64, CmdError> {
    parse_i64(s).ok_or(NOT_INTEGER)
}

pub fn float_arg(s: &[u8]) -> Result<f64, CmdError> {
    parse_f64(s).ok_or(NOT_FLOAT)
}

/// Integer that must be >= 0, with Redis's "value is out of range, must be positive" text.
pub fn non_negative_arg(s: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(s) {
        Some(v) if v >= 0 => Ok(v),
        Some(_) => Err(CmdError::Static(
            "ERR value is out of range, must be positive",
        )),
        None => Err(NOT_INTEGER),
    }
}

/// Case-insensitive keyword comparison (`opt` is given in upper or lower case).
pub fn is(arg: &[u8], opt: &str) -> bool {
    arg.eq_ignore_ascii_case(opt.as_bytes())
}

/// Formats a float the way Redis 7.2 replies to INCRBYFLOAT and friends (shortest round-trip
/// digits, integral values without a fraction, "inf"/"-inf").
pub fn format_f64(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    ringkv_protocol::num::write_f64(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-0",
            b"9223372036854775808",
            b"1.0",
            b"abc",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_strtold() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1x"), None);
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn float_formatting() {
        assert_eq!(format_f64(10.5), "10.5");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_f64(f64::INFINITY), "inf");
        assert_eq!(format_f64(-0.0), "-0");
    }
}
