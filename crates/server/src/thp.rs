//! Transparent huge pages off for the process (`disable-thp yes`, Redis's setting and default).
//!
//! Why: with THP, the first write to a fresh 2 MB region of the heap makes the kernel allocate
//! and zero a whole huge page inside that one page fault, and possibly compact memory first to
//! find one. The allocator (mimalloc) asks for huge pages on its regions (`MADV_HUGEPAGE`), so
//! this happens even where the system setting is `madvise`. On the event loop such a fault is a
//! stall for every client: on the 2-core VM of `bench/`, single faults in the rewrite's encoding
//! buffer took 5-6 ms (the hypervisor backs the guest's freed memory lazily), and capture slices
//! over 1.5 ms were 12-17 per 20 s of rewrites with THP against 4-7 without; see
//! `docs/persistence.md`. Redis gives the same advice (there fork's copy-on-write also copies
//! 2 MB per touched page) and by default turns THP off for its process when the system setting
//! is `always`; ringkv does it whatever the setting, because its allocator asks for huge pages
//! itself.
//!
//! `prctl(PR_SET_THP_DISABLE)` is per process and inherited; it does not touch the system-wide
//! setting. It is applied before the keyspace is created, so the data set is in small pages.

/// Applies `disable-thp` and logs the outcome along with the system setting.
pub fn apply(disable: bool) {
    let system = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    if !disable {
        tracing::info!(
            system = %system,
            "transparent huge pages left to the system setting (disable-thp no)"
        );
        return;
    }
    // SAFETY: prctl with integer arguments only; no memory is passed to the kernel.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } == 0 {
        tracing::info!(system = %system, "transparent huge pages disabled for this process");
    } else {
        tracing::warn!(
            system = %system,
            error = %std::io::Error::last_os_error(),
            "could not disable transparent huge pages; expect latency spikes on page faults"
        );
    }
}
