//! The process allocator: mimalloc wrapped with an exact byte counter.
//!
//! Why: `used_memory` drives `maxmemory` eviction, so it must follow real allocations, including
//! client buffers, not an estimate. Like Redis's zmalloc we count every allocation's usable size
//! (what the allocator really reserved for it) in one relaxed atomic. mimalloc's small size classes
//! (8-byte steps up to 64) also keep the compact keyspace entries tight.

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAllocator;

fn usable(p: *mut u8) -> usize {
    // SAFETY: `p` is a live pointer returned by mimalloc.
    unsafe { libmimalloc_sys::mi_usable_size(p as *const std::ffi::c_void) }
}

// SAFETY: delegates every call to mimalloc; the counter is bookkeeping only.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = MiMalloc.alloc(layout);
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = MiMalloc.alloc_zeroed(layout);
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED_BYTES.fetch_sub(usable(ptr), Ordering::Relaxed);
        MiMalloc.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = usable(ptr);
        let p = MiMalloc.realloc(ptr, layout, new_size);
        if !p.is_null() {
            ALLOCATED_BYTES.fetch_sub(old, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(usable(p), Ordering::Relaxed);
        }
        p
    }
}

/// Bytes currently allocated by the process through the global allocator.
pub fn allocated_bytes() -> usize {
    ALLOCATED_BYTES.load(Ordering::Relaxed)
}
