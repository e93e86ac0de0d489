//! Bitmap commands (Redis bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, over ordinary string values (bit 0 is the most significant bit of byte 0).
//!
//! Writes edit the string in place through `DbRef::string_mut`, so a bitmap that grows bit by bit
//! stays amortised O(1). Every offset is validated against proto-max-bulk-len before anything grows,
//! so a client cannot make the server allocate more than that limit (512 MB, 2^32 bits, by default).
//! Range semantics (negative indexes, BYTE/BIT units, BITPOS's "zero past the end") and error texts
//! follow Redis 7.2, where BITCOUNT/BITPOS argument errors are reported even for a missing key.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX, WRONG_TYPE};
use crate::parse::{int_arg, is, parse_i64};
use crate::strings::{max_string_len, reserve_for, zeroed};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{DbRef, Ttl, Value, ValueRef};
use ringkv_protocol::Args;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, flags::WRITE | flags::DENYOOM, setbit)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc(
            "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
            "2.2.0",
            "O(1)",
        )
        .syntax("key offset value"),
    CommandSpec::new("getbit", 3, flags::READONLY | flags::FAST, getbit)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc("Returns a bit value by offset.", "2.2.0", "O(1)")
        .syntax("key offset"),
    CommandSpec::new("bitcount", -2, flags::READONLY, bitcount)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc(
            "Counts the number of set bits (population counting) in a string.",
            "2.6.0",
            "O(N)",
        )
        .syntax("key [start end [BYTE | BIT]]"),
    CommandSpec::new("bitpos", -3, flags::READONLY, bitpos)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc(
            "Finds the first set (1) or clear (0) bit in a string.",
            "2.8.7",
            "O(N)",
        )
        .syntax("key bit [start [end [BYTE | BIT]]]"),
    CommandSpec::new("bitop", -4, flags::WRITE | flags::DENYOOM, bitop)
        .keys(2, -1, 1)
        .group("bitmap")
        .doc(
            "Performs bitwise operations on multiple strings, and stores the result.",
            "2.6.0",
            "O(N)",
        )
        .syntax("AND | OR | XOR | NOT destkey key [key ...]"),
    CommandSpec::new("bitfield", -2, flags::WRITE | flags::DENYOOM, bitfield)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc(
            "Performs arbitrary bitfield integer operations on strings.",
            "3.2.0",
            "O(1) for each subcommand specified",
        )
        .syntax("key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | INCRBY encoding offset increment ...]"),
    CommandSpec::new("bitfield_ro", -2, flags::READONLY | flags::FAST, bitfield_ro)
        .keys(1, 1, 1)
        .group("bitmap")
        .doc(
            "Performs arbitrary read-only bitfield integer operations on strings.",
            "6.0.0",
            "O(1) for each subcommand specified",
        )
        .syntax("key [GET encoding offset [GET encoding offset ...]]"),
];

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

/// Redis getBitOffsetFromArgument: a non-negative bit offset whose byte lies below
/// proto-max-bulk-len. With `hash_bits` > 0 a "#N" offset means N * hash_bits (BITFIELD).
fn bit_offset(arg: &[u8], hash_bits: u32, max_bulk: u64) -> Result<u64, CmdError> {
    let err = || CmdError::msg(BIT_OFFSET_ERR);
    let (hash, digits) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut v = parse_i64(digits).ok_or_else(err)?;
    if hash {
        v = v.checked_mul(hash_bits as i64).ok_or_else(err)?;
    }
    if v < 0 || (v as u64 >> 3) >= max_bulk {
        return Err(err());
    }
    Ok(v as u64)
}

/// Runs `f` on the key's string grown (with zero bytes) to at least `min_len` bytes, creating the
/// key (without TTL) if it is missing. The caller has bounded `min_len` by proto-max-bulk-len.
/// `f` is told whether the key was created or grown.
fn with_bitmap_mut<R>(
    db: &mut DbRef<'_>,
    key: &[u8],
    min_len: usize,
    f: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<R, CmdError> {
    match db.string_mut(key)? {
        Some(s) => {
            let grown = s.len() < min_len;
            if grown {
                reserve_for(s, min_len)?;
                s.resize(min_len, 0);
            }
            Ok(f(s, grown))
        }
        None => {
            let mut buf = zeroed(min_len)?;
            let r = f(&mut buf, true);
            db.set_value(key, Value::Str(buf), Ttl::Persist);
            Ok(r)
        }
    }
}

fn get_bit(s: &[u8], bit: u64) -> bool {
    match s.get((bit >> 3) as usize) {
        Some(&b) => b & (0x80 >> (bit & 7)) != 0,
        None => false,
    }
}

fn setbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let max_bulk = max_string_len(ctx);
    let offset = bit_offset(args.arg(2), 0, max_bulk)?;
    let bit_err = || CmdError::msg("ERR bit is not an integer or out of range");
    let on = parse_i64(args.arg(3)).ok_or_else(bit_err)?;
    if on & !1 != 0 {
        return Err(bit_err());
    }
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let mut db = ctx.store.db(ctx.client.db);
    let (old, grown) = with_bitmap_mut(&mut db, args.arg(1), byte + 1, |s, grown| {
        let old = s[byte] & mask != 0;
        if on == 1 {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
        (old, grown)
    })?;
    // Like Redis, only a write that changed something raises the event.
    if grown || old != (on == 1) {
        db.notify(notify::STRING, "setbit", args.arg(1));
    }
    ctx.out.integer(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let offset = bit_offset(args.arg(2), 0, max_string_len(ctx))?;
    let mut db = ctx.store.db(ctx.client.db);
    let bit = match db.get(args.arg(1)) {
        None => false,
        Some(ValueRef::Str(s)) => get_bit(s, offset),
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
    };
    ctx.out.integer(bit as i64);
    Ok(())
}

/// Normalises a BITCOUNT/BITPOS range (Redis's rules: negative from the end, clamped) in units of
/// bytes or bits over a string of `len` bytes, and returns the inclusive bit range, or None when
/// it is empty.
fn bit_range(start: i64, end: i64, len: usize, bit_unit: bool) -> Option<(u64, u64)> {
    let total = if bit_unit { len as i64 * 8 } else { len as i64 };
    // total <= 2^62, so adding a negative index cannot overflow.
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
    if bit_unit {
        Some((start as u64, end as u64))
    } else {
        Some((start as u64 * 8, end as u64 * 8 + 7))
    }
}

fn parse_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

/// Set bits in the inclusive bit range [from, to] of `s` (which covers it).
fn count_bits(s: &[u8], from: u64, to: u64) -> u64 {
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let head = 0xFFu8 >> (from & 7);
    let tail = 0xFFu8 << (7 - (to & 7));
    if fb == tb {
        return (s[fb] & head & tail).count_ones() as u64;
    }
    let mut n = (s[fb] & head).count_ones() as u64 + (s[tb] & tail).count_ones() as u64;
    let middle = &s[fb + 1..tb];
    let mut chunks = middle.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        n += u64::from_ne_bytes(w).count_ones() as u64;
    }
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// The first bit equal to `bit` in the inclusive bit range [from, to] of `s`.
fn find_bit(s: &[u8], bit: bool, from: u64, to: u64) -> Option<u64> {
    let skip = if bit { 0x00u8 } else { 0xFF };
    let (fb, tb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut i = fb;
    while i <= tb {
        // Skip whole uninteresting words in the middle of the range.
        if i > fb && i + 8 <= tb {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[i..i + 8]);
            if w == [skip; 8] {
                i += 8;
                continue;
            }
        }
        if s[i] != skip {
            let lo = if i == fb { from & 7 } else { 0 };
            let hi = if i == tb { to & 7 } else { 7 };
            for k in lo..=hi {
                if (s[i] & (0x80 >> k) != 0) == bit {
                    return Some(i as u64 * 8 + k);
                }
            }
        }
        i += 1;
    }
    None
}

fn bitcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let start = int_arg(args.arg(2))?;
            let end = int_arg(args.arg(3))?;
            let unit = match args.get(4) {
                Some(u) => parse_unit(u)?,
                None => false,
            };
            Some((start, end, unit))
        }
        _ => return Err(SYNTAX),
    };
    let mut db = ctx.store.db(ctx.client.db);
    let s = match db.get(args.arg(1)) {
        None => {
            ctx.out.integer(0);
            return Ok(());
        }
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        Some(ValueRef::Str(s)) => s,
    };
    let bits = match range {
        None => bit_range(0, -1, s.len(), false),
        Some((start, end, unit)) => {
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_range(start, end, s.len(), unit)
            }
        }
    };
    let n = bits.map_or(0, |(from, to)| count_bits(s, from, to));
    ctx.out.integer(n as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bit = int_arg(args.arg(2))?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::msg("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let mut start = 0i64;
    let mut end = -1i64;
    let mut unit = false;
    let mut end_given = false;
    match args.len() {
        3 => {}
        4..=6 => {
            start = int_arg(args.arg(3))?;
            if let Some(u) = args.get(5) {
                unit = parse_unit(u)?;
            }
            if let Some(e) = args.get(4) {
                end = int_arg(e)?;
                end_given = true;
            }
        }
        _ => return Err(SYNTAX),
    }
    let mut db = ctx.store.db(ctx.client.db);
    let s = match db.get(args.arg(1)) {
        // A missing key is an endless run of zeros.
        None => {
            ctx.out.integer(if bit { -1 } else { 0 });
            return Ok(());
        }
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        Some(ValueRef::Str(s)) => s,
    };
    let pos = match bit_range(start, end, s.len(), unit) {
        // An empty range contains neither a 0 nor a 1.
        None => -1,
        Some((from, to)) => match find_bit(s, bit, from, to) {
            Some(p) => p as i64,
            // Looking for a 0 without an explicit end: the string is taken as zero padded on
            // the right, so the answer is the first bit past the range.
            None if !bit && !end_given => (to + 1) as i64,
            None => -1,
        },
    };
    ctx.out.integer(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.arg(1);
    let op = if is(name, "AND") {
        BitOp::And
    } else if is(name, "OR") {
        BitOp::Or
    } else if is(name, "XOR") {
        BitOp::Xor
    } else if is(name, "NOT") {
        BitOp::Not
    } else {
        return Err(SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut db = ctx.store.db(ctx.client.db);
    // Folding the sources one at a time keeps memory at the result's size. A missing key is an
    // empty string, and every source is zero-padded to the longest one.
    let mut res: Vec<u8> = Vec::new();
    for (n, key) in args.iter().skip(3).enumerate() {
        let src: &[u8] = match db.get(key) {
            None => b"",
            Some(ValueRef::Str(s)) => s,
            Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        };
        if n == 0 {
            res = match op {
                BitOp::Not => src.iter().map(|b| !b).collect(),
                _ => src.to_vec(),
            };
            continue;
        }
        if res.len() < src.len() {
            res.resize(src.len(), 0);
        }
        match op {
            BitOp::And => {
                for (i, r) in res.iter_mut().enumerate() {
                    *r &= src.get(i).copied().unwrap_or(0);
                }
            }
            BitOp::Or => res.iter_mut().zip(src).for_each(|(r, s)| *r |= s),
            BitOp::Xor => res.iter_mut().zip(src).for_each(|(r, s)| *r ^= s),
            BitOp::Not => {}
        }
    }
    let dest = args.arg(2);
    let len = res.len();
    if len == 0 {
        if db.remove(dest) {
            db.notify(notify::GENERIC, "del", dest);
        }
    } else {
        db.set_value(dest, Value::Str(res), Ttl::Persist);
        db.notify(notify::STRING, "set", dest);
    }
    ctx.out.integer(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BITFIELD.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// Redis getBitfieldTypeFromArgument: i1..i64 or u1..u63 (lower-case prefix only, as in Redis).
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = || {
        CmdError::msg(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err()),
    };
    let bits = parse_i64(&arg[1..]).ok_or_else(err)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(err());
    }
    Ok((signed, bits as u32))
}

/// Reads `bits` bits at bit `offset` as an unsigned number; bytes past the end read as zero.
fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for k in 0..bits as u64 {
        v = (v << 1) | get_bit(s, offset + k) as u64;
    }
    v
}

/// Writes the low `bits` bits of `v` at bit `offset` (the buffer covers the field).
fn write_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for k in 0..bits as u64 {
        let bit = (v >> (bits as u64 - 1 - k)) & 1 == 1;
        let pos = offset + k;
        let mask = 0x80u8 >> (pos & 7);
        let byte = &mut s[(pos >> 3) as usize];
        if bit {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits == 64 {
        v as i64
    } else {
        let shift = 64 - bits;
        ((v << shift) as i64) >> shift
    }
}

/// Redis checkUnsignedBitfieldOverflow, including its wrapping arithmetic: whether `value + incr`
/// overflows a `bits`-wide unsigned field, and the value to store instead (WRAP/SAT).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max: u64 = (1u64 << bits) - 1; // bits <= 63
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < minincr {
        Some(if ow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        None
    }
}

/// Redis checkSignedBitfieldOverflow, with the same wrapping intermediate values (which decide,
/// for example, that SAT of SET i38 to i64::MIN saturates to the maximum, as Redis does).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if ow == Overflow::Sat { max } else { wrapped() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if ow == Overflow::Sat { min } else { wrapped() })
    } else {
        None
    }
}

/// One SET or INCRBY on a field whose current raw bits are `old_raw`: Some((bits to store,
/// number to reply)) or None when it overflows under FAIL (nothing is written).
fn field_write(f: &Field, old_raw: u64) -> Option<(u64, i64)> {
    let incr = f.op == FieldOp::IncrBy;
    if f.signed {
        let old = sign_extend(old_raw, f.bits);
        let (value, by) = if incr { (old, f.value) } else { (f.value, 0) };
        let new = match signed_overflow(value, by, f.bits, f.overflow) {
            Some(_) if f.overflow == Overflow::Fail => return None,
            Some(limited) => limited,
            None => value.wrapping_add(by),
        };
        Some((new as u64, if incr { new } else { old }))
    } else {
        let (value, by) = if incr {
            (old_raw, f.value)
        } else {
            (f.value as u64, 0)
        };
        let new = match unsigned_overflow(value, by, f.bits, f.overflow) {
            Some(_) if f.overflow == Overflow::Fail => return None,
            Some(limited) => limited,
            None => value.wrapping_add(by as u64),
        };
        Some((new, if incr { new as i64 } else { old_raw as i64 }))
    }
}

fn bitfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ro_command: bool) -> CmdResult {
    let max_bulk = max_string_len(ctx);
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut readonly = true;
    // Highest bit any write touches: the string grows to cover it before the ops run.
    let mut highest_write: u64 = 0;
    let mut j = 2;
    while j < args.len() {
        let sub = args.arg(j);
        let remaining = args.len() - j - 1;
        let op = if is(sub, "GET") && remaining >= 2 {
            FieldOp::Get
        } else if is(sub, "SET") && remaining >= 3 {
            FieldOp::Set
        } else if is(sub, "INCRBY") && remaining >= 3 {
            FieldOp::IncrBy
        } else if is(sub, "OVERFLOW") && remaining >= 1 {
            let kind = args.arg(j + 1);
            overflow = if is(kind, "WRAP") {
                Overflow::Wrap
            } else if is(kind, "SAT") {
                Overflow::Sat
            } else if is(kind, "FAIL") {
                Overflow::Fail
            } else {
                return Err(CmdError::msg("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX);
        };
        let (signed, bits) = field_type(args.arg(j + 1))?;
        let offset = bit_offset(args.arg(j + 2), bits, max_bulk)?;
        let mut value = 0;
        if op != FieldOp::Get {
            readonly = false;
            highest_write = highest_write.max(offset + bits as u64 - 1);
            value = int_arg(args.arg(j + 3))?;
        }
        ops.push(Field {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }

    let mut db = ctx.store.db(ctx.client.db);
    if readonly {
        let s: &[u8] = match db.get(args.arg(1)) {
            None => b"",
            Some(ValueRef::Str(s)) => s,
            Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        };
        ctx.out.array(ops.len());
        for f in &ops {
            let raw = read_field(s, f.offset, f.bits);
            let v = if f.signed {
                sign_extend(raw, f.bits)
            } else {
                raw as i64
            };
            ctx.out.integer(v);
        }
        return Ok(());
    }
    if ro_command {
        return Err(CmdError::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    // highest_write >> 3 is at most proto-max-bulk-len (offsets were bounded above).
    let need = (highest_write >> 3) as usize + 1;
    let out = &mut *ctx.out;
    let changed = with_bitmap_mut(&mut db, args.arg(1), need, |s, grown| {
        let mut changed = grown;
        out.array(ops.len());
        for f in &ops {
            let old_raw = read_field(s, f.offset, f.bits);
            if f.op == FieldOp::Get {
                let v = if f.signed {
                    sign_extend(old_raw, f.bits)
                } else {
                    old_raw as i64
                };
                out.integer(v);
                continue;
            }
            match field_write(f, old_raw) {
                None => out.null(),
                Some((raw, reply)) => {
                    out.integer(reply);
                    let mask = if f.bits == 64 {
                        u64::MAX
                    } else {
                        (1u64 << f.bits) - 1
                    };
                    changed |= raw & mask != old_raw;
                    write_field(s, f.offset, f.bits, raw);
                }
            }
        }
        changed
    })?;
    if changed {
        db.notify(notify::STRING, "setbit", args.arg(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_overflow_rules() {
        // u8 SET -1: the bit pattern is huge, so it overflows upwards.
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(u64::MAX, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, -3, 8, Overflow::Fail), None);
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), Some(-128));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        // Redis's wrapping intermediate: SAT of i64::MIN into i38 gives the maximum.
        assert_eq!(
            signed_overflow(i64::MIN, 0, 38, Overflow::Sat),
            Some((1 << 37) - 1)
        );
        assert_eq!(sign_extend(0x80, 8), -128);
        assert_eq!(sign_extend(u64::MAX, 64), -1);
    }

    #[test]
    fn bit_helpers() {
        let s = [0b1010_0000u8, 0xFF, 0x01];
        assert_eq!(count_bits(&s, 0, 23), 11);
        assert_eq!(count_bits(&s, 1, 9), 3);
        assert_eq!(find_bit(&s, true, 1, 23), Some(2));
        assert_eq!(find_bit(&s, false, 8, 15), None);
        assert_eq!(find_bit(&s, true, 16, 23), Some(23));
        assert_eq!(read_field(&s, 0, 4), 0b1010);
        let mut m = [0u8; 2];
        write_field(&mut m, 4, 8, 0xAB);
        assert_eq!(m, [0x0A, 0xB0]);
    }
}
