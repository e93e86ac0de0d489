//! DUMP and RESTORE: a key's value as an opaque, checksummed payload and back.
//!
//! The payload is ringkv's own single-value encoding (the snapshot record format, see
//! `ringkv_persist::encode_value`) followed, as in Redis, by a two-byte format version and a
//! CRC-64 of everything before it; it is not Redis's RDB encoding, so payloads move between
//! ringkv servers only. RESTORE checks version and checksum before decoding, and decoding
//! rejects any damaged payload, so no input can produce a half-built value. The cluster also
//! logs replicated key states to the AOF as `RESTORE ... ABSTTL REPLACE`.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::parse::{int_arg, is};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{Ttl, Value, ValueRef};
use ringkv_protocol::Args;

/// Format version appended to every payload (bumped when the value encoding changes).
pub const DUMP_FORMAT_VERSION: u16 = 1;

const BAD_PAYLOAD: CmdError = CmdError::Static("ERR DUMP payload version or checksum are wrong");
const BUSY_KEY: CmdError = CmdError::Static("BUSYKEY Target key name already exists.");
const BAD_TTL: CmdError = CmdError::Static("ERR Invalid TTL value, must be >= 0");

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, flags::READONLY, dump)
        .keys(1, 1, 1)
        .doc(
            "Returns a serialized representation of the value stored at a key.",
            "2.6.0",
            "O(1) to access the key and additional O(N*M) to serialize it.",
        )
        .syntax("key"),
    CommandSpec::new("restore", -4, flags::WRITE | flags::DENYOOM, restore)
        .keys(1, 1, 1)
        .doc(
            "Creates a key from the serialized representation of a value.",
            "2.6.0",
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value.",
        )
        .syntax("key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
];

/// The DUMP payload of a value (expiry not included, as in Redis).
pub fn payload(value: ValueRef<'_>) -> Vec<u8> {
    let mut out = ringkv_persist::encode_value(value, None);
    out.extend_from_slice(&DUMP_FORMAT_VERSION.to_le_bytes());
    let crc = ringkv_persist::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks and decodes a DUMP payload.
pub fn decode_payload(payload: &[u8]) -> Result<Value, CmdError> {
    if payload.len() < 10 {
        return Err(BAD_PAYLOAD);
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let (value, version) = body.split_at(body.len() - 2);
    let crc_ok = crc
        .try_into()
        .map(u64::from_le_bytes)
        .is_ok_and(|c| c == ringkv_persist::crc64(body));
    if !crc_ok || version != DUMP_FORMAT_VERSION.to_le_bytes() {
        return Err(BAD_PAYLOAD);
    }
    match ringkv_persist::decode_value(value) {
        Ok((v, _)) if !v.is_empty_collection() => Ok(v),
        _ => Err(CmdError::Static("ERR Bad data format")),
    }
}

fn dump(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    match db.get(args.arg(1)) {
        Some(v) => {
            let p = payload(v);
            ctx.out.bulk(&p);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let ttl = int_arg(args.arg(2))?;
    let (mut replace, mut absttl) = (false, false);
    let mut i = 4;
    while i < args.len() {
        let opt = args.arg(i);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "absttl") {
            absttl = true;
        } else if (is(opt, "idletime") || is(opt, "freq")) && i + 1 < args.len() {
            // Access statistics only guide eviction; a restored key starts fresh, so the
            // values are validated as Redis does and not applied.
            let n = int_arg(args.arg(i + 1))?;
            if n < 0 || (is(opt, "freq") && n > 255) {
                return Err(if is(opt, "freq") {
                    CmdError::Static("ERR Invalid FREQ value, must be >= 0 and <= 255")
                } else {
                    CmdError::Static("ERR Invalid IDLETIME value, must be >= 0")
                });
            }
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if ttl < 0 {
        return Err(BAD_TTL);
    }
    if !replace && ctx.db().exists(key) {
        return Err(BUSY_KEY);
    }
    let value = decode_payload(args.arg(3))?;
    let now = ctx.now_ms();
    let expire_at = match (ttl, absttl) {
        (0, _) => None,
        (t, true) => Some(t),
        (t, false) => Some(now.saturating_add(t)),
    };
    let mut db = ctx.db();
    if matches!(expire_at, Some(at) if at <= now) {
        // Already expired: the key is deleted (if replaced) and not created, as in Redis.
        if db.remove(key) {
            db.notify(notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    db.remove(key);
    let ttl = expire_at.map_or(Ttl::Persist, Ttl::At);
    db.set_value(key, value, ttl);
    db.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
