//! Which CPUs the server's threads may run on: Redis's `server_cpulist` (event loop),
//! `bio_cpulist` (background threads), `aof_rewrite_cpulist` and `bgsave_cpulist` (the job
//! thread, per job), plus the system calls the event loop's automatic pinning uses
//! (`event-loop-pinning`, in the server's `loop_pinning`).
//!
//! The lists are start-up settings (immutable, as in Redis): [`configure`] reads them once, and
//! each thread pins itself when it starts (or, for the job thread, when a job starts). A list the
//! kernel refuses (a CPU outside the process's cpuset) is logged and leaves the thread where it
//! was: pinning is a performance setting, never a reason to stop serving.

use std::sync::OnceLock;

/// The kind of thread a list applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The event loop (`server_cpulist`).
    Server,
    /// Background threads: AOF writer, file deletion, lazy free (`bio_cpulist`).
    Background,
    /// The job thread while it rewrites the AOF (`aof_rewrite_cpulist`).
    AofRewrite,
    /// The job thread while it writes a snapshot (`bgsave_cpulist`).
    Bgsave,
}

/// The lists in force, fixed at start-up.
struct Lists {
    server: Vec<usize>,
    background: Vec<usize>,
    aof_rewrite: Vec<usize>,
    bgsave: Vec<usize>,
    /// The CPUs the process was allowed at start-up: where a thread goes back to when its list
    /// is empty (the job thread between a pinned and an unpinned job).
    allowed: Vec<usize>,
}

static LISTS: OnceLock<Lists> = OnceLock::new();

/// Reads the lists from the configuration (once, at start-up, before the threads start). Lists
/// were validated when the configuration loaded.
pub fn configure(config: &ringkv_config::Config) {
    let parse = |list: &str| ringkv_config::parse_cpulist(list).unwrap_or_default();
    let _ = LISTS.set(Lists {
        server: parse(&config.server_cpulist),
        background: parse(&config.bio_cpulist),
        aof_rewrite: parse(&config.aof_rewrite_cpulist),
        bgsave: parse(&config.bgsave_cpulist),
        allowed: allowed_cpus().unwrap_or_default(),
    });
}

/// The list set for `role` (empty: none).
pub fn list(role: Role) -> &'static [usize] {
    match LISTS.get() {
        None => &[],
        Some(l) => match role {
            Role::Server => &l.server,
            Role::Background => &l.background,
            Role::AofRewrite => &l.aof_rewrite,
            Role::Bgsave => &l.bgsave,
        },
    }
}

/// Pins the calling thread to `role`'s list. With an empty list, a background or job thread
/// goes back to the process's start-up CPUs: a new thread inherits the affinity of the thread
/// that started it (the event loop, which may be pinned), and the job thread may have been
/// pinned by an earlier job. The event loop stays as it is.
pub fn pin_for(role: Role) {
    let cpus = list(role);
    let target = if !cpus.is_empty() {
        cpus
    } else if role != Role::Server {
        LISTS.get().map(|l| l.allowed.as_slice()).unwrap_or(&[])
    } else {
        return;
    };
    if target.is_empty() {
        return;
    }
    if let Err(e) = pin_current_thread(target) {
        tracing::warn!(role = ?role, cpus = ?target, error = %e, "cannot set the thread's CPU affinity");
    }
}

/// Restricts the calling thread to `cpus`.
pub fn pin_current_thread(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let mut any = false;
    for &cpu in cpus {
        if cpu < ringkv_config::MAX_CPUS {
            // SAFETY: `cpu` is below CPU_SETSIZE, the bound CPU_SET requires.
            unsafe { libc::CPU_SET(cpu, &mut set) };
            any = true;
        }
    }
    if !any {
        return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs the calling thread may run on.
pub fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((0..ringkv_config::MAX_CPUS)
        // SAFETY: every index is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// The CPU the calling thread runs on now.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu takes no arguments and touches no memory of ours.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pins_itself_and_goes_back() {
        // Runs on a thread of its own so the test harness's threads keep their CPUs.
        std::thread::spawn(|| {
            let allowed = allowed_cpus().expect("sched_getaffinity");
            assert!(!allowed.is_empty());
            let cpu = current_cpu().expect("sched_getcpu");
            assert!(allowed.contains(&cpu), "{cpu} not in {allowed:?}");
            let last = *allowed.last().expect("a CPU");
            pin_current_thread(&[last]).expect("pin to an allowed CPU");
            assert_eq!(allowed_cpus().expect("sched_getaffinity"), vec![last]);
            assert_eq!(current_cpu(), Some(last));
            pin_current_thread(&allowed).expect("unpin");
            assert_eq!(allowed_cpus().expect("sched_getaffinity"), allowed);
            assert!(pin_current_thread(&[]).is_err());
        })
        .join()
        .expect("the pinning thread");
    }
}
