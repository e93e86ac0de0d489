//! Compact keyspace entries: one heap allocation holds the chain link, the access clock, the flags,
//! the optional expiry time, the key and (for short strings) the value itself.
//!
//! Why: in cache-like workloads (millions of small keys) per-key overhead dominates memory. Redis
//! spends about 105 bytes on a 16-byte key with a 16-byte value (dictEntry + robj + two sds headers +
//! bucket). Packing everything into a single allocation with varint lengths brings that to one
//! 48-byte allocation plus an 8-byte bucket slot.
//!
//! Layout (byte offsets; the allocation is 8-byte aligned so `next` is an aligned pointer):
//! ```text
//!  0   next     *mut u8   next entry in the same dict bucket (null ends the chain); owned by `dict`
//!  8   clock    u32       LRU clock, LFU counter+time or FIFO insertion clock (see `lru`)
//!  12  flags    u8        FLAG_OBJECT: value is a `*mut Value`; FLAG_EXPIRE: expiry field present;
//!                         FLAG_CAPTURE: which side of the current point-in-time capture (`capture`)
//!  13  [expire  i64]      absolute unix time in ms, present iff FLAG_EXPIRE
//!  ..  key_len  varint    LEB128, then the key bytes
//!  ..  value    inline:   varint length + bytes;  object: `*mut Value` (8 bytes, unaligned)
//! ```
//! Invariant: the allocation size is always recomputable from the contents (`alloc_size`), so it is
//! not stored. Changing the key's expiry presence or the value's size means building a new entry
//! (`rebuild`); the dict swaps it into the chain.

use crate::value::Value;
use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

const OFF_CLOCK: usize = 8;
const OFF_FLAGS: usize = 12;
const OFF_BODY: usize = 13;
const FLAG_OBJECT: u8 = 1;
const FLAG_EXPIRE: u8 = 2;
const FLAG_CAPTURE: u8 = 4;
const ENTRY_ALIGN: usize = 8;
/// The allocation of a small key with a short inline string: what a prefetch of an entry covers.
pub(crate) const TYPICAL_ENTRY_BYTES: usize = 48;

/// Strings up to this many bytes are stored inside the entry; longer ones (and strings that are
/// appended to or modified in place) live in a `Value::Str` so that APPEND stays amortised O(1).
pub const INLINE_STRING_MAX: usize = 128;

/// A read-only view of an entry's value.
#[derive(Clone, Copy)]
pub enum ValueRef<'a> {
    /// A string, whether inline or a `Value::Str`.
    Str(&'a [u8]),
    /// Any other type.
    Obj(&'a Value),
}

impl<'a> ValueRef<'a> {
    /// Redis type name as reported by TYPE.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
            ValueRef::Obj(v) => v.type_name(),
        }
    }

    /// The string bytes, or None when the value is not a string.
    pub fn as_str(&self) -> Option<&'a [u8]> {
        match *self {
            ValueRef::Str(s) => Some(s),
            ValueRef::Obj(_) => None,
        }
    }
}

/// The value a new entry is built with.
pub(crate) enum NewValue<'a> {
    Inline(&'a [u8]),
    Object(Box<Value>),
}

impl<'a> NewValue<'a> {
    /// Chooses the representation of a string value by its size.
    pub(crate) fn string(bytes: &'a [u8]) -> NewValue<'a> {
        if bytes.len() <= INLINE_STRING_MAX {
            NewValue::Inline(bytes)
        } else {
            NewValue::Object(Box::new(Value::Str(bytes.to_vec())))
        }
    }
}

/// An owned entry. Dropping it frees the allocation and the boxed value, but never follows `next`:
/// chains are owned by the dict, which unlinks an entry (setting `next` to null) before handing it out.
#[repr(transparent)]
pub struct Entry(NonNull<u8>);

// SAFETY: an Entry uniquely owns its allocation and its boxed Value (which is Send + Sync); nothing
// in it is shared with other entries except through the dict, which has its own &mut discipline.
unsafe impl Send for Entry {}
unsafe impl Sync for Entry {}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// # Safety
/// `p` must be valid for `varint_len(v)` bytes of writes.
unsafe fn write_varint(p: *mut u8, mut v: usize) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        *p.add(i) = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    *p.add(i) = v as u8;
    i + 1
}

/// # Safety
/// `p` must point at a varint written by `write_varint`.
unsafe fn read_varint(p: *const u8) -> (usize, usize) {
    let mut v = 0usize;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *p.add(i);
        v |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b < 0x80 {
            return (v, i);
        }
        shift += 7;
    }
}

impl Entry {
    pub(crate) fn new(key: &[u8], value: NewValue<'_>, expire: Option<i64>, clock: u32) -> Entry {
        let value_size = match &value {
            NewValue::Inline(v) => varint_len(v.len()) + v.len(),
            NewValue::Object(_) => std::mem::size_of::<*mut Value>(),
        };
        let size = OFF_BODY
            + if expire.is_some() { 8 } else { 0 }
            + varint_len(key.len())
            + key.len()
            + value_size;
        let layout =
            Layout::from_size_align(size, ENTRY_ALIGN).expect("invariant: entry size fits isize");
        // SAFETY: layout has non-zero size; every byte written below is inside `size`.
        unsafe {
            let p = alloc::alloc(layout);
            if p.is_null() {
                alloc::handle_alloc_error(layout);
            }
            ptr::write(p as *mut *mut u8, ptr::null_mut());
            ptr::write_unaligned(p.add(OFF_CLOCK) as *mut u32, clock);
            let mut flags = 0;
            let mut off = OFF_BODY;
            if let Some(at) = expire {
                flags |= FLAG_EXPIRE;
                ptr::write_unaligned(p.add(off) as *mut i64, at);
                off += 8;
            }
            off += write_varint(p.add(off), key.len());
            ptr::copy_nonoverlapping(key.as_ptr(), p.add(off), key.len());
            off += key.len();
            match value {
                NewValue::Inline(v) => {
                    off += write_varint(p.add(off), v.len());
                    ptr::copy_nonoverlapping(v.as_ptr(), p.add(off), v.len());
                }
                NewValue::Object(b) => {
                    flags |= FLAG_OBJECT;
                    ptr::write_unaligned(p.add(off) as *mut *mut Value, Box::into_raw(b));
                }
            }
            *p.add(OFF_FLAGS) = flags;
            Entry(NonNull::new_unchecked(p))
        }
    }

    pub(crate) fn into_raw(self) -> *mut u8 {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` must come from `into_raw` and not be owned by anything else.
    pub(crate) unsafe fn from_raw(p: *mut u8) -> Entry {
        Entry(NonNull::new_unchecked(p))
    }

    /// Borrows the entry held in a chain cell (a bucket or a predecessor's `next` field).
    ///
    /// # Safety
    /// `cell` must hold a live entry pointer and stay unmodified for `'a`.
    pub(crate) unsafe fn from_cell<'a>(cell: *const *mut u8) -> &'a Entry {
        &*(cell as *const Entry)
    }

    /// Mutable form of `from_cell`.
    ///
    /// # Safety
    /// As `from_cell`, plus exclusive access for `'a`.
    pub(crate) unsafe fn from_cell_mut<'a>(cell: *mut *mut u8) -> &'a mut Entry {
        &mut *(cell as *mut Entry)
    }

    /// A non-owning view of the entry at `p` (never dropped).
    ///
    /// # Safety
    /// `p` must be a live entry pointer.
    pub(crate) unsafe fn peek(p: *mut u8) -> std::mem::ManuallyDrop<Entry> {
        std::mem::ManuallyDrop::new(Entry::from_raw(p))
    }

    fn ptr(&self) -> *mut u8 {
        self.0.as_ptr()
    }

    fn flags(&self) -> u8 {
        // SAFETY: OFF_FLAGS is inside every entry.
        unsafe { *self.ptr().add(OFF_FLAGS) }
    }

    /// The capture mark (see `capture`): equal to the store's current parity once a capture has
    /// seen (or preserved) this entry, and for entries created since the capture began.
    pub(crate) fn capture_mark(&self) -> bool {
        self.flags() & FLAG_CAPTURE != 0
    }

    pub(crate) fn set_capture_mark(&mut self, mark: bool) {
        let flags = self.flags();
        let flags = if mark {
            flags | FLAG_CAPTURE
        } else {
            flags & !FLAG_CAPTURE
        };
        // SAFETY: OFF_FLAGS is inside every entry.
        unsafe { *self.ptr().add(OFF_FLAGS) = flags }
    }

    /// A deep copy (key, value, expiry, clock and capture mark), for copy-on-write captures.
    pub(crate) fn duplicate(&self) -> Entry {
        let mut copy = match self.value() {
            ValueRef::Str(s) if self.is_inline() => {
                Entry::new(self.key(), NewValue::Inline(s), self.expire(), self.clock())
            }
            ValueRef::Str(s) => Entry::new(
                self.key(),
                NewValue::Object(Box::new(Value::Str(s.to_vec()))),
                self.expire(),
                self.clock(),
            ),
            ValueRef::Obj(v) => Entry::new(
                self.key(),
                NewValue::Object(Box::new(v.clone())),
                self.expire(),
                self.clock(),
            ),
        };
        copy.set_capture_mark(self.capture_mark());
        copy
    }

    pub(crate) fn next(&self) -> *mut u8 {
        // SAFETY: offset 0 holds an aligned pointer in every entry.
        unsafe { ptr::read(self.ptr() as *const *mut u8) }
    }

    pub(crate) fn set_next(&mut self, next: *mut u8) {
        // SAFETY: as in `next`.
        unsafe { ptr::write(self.ptr() as *mut *mut u8, next) }
    }

    /// Pointer to the `next` field, for unlinking from a chain.
    pub(crate) fn next_slot(p: *mut u8) -> *mut *mut u8 {
        p as *mut *mut u8
    }

    /// The eviction clock (meaning depends on the policy, see `lru`).
    pub fn clock(&self) -> u32 {
        // SAFETY: OFF_CLOCK..+4 is inside every entry.
        unsafe { ptr::read_unaligned(self.ptr().add(OFF_CLOCK) as *const u32) }
    }

    pub(crate) fn set_clock(&mut self, clock: u32) {
        // SAFETY: as in `clock`.
        unsafe { ptr::write_unaligned(self.ptr().add(OFF_CLOCK) as *mut u32, clock) }
    }

    /// Absolute expiry time in unix milliseconds, if the key has one.
    pub fn expire(&self) -> Option<i64> {
        if self.flags() & FLAG_EXPIRE != 0 {
            // SAFETY: the expire field is present when the flag is set.
            Some(unsafe { ptr::read_unaligned(self.ptr().add(OFF_BODY) as *const i64) })
        } else {
            None
        }
    }

    /// Overwrites an existing expiry in place. Returns false when the entry has no expiry field
    /// (the caller must `rebuild` it).
    pub(crate) fn overwrite_expire(&mut self, at: i64) -> bool {
        if self.flags() & FLAG_EXPIRE == 0 {
            return false;
        }
        // SAFETY: the expire field is present.
        unsafe { ptr::write_unaligned(self.ptr().add(OFF_BODY) as *mut i64, at) };
        true
    }

    fn key_offset(&self) -> usize {
        OFF_BODY
            + if self.flags() & FLAG_EXPIRE != 0 {
                8
            } else {
                0
            }
    }

    /// (offset of the value field, key slice)
    fn key_parts(&self) -> (usize, &[u8]) {
        let off = self.key_offset();
        // SAFETY: a varint key length followed by that many bytes starts at key_offset.
        unsafe {
            let (len, n) = read_varint(self.ptr().add(off));
            let key = std::slice::from_raw_parts(self.ptr().add(off + n), len);
            (off + n + len, key)
        }
    }

    pub fn key(&self) -> &[u8] {
        self.key_parts().1
    }

    fn object_ptr(&self, value_off: usize) -> *mut Value {
        // SAFETY: the value field holds a pointer when FLAG_OBJECT is set (checked by callers).
        unsafe { ptr::read_unaligned(self.ptr().add(value_off) as *const *mut Value) }
    }

    pub fn value(&self) -> ValueRef<'_> {
        let (off, _) = self.key_parts();
        if self.flags() & FLAG_OBJECT != 0 {
            // SAFETY: the pointer came from Box::into_raw and is owned by this entry.
            match unsafe { &*self.object_ptr(off) } {
                Value::Str(s) => ValueRef::Str(s),
                other => ValueRef::Obj(other),
            }
        } else {
            // SAFETY: an inline value is a varint length followed by the bytes.
            unsafe {
                let (len, n) = read_varint(self.ptr().add(off));
                ValueRef::Str(std::slice::from_raw_parts(self.ptr().add(off + n), len))
            }
        }
    }

    /// Mutable access to a boxed value; None for inline strings.
    pub fn object_mut(&mut self) -> Option<&mut Value> {
        if self.flags() & FLAG_OBJECT == 0 {
            return None;
        }
        let (off, _) = self.key_parts();
        // SAFETY: owned boxed value; &mut self guarantees exclusivity.
        Some(unsafe { &mut *self.object_ptr(off) })
    }

    /// Whether the value is stored inline (short string).
    pub fn is_inline(&self) -> bool {
        self.flags() & FLAG_OBJECT == 0
    }

    /// Mutable bytes of an inline string (same length edits only).
    pub(crate) fn inline_mut(&mut self) -> Option<&mut [u8]> {
        if self.flags() & FLAG_OBJECT != 0 {
            return None;
        }
        let (off, _) = self.key_parts();
        // SAFETY: inline value layout as in `value`; &mut self guarantees exclusivity.
        unsafe {
            let (len, n) = read_varint(self.ptr().add(off));
            Some(std::slice::from_raw_parts_mut(self.ptr().add(off + n), len))
        }
    }

    /// Builds a new entry with the same key and clock, a new value and expiry. The old entry keeps
    /// its value (dropped with it) unless `value` moved it out first.
    pub(crate) fn rebuild(&self, value: NewValue<'_>, expire: Option<i64>) -> Entry {
        let mut e = Entry::new(self.key(), value, expire, self.clock());
        e.set_capture_mark(self.capture_mark());
        e
    }

    /// Moves the boxed value out, leaving an empty string behind (the entry is about to be dropped
    /// or rebuilt). For inline strings returns a `Value::Str` copy.
    pub(crate) fn take_value(&mut self) -> Value {
        let (off, _) = self.key_parts();
        if self.flags() & FLAG_OBJECT != 0 {
            let replacement = Box::into_raw(Box::new(Value::Str(Vec::new())));
            let old = self.object_ptr(off);
            // SAFETY: swap ownership of the boxed value; the entry keeps a valid box.
            unsafe {
                ptr::write_unaligned(self.ptr().add(off) as *mut *mut Value, replacement);
                *Box::from_raw(old)
            }
        } else {
            match self.value() {
                ValueRef::Str(s) => Value::Str(s.to_vec()),
                ValueRef::Obj(_) => unreachable!("inline values are strings"),
            }
        }
    }

    /// Size of this entry's own allocation in bytes.
    pub fn alloc_size(&self) -> usize {
        let (off, _) = self.key_parts();
        if self.flags() & FLAG_OBJECT != 0 {
            off + std::mem::size_of::<*mut Value>()
        } else {
            // SAFETY: inline value layout.
            let (len, n) = unsafe { read_varint(self.ptr().add(off)) };
            off + n + len
        }
    }

    /// Approximate bytes of memory held by this entry including its value (MEMORY USAGE).
    pub fn memory_usage(&self) -> usize {
        let own = self.alloc_size() + std::mem::size_of::<*mut u8>(); // + bucket slot
        match self.value() {
            ValueRef::Obj(v) => own + v.heap_size(),
            ValueRef::Str(s) if !self.is_inline() => own + std::mem::size_of::<Value>() + s.len(),
            ValueRef::Str(_) => own,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let size = self.alloc_size();
        if self.flags() & FLAG_OBJECT != 0 {
            let (off, _) = self.key_parts();
            // SAFETY: the boxed value is owned by this entry and dropped exactly once.
            unsafe { drop(Box::from_raw(self.object_ptr(off))) };
        }
        let layout =
            Layout::from_size_align(size, ENTRY_ALIGN).expect("invariant: entry size fits isize");
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { alloc::dealloc(self.ptr(), layout) };
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("expire", &self.expire())
            .field("clock", &self.clock())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_round_trip() {
        let e = Entry::new(b"key:1", NewValue::Inline(b"value"), None, 7);
        assert_eq!(e.key(), b"key:1");
        assert_eq!(e.value().as_str(), Some(&b"value"[..]));
        assert_eq!(e.expire(), None);
        assert_eq!(e.clock(), 7);
        assert!(e.is_inline());
        assert_eq!(e.alloc_size(), 13 + 1 + 5 + 1 + 5);
    }

    #[test]
    fn sixteen_byte_key_and_value_fit_48_bytes() {
        let e = Entry::new(&[b'k'; 16], NewValue::Inline(&[b'v'; 16]), None, 0);
        assert!(e.alloc_size() <= 48, "{}", e.alloc_size());
    }

    #[test]
    fn expire_and_long_lengths() {
        let key = vec![b'x'; 300];
        let val = vec![b'y'; 100];
        let mut e = Entry::new(&key, NewValue::Inline(&val), Some(123456789), 1);
        assert_eq!(e.key(), &key[..]);
        assert_eq!(e.value().as_str(), Some(&val[..]));
        assert_eq!(e.expire(), Some(123456789));
        assert!(e.overwrite_expire(42));
        assert_eq!(e.expire(), Some(42));
        e.set_clock(99);
        assert_eq!(e.clock(), 99);
        assert_eq!(e.key(), &key[..]);
    }

    #[test]
    fn object_values_and_take() {
        let big = vec![b'z'; 1000];
        let mut e = Entry::new(b"k", NewValue::string(&big), None, 0);
        assert!(!e.is_inline());
        assert_eq!(e.value().as_str(), Some(&big[..]));
        if let Some(Value::Str(s)) = e.object_mut() {
            s.extend_from_slice(b"more");
        }
        assert_eq!(e.value().as_str().map(|s| s.len()), Some(1004));
        let taken = e.take_value();
        assert!(matches!(taken, Value::Str(ref s) if s.len() == 1004));
        assert_eq!(e.value().as_str(), Some(&b""[..]));
    }

    #[test]
    fn rebuild_keeps_key_and_clock() {
        let e = Entry::new(b"abc", NewValue::Inline(b"1"), None, 5);
        let r = e.rebuild(NewValue::Inline(b"22"), Some(10));
        assert_eq!(r.key(), b"abc");
        assert_eq!(r.clock(), 5);
        assert_eq!(r.expire(), Some(10));
        assert_eq!(r.value().as_str(), Some(&b"22"[..]));
    }
}
