//! Property tests for the request parser: encoded requests parse back to the same arguments no
//! matter how the bytes are split into reads, and arbitrary bytes never panic and always agree
//! with the reference model of Redis' parser.

mod common;

use common::{encode, encode_inline, outcome, parse_fresh, reference};
use proptest::prelude::*;
use ringkv_protocol::{ParseLimits, RequestParser};

fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*')],
            0..8
        ),
        proptest::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn args_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(arg_strategy(), 1..12)
}

/// Feeds `buf` to one parser in the given chunk boundaries, as a connection would (the buffer
/// is drained from the front when a request completes), and collects the requests.
fn feed_in_chunks(buf: &[u8], cuts: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (buf.len() + 1)).collect();
    cuts.push(buf.len());
    cuts.sort_unstable();
    let mut p = RequestParser::new(ParseLimits::default());
    let mut conn = Vec::new();
    let mut fed = 0;
    let mut reqs = Vec::new();
    for cut in cuts {
        conn.extend_from_slice(&buf[fed..cut]);
        fed = cut;
        while let Some(n) = p.parse(&conn).expect("valid input") {
            reqs.push(p.args(&conn).to_vec());
            conn.drain(..n);
        }
    }
    assert!(conn.is_empty(), "{} bytes left over", conn.len());
    reqs
}

proptest! {
    #[test]
    fn multibulk_round_trip(args in args_strategy(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let buf = encode(&args);
        prop_assert_eq!(parse_fresh(ParseLimits::default(), &buf), Ok(Some((buf.len(), args.clone()))));
        prop_assert_eq!(feed_in_chunks(&buf, &cuts), vec![args]);
    }

    #[test]
    fn pipelined_round_trip(
        reqs in proptest::collection::vec((args_strategy(), any::<bool>()), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut buf = Vec::new();
        for (args, inline) in &reqs {
            let line = encode_inline(args);
            // Unterminated inline input over 64 KiB is rejected (as in Redis), so only short
            // requests go inline.
            if *inline && line.len() < 60 * 1024 {
                buf.extend_from_slice(&line);
            } else {
                buf.extend_from_slice(&encode(args));
            }
        }
        let expected: Vec<Vec<Vec<u8>>> = reqs.into_iter().map(|(a, _)| a).collect();
        prop_assert_eq!(feed_in_chunks(&buf, &cuts), expected);
    }

    #[test]
    fn inline_round_trip(args in args_strategy()) {
        let buf = encode_inline(&args);
        prop_assert_eq!(parse_fresh(ParseLimits::default(), &buf), Ok(Some((buf.len(), args))));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        buf in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(
                prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'1'), Just(b'-'), Just(b'"'), Just(b'\''), Just(b'\\'), Just(b' '), any::<u8>()],
                0..200,
            ),
        ],
        authenticated in any::<bool>(),
        cut in any::<usize>(),
    ) {
        let limits = ParseLimits { authenticated, ..ParseLimits::default() };
        let whole = parse_fresh(limits, &buf);
        // Err, need more input, or a request of > 0 bytes (checked inside `outcome`) — and
        // exactly what Redis would do.
        prop_assert_eq!(&whole, &reference(limits, &buf));
        // Resuming after a prefix gives the same answer as parsing everything at once.
        let cut = cut % (buf.len() + 1);
        let mut p = RequestParser::new(limits);
        let first = outcome(&mut p, &buf[..cut]);
        prop_assert_eq!(&first, &reference(limits, &buf[..cut]));
        if first == Ok(None) {
            prop_assert_eq!(outcome(&mut p, &buf), whole);
        }
    }

    #[test]
    fn valid_prefix_with_garbage(args in args_strategy(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = encode(&args);
        let n = buf.len();
        buf.extend_from_slice(&tail);
        prop_assert_eq!(parse_fresh(ParseLimits::default(), &buf), Ok(Some((n, args))));
    }
}
