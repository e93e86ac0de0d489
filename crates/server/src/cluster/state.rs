//! A replica's versioned keys: how a key's versions (a dotted version vector with siblings) are
//! kept next to its value, stamped after a local write, exported for shipping, and merged with a
//! state received from another replica.
//!
//! Layout: database 0 holds each key's *winning* value (the deterministic last-writer-wins choice
//! among siblings), so every ordinary read command runs unchanged on it. A hidden extra database
//! (`meta_db`, one past the configured `databases`, not selectable by clients) holds, under the
//! same key, the encoded [`Versioned`]: the causal context and one sibling per concurrent
//! version. The winner's sibling carries an empty value (meaning "the value in database 0");
//! other siblings carry their value in the single-value encoding (`ringkv_persist::encode_value`,
//! expiry included); a tombstone (`None`) marks a delete. Both live in the ordinary keyspace, so
//! the AOF, snapshots, memory accounting and eviction cover versions with no extra machinery.
//!
//! Invariants kept by [`write_back`]: at most one sibling is "live", it is the winner, and
//! database 0 holds exactly the winner's value (nothing when the winner is a tombstone). A
//! tombstone's metadata expires after `cluster-tombstone-grace`; a value's metadata expires with
//! the value. Every change is logged to the AOF in replayable form (RESTORE/DEL for the value,
//! SET for the metadata).

use bytes::Bytes;
use ringkv_cluster::{
    decode_versioned, encode_versioned, NodeId, Sibling, VersionVector, Versioned,
};
use ringkv_engine::{Store, Ttl, Value, ValueRef};
use serde::{Deserialize, Serialize};

/// The database clients use in cluster mode.
pub const DATA_DB: usize = 0;

/// A key's versions as shipped between replicas: every sibling's value materialised in the
/// single-value encoding (`None` = tombstone).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyState {
    pub key: Bytes,
    /// `Versioned<Option<Bytes>>` in the cluster crate's binary encoding.
    pub versions: Bytes,
}

/// What a merge did to the local replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyOutcome {
    /// The local versions changed (the remote state carried something new).
    pub changed: bool,
    /// Siblings dropped by the cap.
    pub siblings_dropped: usize,
}

/// Limits and identity for local version bookkeeping.
#[derive(Debug, Clone, Copy)]
pub struct StateConfig {
    pub node: NodeId,
    pub meta_db: usize,
    pub tombstone_grace_ms: i64,
    pub max_siblings: usize,
}

type Local = Versioned<Option<Bytes>>;

fn is_live(v: &Option<Bytes>) -> bool {
    matches!(v, Some(b) if b.is_empty())
}

/// The key's stored versions (empty when it has none).
pub fn load(store: &mut Store, cfg: &StateConfig, key: &[u8]) -> Local {
    let mut db = store.db(cfg.meta_db);
    let Some(raw) = db.peek(key).and_then(|e| meta_bytes(e.value())) else {
        return Local::new();
    };
    match decode_versioned(raw) {
        Ok(v) => v,
        Err(e) => {
            // Only this process writes the metadata database; a value that does not decode
            // means damage, and the key is then treated as unversioned (replicas repair it).
            tracing::warn!(key = %String::from_utf8_lossy(key), error = %e, "unreadable version metadata");
            Local::new()
        }
    }
}

/// The bytes of a metadata entry: the canonical encoding of a key's versions, so equal bytes on
/// two replicas mean equal versions (None for an entry that is not a string).
pub fn meta_bytes(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Str(raw) => Some(raw),
        ValueRef::Obj(Value::Str(raw)) => Some(raw.as_slice()),
        _ => None,
    }
}

/// Whether encoded metadata holds deletes only (every sibling a tombstone); unreadable
/// metadata counts as not.
pub fn is_deletes_only(raw: &[u8]) -> bool {
    decode_versioned(raw).is_ok_and(|v: Local| {
        !v.siblings().is_empty() && v.siblings().iter().all(|s| s.value.is_none())
    })
}

/// The causal context of each key.
pub fn contexts(store: &mut Store, cfg: &StateConfig, keys: &[Bytes]) -> Vec<VersionVector> {
    keys.iter()
        .map(|k| load(store, cfg, k).context().clone())
        .collect()
}

/// The key's causal context, encoded: what a digest request answers for it and what WATCH
/// records and later compares.
pub fn encoded_context(store: &mut Store, cfg: &StateConfig, key: &[u8]) -> Bytes {
    Bytes::from(ringkv_cluster::encode_context(
        load(store, cfg, key).context(),
    ))
}

/// The encoded value of database 0's `key`, expiry included (None when absent).
fn encode_live(store: &mut Store, key: &[u8]) -> Option<Bytes> {
    let mut db = store.db(DATA_DB);
    let e = db.peek(key)?;
    Some(Bytes::from(ringkv_persist::encode_value(
        e.value(),
        e.expire(),
    )))
}

/// The key's versions with every value materialised, for shipping.
pub fn export(store: &mut Store, cfg: &StateConfig, key: &[u8]) -> KeyState {
    let mut v = load(store, cfg, key);
    materialise_live(store, key, &mut v);
    KeyState {
        key: Bytes::copy_from_slice(key),
        versions: Bytes::from(encode_versioned(&v)),
    }
}

/// Replaces the live marker with the encoded value from database 0 (a tombstone if the value
/// expired meanwhile).
fn materialise_live(store: &mut Store, key: &[u8], v: &mut Local) {
    if v.siblings().iter().any(|s| is_live(&s.value)) {
        let live = encode_live(store, key);
        map_siblings(v, |s| {
            if is_live(&s.value) {
                s.value = live.clone();
            }
        });
    }
}

/// Records a local write of `key` (already executed on database 0): a new version at this node
/// that supersedes every version this replica knows, so ordinary writes never create siblings
/// here. Returns the state to ship to the other replicas.
pub fn stamp_write(store: &mut Store, cfg: &StateConfig, key: &[u8], now_ms: i64) -> KeyState {
    let mut v = load(store, cfg, key);
    let ctx = v.context().clone();
    let exists = store.db(DATA_DB).peek(key).is_some();
    let value = if exists { Some(Bytes::new()) } else { None };
    v.update(&ctx, cfg.node, now_ms.max(0) as u64, value);
    save_meta(store, cfg, key, &v, now_ms);
    let mut shipped = v;
    materialise_live(store, key, &mut shipped);
    KeyState {
        key: Bytes::copy_from_slice(key),
        versions: Bytes::from(encode_versioned(&shipped)),
    }
}

/// A write with a client-supplied causal context (VSET): supersedes exactly the versions in
/// `ctx`; versions it has not seen stay as siblings. `value` is the encoded new value.
pub fn write_with_context(
    store: &mut Store,
    cfg: &StateConfig,
    key: &[u8],
    ctx: &VersionVector,
    value: Option<Bytes>,
    now_ms: i64,
) -> (KeyState, usize) {
    let mut v = load(store, cfg, key);
    materialise_live(store, key, &mut v);
    v.update(ctx, cfg.node, now_ms.max(0) as u64, value);
    let dropped = v.cap_siblings(cfg.max_siblings);
    let shipped = KeyState {
        key: Bytes::copy_from_slice(key),
        versions: Bytes::from(encode_versioned(&v)),
    };
    write_back(store, cfg, key, v, now_ms);
    (shipped, dropped)
}

/// Merges a state received from another replica into the local one.
pub fn apply(
    store: &mut Store,
    cfg: &StateConfig,
    state: &KeyState,
    now_ms: i64,
) -> Result<ApplyOutcome, String> {
    let remote = decode_versioned(&state.versions).map_err(|e| e.to_string())?;
    if remote.siblings().iter().any(|s| is_live(&s.value)) {
        return Err("a shipped state must carry its values".into());
    }
    let key = &state.key[..];
    let local = load(store, cfg, key);
    let mut merged = local.clone();
    merged.merge(&remote);
    let dropped = merged.cap_siblings(cfg.max_siblings);
    let outcome = ApplyOutcome {
        changed: merged.context() != local.context()
            || merged.siblings().len() != local.siblings().len(),
        siblings_dropped: dropped,
    };
    if !outcome.changed {
        return Ok(outcome);
    }
    // The local live value may survive as a loser: keep its bytes before database 0 changes.
    let winner_is_live = merged.winner().is_some_and(|w| is_live(&w.value));
    if !winner_is_live {
        materialise_live(store, key, &mut merged);
    }
    write_back(store, cfg, key, merged, now_ms);
    Ok(outcome)
}

/// Makes database 0 hold the winner's value and stores the metadata (see the module invariants).
fn write_back(store: &mut Store, cfg: &StateConfig, key: &[u8], mut v: Local, now_ms: i64) {
    let winner_value = v.winner().map(|w| w.value.clone());
    match winner_value {
        Some(Some(bytes)) if bytes.is_empty() => {} // already in database 0
        Some(Some(bytes)) => match ringkv_persist::decode_value(&bytes) {
            Ok((value, expire)) if !matches!(expire, Some(at) if at <= now_ms) => {
                // Logged as RESTORE (the DUMP payload without expiry, the expiry as ABSTTL),
                // built before the value moves into the keyspace.
                let payload = store
                    .common
                    .oplog
                    .is_enabled()
                    .then(|| ringkv_commands::dump::payload(ValueRef::Obj(&value)));
                store
                    .db(DATA_DB)
                    .set_value(key, value, expire.map_or(Ttl::Persist, Ttl::At));
                if let Some(payload) = payload {
                    let ttl = expire.unwrap_or(0).to_string();
                    let restore: [&[u8]; 6] = [
                        b"RESTORE",
                        key,
                        ttl.as_bytes(),
                        &payload,
                        b"REPLACE",
                        b"ABSTTL",
                    ];
                    log(store, DATA_DB, &restore);
                }
            }
            _ => remove_value(store, key),
        },
        Some(None) | None => remove_value(store, key),
    }
    if let Some(w) = v.winner().map(|w| w.dot) {
        map_siblings(&mut v, |s| {
            if s.dot == w && s.value.is_some() {
                s.value = Some(Bytes::new());
            }
        });
    }
    save_meta(store, cfg, key, &v, now_ms);
}

/// Changes sibling values in place (dots and context untouched, so the invariants hold).
fn map_siblings(v: &mut Local, mut f: impl FnMut(&mut Sibling<Option<Bytes>>)) {
    let mut siblings = v.siblings().to_vec();
    siblings.iter_mut().for_each(&mut f);
    if let Ok(changed) = Versioned::from_parts(v.context().clone(), siblings) {
        *v = changed;
    }
}

/// Removes a key's value and versions from this replica, as if it had never held it (its
/// partition now belongs to other nodes). Logged to the AOF.
pub fn forget(store: &mut Store, cfg: &StateConfig, key: &[u8]) {
    remove_value(store, key);
    if store.db(cfg.meta_db).remove(key) {
        log(store, cfg.meta_db, &[b"DEL", key]);
    }
}

fn remove_value(store: &mut Store, key: &[u8]) {
    if store.db(DATA_DB).remove(key) {
        log(store, DATA_DB, &[b"DEL", key]);
    }
}

/// Stores the metadata with its expiry: a lone tombstone lasts the grace period, a lone value's
/// metadata expires with the value, siblings keep theirs until resolved.
fn save_meta(store: &mut Store, cfg: &StateConfig, key: &[u8], v: &Local, now_ms: i64) {
    let encoded = encode_versioned(v);
    let expire = match v.siblings() {
        [only] => match &only.value {
            None => Some(now_ms.saturating_add(cfg.tombstone_grace_ms)),
            Some(b) if b.is_empty() => store.db(DATA_DB).peek(key).and_then(|e| e.expire()),
            Some(b) => ringkv_persist::decode_value(b).ok().and_then(|(_, e)| e),
        },
        _ => None,
    };
    let mut db = store.db(cfg.meta_db);
    db.set_str(key, &encoded, expire.map_or(Ttl::Persist, Ttl::At));
    match expire {
        Some(at) => {
            let at = at.to_string();
            log(
                store,
                cfg.meta_db,
                &[b"SET", key, &encoded, b"PXAT", at.as_bytes()],
            );
        }
        None => log(store, cfg.meta_db, &[b"SET", key, &encoded]),
    }
}

/// Appends a replayable command for database `db` to the AOF's log, if there is one.
pub(super) fn log(store: &mut Store, db: usize, parts: &[&[u8]]) {
    if store.common.oplog.is_enabled() {
        store.common.oplog.append(db, parts.iter().copied());
    }
}
