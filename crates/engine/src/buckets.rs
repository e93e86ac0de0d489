//! Bucket arrays for the dict. Small arrays are ordinary heap allocations; big ones (from
//! [`MAP_THRESHOLD_BYTES`]) are mapped straight from the kernel with `mmap`.
//!
//! Why: growing a table of millions of keys needs a zeroed array of tens of MB. Through the
//! allocator that is a `memset` of the whole array at once (and, with transparent huge pages, a
//! page fault per 2 MB that clears it first): measured at about 60 ms for 32 MB on a VM, under
//! the keyspace lock, a stall every client sees. Fresh anonymous pages are already zero and are
//! only faulted in when first touched, which the incremental rehash spreads over many commands —
//! the same thing Redis gets from `calloc` of large blocks.
//!
//! Mapped bytes bypass the global allocator, so they are counted here ([`mapped_bytes`]) and the
//! server adds them to `used_memory`.

use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arrays of at least this many bytes are mapped.
pub const MAP_THRESHOLD_BYTES: usize = 256 * 1024;

static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of bucket arrays currently mapped (not seen by the global allocator).
pub fn mapped_bytes() -> usize {
    MAPPED_BYTES.load(Ordering::Relaxed)
}

/// An owned, zero-initialised array of bucket heads.
pub(crate) struct Buckets {
    ptr: NonNull<*mut u8>,
    len: usize,
    mapped: bool,
}

// SAFETY: Buckets owns its memory exclusively (like Box<[*mut u8]>); the pointers inside are
// managed by the dict, which has its own Send/Sync reasoning.
unsafe impl Send for Buckets {}
unsafe impl Sync for Buckets {}

impl Buckets {
    pub(crate) fn empty() -> Buckets {
        Buckets {
            ptr: NonNull::dangling(),
            len: 0,
            mapped: false,
        }
    }

    /// `len` null heads.
    pub(crate) fn zeroed(len: usize) -> Buckets {
        let bytes = len * std::mem::size_of::<*mut u8>();
        if bytes >= MAP_THRESHOLD_BYTES {
            // SAFETY: an anonymous private mapping; checked for failure below.
            let p = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                MAPPED_BYTES.fetch_add(bytes, Ordering::Relaxed);
                return Buckets {
                    // SAFETY: mmap succeeded, so p is non-null and page aligned.
                    ptr: unsafe { NonNull::new_unchecked(p as *mut *mut u8) },
                    len,
                    mapped: true,
                };
            }
            // Out of address space or a mapping limit: fall back to the allocator.
        }
        let boxed: Box<[*mut u8]> = vec![ptr::null_mut(); len].into_boxed_slice();
        let ptr = Box::into_raw(boxed) as *mut *mut u8;
        Buckets {
            // SAFETY: Box::into_raw never returns null (dangling for len 0).
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            len,
            mapped: false,
        }
    }
}

impl Deref for Buckets {
    type Target = [*mut u8];
    fn deref(&self) -> &[*mut u8] {
        // SAFETY: ptr is valid for len elements (or dangling with len 0), all initialised (zero).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Buckets {
    fn deref_mut(&mut self) -> &mut [*mut u8] {
        // SAFETY: as in deref, and &mut self gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Buckets {
    fn drop(&mut self) {
        if self.mapped {
            let bytes = self.len * std::mem::size_of::<*mut u8>();
            // SAFETY: this exact range was mapped in `zeroed` and is unmapped once.
            unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, bytes) };
            MAPPED_BYTES.fetch_sub(bytes, Ordering::Relaxed);
        } else if self.len > 0 {
            // SAFETY: ptr/len came from Box::into_raw of a boxed slice of this length.
            unsafe {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    self.ptr.as_ptr(),
                    self.len,
                )))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_arrays_are_zero_and_accounted() {
        let small = Buckets::zeroed(16);
        assert!(!small.mapped && small.iter().all(|p| p.is_null()));
        let before = mapped_bytes();
        let mut big = Buckets::zeroed(MAP_THRESHOLD_BYTES / 8 * 2);
        assert!(big.mapped);
        assert!(big.iter().all(|p| p.is_null()));
        assert!(mapped_bytes() >= before + MAP_THRESHOLD_BYTES * 2);
        let n = big.len();
        big[n - 1] = 8 as *mut u8;
        assert_eq!(big[n - 1] as usize, 8);
        big[n - 1] = ptr::null_mut();
        drop(big);
        assert!(Buckets::empty().is_empty());
    }
}
