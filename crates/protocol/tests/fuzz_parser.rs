//! A mutation fuzzer for the request parser that runs on stable Rust as an ordinary test.
//!
//! It starts from a corpus of valid requests and applies random byte flips, insertions,
//! deletions, truncations, splices and "interesting" tokens (huge length digits, quotes, CR/LF),
//! under randomly chosen limits. Every input must not panic and must behave exactly like the
//! reference model of Redis' parser in `common/mod.rs` — parsed whole, resumed across random
//! read boundaries, and walked as a pipeline. Inputs that parse into requests join the corpus.
//!
//! Runs for `RINGKV_FUZZ_SECS` seconds (default 2 to keep `cargo test` fast); set
//! `RINGKV_FUZZ_SEED` to replay a run. `crates/protocol/fuzz.sh` runs it longer in release mode.

mod common;

use common::{encode, outcome, reference, Outcome};
use ringkv_protocol::{ParseLimits, RequestParser};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// xorshift64*: tiny, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\r",
    b"\n",
    b"*",
    b"$",
    b"\"",
    b"'",
    b"\\",
    b"\\x",
    b"\\x4",
    b"\\'",
    b" ",
    b"\t",
    b"\x0b",
    b"\0",
    b"-",
    b"-0",
    b"0",
    b"-1",
    b"01",
    b"10",
    b"11",
    b"16384",
    b"16385",
    b"536870912",
    b"536870913",
    b"1073741824",
    b"4294967296",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"99999999999999999999",
    b"*3\r\n",
    b"$3\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
];

const HUGE_DIGITS: &[&[u8]] = &[
    b"4294967296",
    b"9223372036854775807",
    b"18446744073709551616",
    b"2147483648",
    b"100000",
    b"65536",
    b"0",
    b"-1",
];

fn seed_corpus() -> Vec<Vec<u8>> {
    let args = |items: &[&[u8]]| items.iter().map(|s| s.to_vec()).collect::<Vec<_>>();
    let mut corpus = vec![
        encode(&args(&[b"SET", b"key", b"value"])),
        encode(&args(&[b"GET", b"key"])),
        encode(&args(&[b"PING"])),
        encode(&args(&[b"MSET", b"a", b"1", b"b", b"2", b"c", b"\r\n"])),
        encode(&args(&[b"SET", b"k", &[b'v'; 300]])),
        encode(&args(&[b"SET", b"k", &[b'z'; 17000]])),
        encode(
            &(0..12)
                .map(|i| format!("a{i}").into_bytes())
                .collect::<Vec<_>>(),
        ),
        encode(&args(&[b""])),
        b"*0\r\n".to_vec(),
        b"*-1\r\n".to_vec(),
        b"PING\r\n".to_vec(),
        b"PING\n".to_vec(),
        b"\r\n".to_vec(),
        b"set \"a b\" 'c\\'d' \"\\x41\\n\" plain\r\n".to_vec(),
        b"echo \"\\xff\\t\\\"q\\\"\"\n".to_vec(),
        b"  lots   of\tspace \x0b\r\n".to_vec(),
    ];
    let mut pipeline = Vec::new();
    for c in corpus.clone() {
        pipeline.extend_from_slice(&c);
    }
    corpus.push(pipeline);
    corpus
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(11) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 => {
                let i = rng.below(len + 1);
                let tok = TOKENS[rng.below(TOKENS.len())];
                input.splice(i..i, tok.iter().copied());
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                input.drain(i..i + n);
            }
            5 => input.truncate(rng.below(len + 1)),
            6 => {
                // Replace a run of digits (a count or a length) with a huge or edge value.
                let digit_starts: Vec<usize> = (0..len)
                    .filter(|&i| {
                        input[i].is_ascii_digit() && (i == 0 || !input[i - 1].is_ascii_digit())
                    })
                    .collect();
                if !digit_starts.is_empty() {
                    let s = digit_starts[rng.below(digit_starts.len())];
                    let e = (s..len)
                        .find(|&i| !input[i].is_ascii_digit())
                        .unwrap_or(len);
                    let rep = HUGE_DIGITS[rng.below(HUGE_DIGITS.len())];
                    input.splice(s..e, rep.iter().copied());
                }
            }
            7 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, chunk);
            }
            8 => {
                let other = &corpus[rng.below(corpus.len())];
                if rng.chance(50) {
                    input.extend_from_slice(other);
                } else {
                    let cut = rng.below(len + 1);
                    let from = rng.below(other.len() + 1);
                    input.truncate(cut);
                    input.extend_from_slice(&other[from..]);
                }
            }
            9 if rng.chance(3) => {
                // A long run, to reach the 64 KiB line limits.
                let byte = [b'a', b'1', b'\r', b' '][rng.below(4)];
                let n = 65_530 + rng.below(16);
                let at = rng.below(len + 1);
                input.splice(at..at, std::iter::repeat_n(byte, n));
            }
            _ => {}
        }
    }
    if input.len() > 256 * 1024 {
        input.truncate(256 * 1024);
    }
}

fn random_limits(rng: &mut Rng) -> ParseLimits {
    let mut limits = ParseLimits::default();
    if rng.chance(20) {
        limits.authenticated = false;
    }
    match rng.below(10) {
        0 => limits.max_bulk_len = rng.below(64) as u64,
        1 => limits.max_bulk_len = u64::MAX,
        _ => {}
    }
    match rng.below(10) {
        0 => limits.max_multibulk_len = rng.below(8) as u64,
        1 => limits.max_multibulk_len = u64::MAX,
        _ => {}
    }
    limits
}

/// What walking an input as a pipeline produced.
struct Walk {
    requests: usize,
    error: Option<String>,
}

/// Checks one input every way (panics on any disagreement).
fn check(rng: &mut Rng, limits: ParseLimits, buf: &[u8]) -> Walk {
    // 1. Whole buffer, fresh parser.
    let expected = reference(limits, buf);
    let whole = {
        let mut p = RequestParser::new(limits);
        outcome(&mut p, buf)
    };
    assert_eq!(
        whole, expected,
        "whole-buffer parse differs from the reference"
    );

    // 2. The same bytes arriving in random reads: every intermediate answer must equal a fresh
    //    parse of the bytes seen so far.
    let mut p = RequestParser::new(limits);
    let mut end = 0;
    loop {
        let max_step = if rng.chance(50) { 8 } else { 4096 };
        end = (end + 1 + rng.below(max_step)).min(buf.len());
        let got: Outcome = outcome(&mut p, &buf[..end]);
        assert_eq!(
            got,
            reference(limits, &buf[..end]),
            "resumed parse differs at {end}"
        );
        if got != Ok(None) || end == buf.len() {
            break;
        }
    }

    // 3. Walk the buffer as a pipeline with one parser.
    let mut p = RequestParser::new(limits);
    let mut off = 0;
    let mut walk = Walk {
        requests: 0,
        error: None,
    };
    while off < buf.len() {
        let got = outcome(&mut p, &buf[off..]);
        assert_eq!(
            got,
            reference(limits, &buf[off..]),
            "pipeline differs at offset {off}"
        );
        match got {
            Ok(Some((n, _))) => {
                walk.requests += 1;
                off += n;
            }
            Ok(None) => break,
            Err(e) => {
                walk.error = Some(e);
                break;
            }
        }
    }
    walk
}

fn hex(buf: &[u8]) -> String {
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn fuzz_request_parser() {
    let secs: f64 = std::env::var("RINGKV_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let seed: u64 = std::env::var("RINGKV_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    eprintln!("fuzz_request_parser: seed {seed} (replay with RINGKV_FUZZ_SEED={seed}), {secs}s");
    let mut rng = Rng(seed);
    let seeds = seed_corpus();
    let mut corpus = seeds.clone();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut iterations = 0u64;
    let mut errors = 0u64;
    let mut completes = 0u64;
    let mut error_kinds = std::collections::BTreeMap::new();

    // The seeds themselves must parse cleanly.
    for input in &corpus {
        let walk = check(&mut rng, ParseLimits::default(), input);
        assert!(walk.requests > 0 && walk.error.is_none());
    }

    while Instant::now() < deadline {
        for _ in 0..64 {
            // A third of the time mutate an original seed (so every request shape stays in
            // play), otherwise the shorter of two corpus entries (small inputs reach more
            // branches per second).
            let mut input = if rng.chance(33) {
                seeds[rng.below(seeds.len())].clone()
            } else {
                let a = rng.below(corpus.len());
                let b = rng.below(corpus.len());
                corpus[if corpus[a].len() <= corpus[b].len() {
                    a
                } else {
                    b
                }]
                .clone()
            };
            mutate(&mut rng, &mut input, &corpus);
            let limits = random_limits(&mut rng);
            let case_seed = rng.next();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let mut case_rng = Rng(case_seed | 1);
                check(&mut case_rng, limits, &input)
            }));
            match result {
                Ok(walk) => {
                    completes += u64::from(walk.requests > 0);
                    if let Some(e) = &walk.error {
                        errors += 1;
                        // Group "expected '$', got 'X'" regardless of X.
                        let kind = e.split(", got").next().unwrap_or(e).to_string();
                        *error_kinds.entry(kind).or_insert(0u64) += 1;
                    }
                    // Keep inputs that parse into requests, and a few that end in errors.
                    if walk.requests > 0 || rng.chance(10) {
                        if corpus.len() < 4096 {
                            corpus.push(input);
                        } else {
                            let i = rng.below(corpus.len());
                            corpus[i] = input;
                        }
                    }
                }
                Err(panic) => {
                    eprintln!(
                        "FAILING INPUT (hex, {} bytes): {}",
                        input.len(),
                        hex(&input)
                    );
                    eprintln!("limits: {limits:?}, seed {seed}");
                    std::panic::resume_unwind(panic);
                }
            }
            iterations += 1;
        }
    }
    eprintln!(
        "fuzz_request_parser: {iterations} inputs, {completes} with requests, {errors} errors, corpus {}",
        corpus.len()
    );
    for (kind, n) in &error_kinds {
        eprintln!("  {n:>8}  {kind}");
    }
    assert!(iterations > 0);
}
