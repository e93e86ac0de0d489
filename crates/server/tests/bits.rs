//! The bitmap commands against a real server: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, with Redis 7's exact replies and error texts (checked against a real Redis 7 server;
//! BITCOUNT/BITPOS argument errors follow Redis 7.2, which reports them even for a missing key).
//!
//! BITCOUNT and BITPOS are also checked against a naive bit-by-bit model over strings from a
//! seeded generator. WRONGTYPE cases use a hash key (HSET).

mod common;
use common::{peak_rss_kb, run, Raw, Server, NOT_INT, SYNTAX, WRONGTYPE};

const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "-ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn run_b(r: &mut Raw, args: &[&[u8]]) -> String {
    r.cmd(args);
    r.reply()
}

fn get_bytes(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

#[test]
fn setbit_and_getbit() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut c = s.conn();
    assert_eq!(run(&mut r, &["SETBIT", "b", "7", "1"]), ":0");
    assert_eq!(run(&mut r, &["SETBIT", "b", "7", "1"]), ":1");
    assert_eq!(get_bytes(&mut c, "b"), vec![0x01]);
    assert_eq!(run(&mut r, &["SETBIT", "b", "0", "1"]), ":0");
    assert_eq!(get_bytes(&mut c, "b"), vec![0x81]);
    assert_eq!(run(&mut r, &["SETBIT", "b", "7", "0"]), ":1");
    assert_eq!(get_bytes(&mut c, "b"), vec![0x80]);
    // Growing pads with zero bytes.
    assert_eq!(run(&mut r, &["SETBIT", "b", "100", "1"]), ":0");
    assert_eq!(run(&mut r, &["STRLEN", "b"]), ":13");
    let mut want = vec![0u8; 13];
    want[0] = 0x80;
    want[12] = 0x08;
    assert_eq!(get_bytes(&mut c, "b"), want);
    // Clearing a bit past the end still grows the string.
    assert_eq!(run(&mut r, &["SETBIT", "b", "200", "0"]), ":0");
    assert_eq!(run(&mut r, &["STRLEN", "b"]), ":26");
    assert_eq!(run(&mut r, &["GETBIT", "b", "0"]), ":1");
    assert_eq!(run(&mut r, &["GETBIT", "b", "1"]), ":0");
    assert_eq!(run(&mut r, &["GETBIT", "b", "100"]), ":1");
    assert_eq!(run(&mut r, &["GETBIT", "b", "100000"]), ":0");
    assert_eq!(run(&mut r, &["GETBIT", "nokey", "5"]), ":0");
    assert_eq!(run(&mut r, &["GETBIT", "b", "4294967295"]), ":0");
    // SETBIT works on any string and keeps its TTL.
    assert_eq!(run(&mut r, &["SET", "s", "a", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["SETBIT", "s", "6", "1"]), ":0");
    assert_eq!(run(&mut r, &["GET", "s"]), "c");
    let ttl: i64 = redis::cmd("PTTL").arg("s").query(&mut c).unwrap();
    assert!(ttl > 98_000 && ttl <= 100_000, "{ttl}");
    // Errors.
    for off in [
        "-1",
        "abc",
        "1.5",
        "4294967296",
        "#1",
        " 1",
        "9223372036854775808",
    ] {
        assert_eq!(run(&mut r, &["SETBIT", "e", off, "1"]), BAD_OFFSET, "{off}");
        assert_eq!(run(&mut r, &["GETBIT", "b", off]), BAD_OFFSET, "{off}");
    }
    for bit in ["2", "-1", "a", "01", "1.0"] {
        assert_eq!(run(&mut r, &["SETBIT", "e", "1", bit]), BAD_BIT, "{bit}");
    }
    assert_eq!(run(&mut r, &["EXISTS", "e"]), ":0");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SETBIT", "h", "1", "1"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["GETBIT", "h", "1"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["SETBIT", "b", "1"]),
        "-ERR wrong number of arguments for 'setbit' command"
    );
    assert_eq!(
        run(&mut r, &["GETBIT", "b"]),
        "-ERR wrong number of arguments for 'getbit' command"
    );
}

#[test]
fn bit_offsets_are_bounded_before_allocating() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let before = peak_rss_kb(&s);
    // 2^32 bits is 512 MB, one byte past the default proto-max-bulk-len.
    assert_eq!(run(&mut r, &["SETBIT", "k", "4294967296", "1"]), BAD_OFFSET);
    assert_eq!(
        run(&mut r, &["SETBIT", "k", "9223372036854775807", "1"]),
        BAD_OFFSET
    );
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "SET", "u8", "#536870912", "1"]),
        BAD_OFFSET
    );
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "k", "SET", "i64", "#9223372036854775807", "1"]
        ),
        BAD_OFFSET
    );
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    let after = peak_rss_kb(&s);
    assert!(
        after < before + 64 * 1024,
        "peak RSS grew from {before} kB to {after} kB"
    );
    drop(r);
    drop(s);

    // The bound follows proto-max-bulk-len.
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SETBIT", "k", "8388608", "1"]), BAD_OFFSET);
    assert_eq!(run(&mut r, &["GETBIT", "k", "8388608"]), BAD_OFFSET);
    assert_eq!(run(&mut r, &["SETBIT", "k", "8388607", "1"]), ":0");
    assert_eq!(run(&mut r, &["STRLEN", "k"]), ":1048576");
    assert_eq!(run(&mut r, &["BITCOUNT", "k"]), ":1");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1"]), ":8388607");
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "GET", "u8", "#1048576"]),
        BAD_OFFSET
    );
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "GET", "u8", "#1048575"]),
        "[:1]"
    );
}

#[test]
fn bitcount_ranges_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "foobar"]), "+OK");
    assert_eq!(run(&mut r, &["BITCOUNT", "k"]), ":26");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "0", "0"]), ":4");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "1", "1"]), ":6");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "1", "1", "BYTE"]), ":6");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "5", "30", "BIT"]), ":17");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "0", "-1", "bit"]), ":26");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "-2", "-1"]), ":7");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "-1", "-2"]), ":0");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "-100", "-90"]), ":4");
    // start < end < 0 with start > end is empty even if clamping would make it overlap.
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "-10", "-20"]), ":0");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "-100", "0"]), ":4");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "3", "100"]), ":10");
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "10", "3"]), ":0");
    assert_eq!(
        run(
            &mut r,
            &[
                "BITCOUNT",
                "k",
                "-9223372036854775808",
                "9223372036854775807",
                "BIT"
            ]
        ),
        ":26"
    );
    assert_eq!(run(&mut r, &["BITCOUNT", "nokey"]), ":0");
    assert_eq!(run(&mut r, &["BITCOUNT", "nokey", "0", "-1"]), ":0");
    assert_eq!(run(&mut r, &["SET", "e", ""]), "+OK");
    assert_eq!(run(&mut r, &["BITCOUNT", "e"]), ":0");
    assert_eq!(run(&mut r, &["BITCOUNT", "e", "0", "-1", "BIT"]), ":0");
    // Partial or extra arguments are syntax errors, for missing keys too (Redis 7.2).
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "0"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITCOUNT", "nokey", "0"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["BITCOUNT", "k", "0", "1", "BIT", "x"]),
        SYNTAX
    );
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "0", "1", "WORD"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "a", "1"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITCOUNT", "k", "0", "1.5"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITCOUNT", "nokey", "a", "1"]), NOT_INT);
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["BITCOUNT", "h"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["BITCOUNT", "h", "0", "1"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["BITCOUNT"]),
        "-ERR wrong number of arguments for 'bitcount' command"
    );
}

#[test]
fn bitpos_edge_cases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run_b(&mut r, &[b"SET", b"k", b"\xff\xf0\x00"]), "+OK");
    assert_eq!(run(&mut r, &["BITPOS", "k", "0"]), ":12");
    assert_eq!(run_b(&mut r, &[b"SET", b"k", b"\x00\xff\xf0"]), "+OK");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "0"]), ":8");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "2"]), ":16");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "2", "-1", "BYTE"]), ":16");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "7", "15", "BIT"]), ":8");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "7", "-3", "BIT"]), ":8");
    assert_eq!(run(&mut r, &["BITPOS", "k", "0", "8", "-1", "bit"]), ":20");
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "-1", "-2"]), ":-1");
    assert_eq!(run_b(&mut r, &[b"SET", b"z", b"\x00\x00\x00"]), "+OK");
    assert_eq!(run(&mut r, &["BITPOS", "z", "1"]), ":-1");
    assert_eq!(run(&mut r, &["BITPOS", "z", "1", "7", "-3", "BIT"]), ":-1");
    assert_eq!(run(&mut r, &["BITPOS", "z", "0"]), ":0");
    assert_eq!(run(&mut r, &["BITPOS", "z", "0", "1"]), ":8");
    // All ones, looking for a 0: without an end the string counts as zero padded (len*8);
    // with an explicit end there is no 0 in the range (-1).
    assert_eq!(run_b(&mut r, &[b"SET", b"ones", b"\xff\xff\xff"]), "+OK");
    assert_eq!(run(&mut r, &["BITPOS", "ones", "0"]), ":24");
    assert_eq!(run(&mut r, &["BITPOS", "ones", "0", "0"]), ":24");
    assert_eq!(run(&mut r, &["BITPOS", "ones", "0", "1"]), ":24");
    assert_eq!(run(&mut r, &["BITPOS", "ones", "0", "0", "-1"]), ":-1");
    assert_eq!(
        run(&mut r, &["BITPOS", "ones", "0", "0", "2", "BYTE"]),
        ":-1"
    );
    assert_eq!(
        run(&mut r, &["BITPOS", "ones", "0", "0", "-1", "BIT"]),
        ":-1"
    );
    assert_eq!(
        run(&mut r, &["BITPOS", "ones", "1", "3", "20", "BIT"]),
        ":3"
    );
    assert_eq!(run(&mut r, &["BITPOS", "ones", "1", "100"]), ":-1");
    assert_eq!(run(&mut r, &["BITPOS", "ones", "0", "100"]), ":-1");
    // Missing key: an endless run of zeros.
    assert_eq!(run(&mut r, &["BITPOS", "nokey", "0"]), ":0");
    assert_eq!(run(&mut r, &["BITPOS", "nokey", "1"]), ":-1");
    assert_eq!(
        run(&mut r, &["BITPOS", "nokey", "0", "5", "10", "BIT"]),
        ":0"
    );
    // Empty string: an empty range.
    assert_eq!(run(&mut r, &["SET", "e", ""]), "+OK");
    assert_eq!(run(&mut r, &["BITPOS", "e", "0"]), ":-1");
    assert_eq!(run(&mut r, &["BITPOS", "e", "1"]), ":-1");
    // Errors.
    let bad_bit = "-ERR The bit argument must be 1 or 0.";
    assert_eq!(run(&mut r, &["BITPOS", "k", "2"]), bad_bit);
    assert_eq!(run(&mut r, &["BITPOS", "k", "-1"]), bad_bit);
    assert_eq!(run(&mut r, &["BITPOS", "nokey", "2"]), bad_bit);
    assert_eq!(run(&mut r, &["BITPOS", "k", "a"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "a"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "0", "a"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITPOS", "nokey", "1", "a"]), NOT_INT);
    assert_eq!(run(&mut r, &["BITPOS", "k", "1", "0", "1", "WORD"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["BITPOS", "k", "1", "0", "1", "BIT", "x"]),
        SYNTAX
    );
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["BITPOS", "h", "1"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["BITPOS", "k"]),
        "-ERR wrong number of arguments for 'bitpos' command"
    );
}

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn bit_at(s: &[u8], i: i64) -> bool {
    s[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
}

/// Redis's range normalisation in the given unit, as inclusive bit positions.
fn model_range(len: usize, start: i64, end: i64, bit_unit: bool) -> Option<(i64, i64)> {
    let total = if bit_unit { len as i64 * 8 } else { len as i64 };
    let mut start = if start < 0 { total + start } else { start };
    let mut end = if end < 0 { total + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    if start > end {
        return None;
    }
    Some(if bit_unit {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

fn model_bitcount(s: &[u8], range: Option<(i64, i64, bool)>) -> i64 {
    let r = match range {
        None => model_range(s.len(), 0, -1, false),
        Some((a, b, _)) if a < 0 && b < 0 && a > b => None,
        Some((a, b, unit)) => model_range(s.len(), a, b, unit),
    };
    match r {
        None => 0,
        Some((from, to)) => (from..=to).filter(|&i| bit_at(s, i)).count() as i64,
    }
}

fn model_bitpos(s: &[u8], bit: bool, start: Option<i64>, end: Option<i64>, unit: bool) -> i64 {
    let Some((from, to)) = model_range(s.len(), start.unwrap_or(0), end.unwrap_or(-1), unit) else {
        return -1;
    };
    match (from..=to).find(|&i| bit_at(s, i) == bit) {
        Some(i) => i,
        None if !bit && end.is_none() => to + 1,
        None => -1,
    }
}

#[test]
fn bitcount_and_bitpos_match_a_naive_model() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for round in 0..300 {
        let len = g.below(24) as usize;
        // Mostly runs of 0x00/0xff so that BITPOS has work to do, with some noise.
        let value: Vec<u8> = (0..len)
            .map(|_| match g.below(4) {
                0 => 0x00,
                1 => 0xff,
                _ => g.below(256) as u8,
            })
            .collect();
        r.cmd(&[b"SET", b"k", &value]);
        assert_eq!(r.reply(), "+OK");
        let span = len as i64 * 8 + 10;
        for _ in 0..20 {
            // BITCOUNT with each argument shape.
            let (a, b) = (g.range(-span, span), g.range(-span, span));
            let unit_bit = g.below(2) == 1;
            let (args, range): (Vec<String>, Option<(i64, i64, bool)>) = match g.below(3) {
                0 => (vec![], None),
                1 => (vec![a.to_string(), b.to_string()], Some((a, b, false))),
                _ => (
                    vec![
                        a.to_string(),
                        b.to_string(),
                        (if unit_bit { "BIT" } else { "BYTE" }).into(),
                    ],
                    Some((a, b, unit_bit)),
                ),
            };
            let mut cmd: Vec<&str> = vec!["BITCOUNT", "k"];
            cmd.extend(args.iter().map(|x| x.as_str()));
            let want = model_bitcount(&value, range);
            assert_eq!(
                run(&mut r, &cmd),
                format!(":{want}"),
                "round {round} {value:?} {cmd:?}"
            );

            // BITPOS with each argument shape.
            let bit = g.below(2) == 1;
            let shape = g.below(4);
            let start = (shape >= 1).then_some(a);
            let end = (shape >= 2).then_some(b);
            let unit = shape == 3 && unit_bit;
            let mut cmd: Vec<String> = vec!["BITPOS".into(), "k".into(), (bit as u8).to_string()];
            if let Some(v) = start {
                cmd.push(v.to_string());
            }
            if let Some(v) = end {
                cmd.push(v.to_string());
            }
            if shape == 3 {
                cmd.push((if unit { "BIT" } else { "BYTE" }).into());
            }
            let cmd_ref: Vec<&str> = cmd.iter().map(|x| x.as_str()).collect();
            let want = model_bitpos(&value, bit, start, end, unit);
            assert_eq!(
                run(&mut r, &cmd_ref),
                format!(":{want}"),
                "round {round} {value:?} {cmd:?}"
            );
        }
    }
}

#[test]
fn bitop_and_or_xor_not() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut c = s.conn();
    assert_eq!(run_b(&mut r, &[b"SET", b"a", b"\x0f\xf0\xaa"]), "+OK");
    assert_eq!(run_b(&mut r, &[b"SET", b"b", b"\xff\x0f"]), "+OK");
    assert_eq!(run(&mut r, &["BITOP", "AND", "d", "a", "b"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0x0f, 0x00, 0x00]);
    assert_eq!(run(&mut r, &["BITOP", "or", "d", "a", "b"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xff, 0xff, 0xaa]);
    assert_eq!(run(&mut r, &["BITOP", "XOR", "d", "a", "b"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xf0, 0xff, 0xaa]);
    assert_eq!(run(&mut r, &["BITOP", "XOR", "d", "a", "b", "a"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xff, 0x0f, 0x00]);
    assert_eq!(run(&mut r, &["BITOP", "NOT", "d", "a"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xf0, 0x0f, 0x55]);
    // A single source copies it (AND/OR/XOR).
    assert_eq!(run(&mut r, &["BITOP", "AND", "d", "b"]), ":2");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xff, 0x0f]);
    // Missing keys are empty strings (zero padded): AND with one is all zeros.
    assert_eq!(run(&mut r, &["BITOP", "AND", "d", "a", "nokey"]), ":3");
    assert_eq!(get_bytes(&mut c, "d"), vec![0, 0, 0]);
    assert_eq!(run(&mut r, &["BITOP", "OR", "d", "nokey", "b"]), ":2");
    assert_eq!(get_bytes(&mut c, "d"), vec![0xff, 0x0f]);
    // The destination may be a source, and its TTL is dropped.
    assert_eq!(run(&mut r, &["SET", "t", "x", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["BITOP", "NOT", "t", "t"]), ":1");
    assert_eq!(get_bytes(&mut c, "t"), vec![!b'x']);
    assert_eq!(run(&mut r, &["PTTL", "t"]), ":-1");
    // An empty result deletes the destination.
    assert_eq!(run(&mut r, &["SET", "e", ""]), "+OK");
    assert_eq!(run(&mut r, &["BITOP", "OR", "d", "nokey", "nokey2"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "d"]), ":0");
    assert_eq!(run(&mut r, &["SET", "d", "x"]), "+OK");
    assert_eq!(run(&mut r, &["BITOP", "NOT", "d", "e"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "d"]), ":0");
    // Errors.
    assert_eq!(
        run(&mut r, &["BITOP", "NOT", "d", "a", "b"]),
        "-ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(run(&mut r, &["BITOP", "NAND", "d", "a"]), SYNTAX);
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SET", "d", "keep"]), "+OK");
    assert_eq!(run(&mut r, &["BITOP", "AND", "d", "a", "h"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["GET", "d"]), "keep");
    // The destination's type does not matter.
    assert_eq!(run(&mut r, &["BITOP", "OR", "h", "a"]), ":3");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+string");
    assert_eq!(
        run(&mut r, &["BITOP", "AND", "d"]),
        "-ERR wrong number of arguments for 'bitop' command"
    );
}

#[test]
fn bitfield_get_set_incrby() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut c = s.conn();
    // Redis documentation examples.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "mykey", "INCRBY", "i5", "100", "1", "GET", "u4", "0"]
        ),
        "[:1,:0]"
    );
    for want in ["[:1,:1]", "[:2,:2]", "[:3,:3]", "[:0,:3]"] {
        assert_eq!(
            run(
                &mut r,
                &[
                    "BITFIELD", "ov", "incrby", "u2", "100", "1", "OVERFLOW", "SAT", "incrby",
                    "u2", "102", "1"
                ]
            ),
            want
        );
    }
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "ovf", "OVERFLOW", "FAIL", "incrby", "u2", "102", "1"]
        ),
        "[:1]"
    );
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "ovf", "OVERFLOW", "FAIL", "incrby", "u2", "102", "5"]
        ),
        "[(nil)]"
    );
    assert_eq!(
        run(&mut r, &["BITFIELD", "ovf", "GET", "u2", "102"]),
        "[:1]"
    );
    // SET returns the old value; "#N" offsets are in units of the type width.
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD", "f", "SET", "u8", "#1", "255", "GET", "u8", "#1", "SET", "u8", "#1",
                "7"
            ]
        ),
        "[:0,:255,:255]"
    );
    assert_eq!(get_bytes(&mut c, "f"), vec![0x00, 0x07]);
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD", "f", "SET", "i8", "0", "-2", "GET", "u8", "0", "GET", "i4", "0", "GET",
                "u4", "4"
            ]
        ),
        "[:0,:254,:-1,:14]"
    );
    // Fields that straddle bytes.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "g", "SET", "u12", "4", "2748", "GET", "u12", "4", "GET", "u16", "0"]
        ),
        "[:0,:2748,:2748]"
    );
    assert_eq!(get_bytes(&mut c, "g"), vec![0x0a, 0xbc]);
    // The widest types.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "w", "SET", "i64", "0", "-1", "GET", "u63", "0", "GET", "i64", "0"]
        ),
        "[:0,:9223372036854775807,:-1]"
    );
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD",
                "w",
                "SET",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "1"
            ]
        ),
        "[:-1,:-9223372036854775808]"
    );
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "w", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1"]
        ),
        "[:-9223372036854775808]"
    );
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "w", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1"]
        ),
        "[(nil)]"
    );
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD",
                "w",
                "OVERFLOW",
                "SAT",
                "INCRBY",
                "u63",
                "0",
                "9223372036854775807"
            ]
        ),
        "[:9223372036854775807]"
    );
    // Overflow modes for SET.
    for (mode, v, want) in [
        ("WRAP", "-1", "[:0]"),
        ("SAT", "300", "[:255]"),
        ("SAT", "-1", "[:255]"),
        ("WRAP", "257", "[:255]"),
        ("FAIL", "256", "[(nil)]"),
    ] {
        assert_eq!(
            run(
                &mut r,
                &["BITFIELD", "o", "OVERFLOW", mode, "SET", "u8", "0", v]
            ),
            want,
            "{mode} {v}"
        );
    }
    assert_eq!(run(&mut r, &["BITFIELD", "o", "GET", "u8", "0"]), "[:1]");
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "s", "OVERFLOW", "SAT", "SET", "i8", "0", "-200", "GET", "i8", "0"]
        ),
        "[:0,:-128]"
    );
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "s", "OVERFLOW", "WRAP", "SET", "i8", "0", "200", "GET", "i8", "0"]
        ),
        "[:-128,:-56]"
    );
    // Redis's arithmetic quirk: SAT of i64::MIN into a narrower signed field gives its maximum.
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD",
                "q",
                "OVERFLOW",
                "SAT",
                "SET",
                "i38",
                "0",
                "-9223372036854775808",
                "GET",
                "i38",
                "0"
            ]
        ),
        "[:0,:137438953471]"
    );
    // OVERFLOW applies to the operations after it only; WRAP is the default.
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD", "m", "INCRBY", "i8", "0", "200", "OVERFLOW", "SAT", "INCRBY", "i8",
                "8", "200"
            ]
        ),
        "[:-56,:127]"
    );
    // Reading past the end gives zeros; a failed write still creates the (zeroed) key.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "nokey", "GET", "i8", "0", "GET", "u4", "100"]
        ),
        "[:0,:0]"
    );
    assert_eq!(run(&mut r, &["EXISTS", "nokey"]), ":0");
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "nb", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "5"]
        ),
        "[(nil)]"
    );
    assert_eq!(run(&mut r, &["STRLEN", "nb"]), ":13");
    assert_eq!(run(&mut r, &["BITFIELD", "nb"]), "[]");
    assert_eq!(run(&mut r, &["BITFIELD", "nb", "OVERFLOW", "WRAP"]), "[]");
    // The TTL is kept.
    assert_eq!(run(&mut r, &["SET", "t", "abc", "EX", "100"]), "+OK");
    assert_eq!(
        run(&mut r, &["BITFIELD", "t", "SET", "u8", "0", "65"]),
        "[:97]"
    );
    assert_eq!(run(&mut r, &["GET", "t"]), "Abc");
    let ttl: i64 = redis::cmd("PTTL").arg("t").query(&mut c).unwrap();
    assert!(ttl > 98_000 && ttl <= 100_000, "{ttl}");
}

#[test]
fn bitfield_errors_and_bitfield_ro() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for ty in [
        "u64", "i65", "i0", "u0", "x8", "i", "I8", "U8", "i-1", "i08", "8",
    ] {
        assert_eq!(
            run(&mut r, &["BITFIELD", "k", "GET", ty, "0"]),
            BAD_TYPE,
            "{ty}"
        );
    }
    for off in ["-1", "#-1", "abc", "4294967296", "#536870912", "1.5", "#"] {
        assert_eq!(
            run(&mut r, &["BITFIELD", "k", "GET", "u8", off]),
            BAD_OFFSET,
            "{off}"
        );
    }
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "OVERFLOW", "foo"]),
        "-ERR Invalid OVERFLOW type specified"
    );
    assert_eq!(run(&mut r, &["BITFIELD", "k", "OVERFLOW"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITFIELD", "k", "FOO"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITFIELD", "k", "GET", "u8"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITFIELD", "k", "SET", "u8", "0"]), SYNTAX);
    assert_eq!(run(&mut r, &["BITFIELD", "k", "INCRBY", "u8", "0"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "SET", "u8", "0", "x"]),
        NOT_INT
    );
    assert_eq!(
        run(&mut r, &["BITFIELD", "k", "INCRBY", "u8", "0", "1.5"]),
        NOT_INT
    );
    // Nothing runs when any operation is malformed.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u64", "0"]
        ),
        BAD_TYPE
    );
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["BITFIELD", "h", "GET", "u8", "0"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["BITFIELD", "h", "SET", "u8", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(
        run(&mut r, &["BITFIELD_RO", "h", "GET", "u8", "0"]),
        WRONGTYPE
    );
    assert_eq!(
        run(&mut r, &["BITFIELD"]),
        "-ERR wrong number of arguments for 'bitfield' command"
    );

    // BITFIELD_RO: GET only.
    assert_eq!(run(&mut r, &["SET", "k", "AB"]), "+OK");
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD_RO",
                "k",
                "GET",
                "u8",
                "0",
                "GET",
                "i16",
                "0",
                "GET",
                "u8",
                "#1"
            ]
        ),
        "[:65,:16706,:66]"
    );
    assert_eq!(
        run(&mut r, &["BITFIELD_RO", "nokey", "GET", "i8", "0"]),
        "[:0]"
    );
    assert_eq!(run(&mut r, &["BITFIELD_RO", "k"]), "[]");
    let ro_only = "-ERR BITFIELD_RO only supports the GET subcommand";
    assert_eq!(
        run(&mut r, &["BITFIELD_RO", "k", "SET", "u8", "0", "1"]),
        ro_only
    );
    assert_eq!(
        run(
            &mut r,
            &[
                "BITFIELD_RO",
                "k",
                "GET",
                "u8",
                "0",
                "INCRBY",
                "u8",
                "0",
                "1"
            ]
        ),
        ro_only
    );
    assert_eq!(run(&mut r, &["GET", "k"]), "AB");
    // OVERFLOW is accepted (it changes nothing for GET); parse errors come first.
    assert_eq!(
        run(
            &mut r,
            &["BITFIELD_RO", "k", "OVERFLOW", "FAIL", "GET", "u8", "0"]
        ),
        "[:65]"
    );
    assert_eq!(
        run(&mut r, &["BITFIELD_RO", "k", "SET", "u64", "0", "1"]),
        BAD_TYPE
    );
    assert_eq!(
        run(&mut r, &["BITFIELD_RO"]),
        "-ERR wrong number of arguments for 'bitfield_ro' command"
    );
}
