//! The process allocator: mimalloc wrapped with an exact byte counter.
//!
//! Why: `used_memory` drives `maxmemory` eviction, so it must follow real allocations, including
//! client buffers, not an estimate. Like Redis's zmalloc we count every allocation's usable size
//! (what the allocator really reserved for it) in one relaxed atomic. mimalloc's small size classes
//! (16-byte steps up to 64) also keep the compact keyspace entries tight.
//!
//! We call mimalloc's C API directly instead of the `mimalloc` crate's `GlobalAlloc`: that one
//! always uses `mi_malloc_aligned`, whose slow path (taken whenever a page's free list is empty)
//! over-allocates by the alignment, so a 47-byte keyspace entry landed in the 64-byte class
//! instead of 48 — 16 bytes per key. Plain `mi_malloc` already guarantees 8-byte alignment, and
//! 16-byte alignment for blocks of 16 bytes or more, which covers every ordinary Rust layout.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAllocator;

/// mimalloc's guaranteed alignment for plain allocations (MI_MAX_ALIGN_SIZE).
const MI_PLAIN_ALIGN: usize = 16;

fn usable(p: *mut u8) -> usize {
    // SAFETY: `p` is a live pointer returned by mimalloc.
    unsafe { mi::mi_usable_size(p as *const c_void) }
}

/// Whether plain mi_malloc satisfies the layout's alignment (8 always; 16 from 16 bytes up).
fn plain_ok(layout: &Layout) -> bool {
    layout.align() <= 8 || (layout.align() <= MI_PLAIN_ALIGN && layout.size() >= MI_PLAIN_ALIGN)
}

// SAFETY: delegates every call to mimalloc with a layout-compatible entry point; the counter is
// bookkeeping only.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = if plain_ok(&layout) {
            mi::mi_malloc(layout.size())
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align())
        } as *mut u8;
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = if plain_ok(&layout) {
            mi::mi_zalloc(layout.size())
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align())
        } as *mut u8;
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        ALLOCATED_BYTES.fetch_sub(usable(ptr), Ordering::Relaxed);
        mi::mi_free(ptr as *mut c_void)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = usable(ptr);
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let p = if plain_ok(&new_layout) && plain_ok(&layout) {
            mi::mi_realloc(ptr as *mut c_void, new_size)
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align())
        } as *mut u8;
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_sub(old, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }
}

/// Bytes currently allocated by the process: through the global allocator, plus the keyspace's
/// big bucket arrays, which are mapped directly (`ringkv_engine::buckets`).
pub fn allocated_bytes() -> usize {
    ALLOCATED_BYTES.load(Ordering::Relaxed) + ringkv_engine::buckets::mapped_bytes()
}
