//! CPU lists in Redis's `*_cpulist` syntax (`server_cpulist`, `bio_cpulist`,
//! `aof_rewrite_cpulist`, `bgsave_cpulist`): comma-separated items, each a CPU number, a range
//! `a-b`, or a range with a step `a-b:s` (`0-7:2` is 0, 2, 4, 6). Parsed here, at load time, so a
//! typo is a start-up error rather than a thread that silently runs anywhere.

/// CPUs above this are refused (`CPU_SETSIZE` on Linux).
pub const MAX_CPUS: usize = 1024;

/// The CPUs of a list, ascending and without repeats; empty for an empty list (no pinning).
pub fn parse_cpulist(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    if list.trim().is_empty() {
        return Ok(cpus);
    }
    for item in list.split(',') {
        let item = item.trim();
        let (range, step) = match item.split_once(':') {
            Some((range, step)) => (range, number(step, list)?),
            None => (item, 1),
        };
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (number(a, list)?, number(b, list)?),
            None => {
                let cpu = number(range, list)?;
                (cpu, cpu)
            }
        };
        if step == 0 || first > last {
            return Err(format!("invalid CPU list '{list}': bad range '{item}'"));
        }
        if last >= MAX_CPUS {
            return Err(format!(
                "invalid CPU list '{list}': CPU {last} is above the maximum {}",
                MAX_CPUS - 1
            ));
        }
        cpus.extend((first..=last).step_by(step));
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn number(s: &str, list: &str) -> Result<usize, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid CPU list '{list}': '{s}' is not a CPU number"
        ));
    }
    s.parse()
        .map_err(|_| format!("invalid CPU list '{list}': '{s}' is not a CPU number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ranges_and_steps() {
        assert_eq!(parse_cpulist("").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_cpulist("3").unwrap(), vec![3]);
        assert_eq!(parse_cpulist("0-7:2").unwrap(), vec![0, 2, 4, 6]);
        assert_eq!(parse_cpulist("5,1-2, 2").unwrap(), vec![1, 2, 5]);
        assert_eq!(parse_cpulist("1-1").unwrap(), vec![1]);
    }

    #[test]
    fn bad_lists_are_refused() {
        for bad in [
            "a", "1-", "-1", "3-1", "0-4:0", "1,,2", "1024", "0-2000", "1:x", " , ",
        ] {
            assert!(parse_cpulist(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
