//! CPU time of the processes a benchmark runs against, read from `/proc`: so that a
//! ratio that misses its target can be explained by who spent the machine's cores.

use std::collections::HashMap;
use std::time::Duration;

/// Linux reports `/proc/<pid>/stat` times in clock ticks of `USER_HZ`, which is 100 on
/// every architecture Linux exports it for.
const TICKS_PER_SECOND: u64 = 100;

/// A process's parent and its own user + system CPU time, from the text of its
/// `/proc/<pid>/stat`.
pub fn parse_stat(stat: &str) -> Option<(u32, Duration)> {
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4) ... utime (14), stime (15).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some((ppid, Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)))
}

/// Every running process: its parent and its CPU time.
fn snapshot() -> HashMap<u32, (u32, Duration)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, parse_stat(&stat)?))
        })
        .collect()
}

/// The CPU time of `root` and every process below it, in `processes`.
pub fn tree_cpu_time(processes: &HashMap<u32, (u32, Duration)>, root: u32) -> Duration {
    let mut total = Duration::ZERO;
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        if let Some((_, cpu)) = processes.get(&pid) {
            total += *cpu;
        }
        pending.extend(
            processes
                .iter()
                .filter(|(_, (parent, _))| *parent == pid)
                .map(|(child, _)| *child),
        );
    }
    total
}

/// Named processes whose CPU time a benchmark follows, each with its children (the
/// Temporal CLI, for one, runs its server as a child).
#[derive(Debug, Clone, Default)]
pub struct Watched {
    processes: Vec<(String, u32)>,
}

impl Watched {
    /// Parses `name=pid` pairs separated by whitespace, e.g. `temporal=41 worker=77`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let processes = spec
            .split_whitespace()
            .map(|pair| {
                let (name, pid) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?}: expected name=pid"))?;
                let pid = pid
                    .parse()
                    .map_err(|_| format!("{pair:?}: {pid:?} is not a pid"))?;
                Ok((name.to_owned(), pid))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { processes })
    }

    /// The pid watched under `name`.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.processes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, pid)| *pid)
    }

    /// The CPU time each watched process (with its children) has used so far.
    pub fn cpu_times(&self) -> Vec<(String, Duration)> {
        let processes = snapshot();
        self.processes
            .iter()
            .map(|(name, pid)| (name.clone(), tree_cpu_time(&processes, *pid)))
            .collect()
    }
}

/// The CPU time spent between two [`Watched::cpu_times`] readings, by name.
pub fn spent(
    before: &[(String, Duration)],
    after: &[(String, Duration)],
) -> Vec<(String, Duration)> {
    after
        .iter()
        .map(|(name, now)| {
            let then = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Duration::ZERO, |(_, t)| *t);
            (name.clone(), now.saturating_sub(then))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_parent_and_the_cpu_time() {
        let stat =
            "4242 (java (main)) S 17 4242 17 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 30 0 100 0 0";
        let (ppid, cpu) = parse_stat(stat).expect("parses");
        assert_eq!(ppid, 17);
        assert_eq!(cpu, Duration::from_secs(3), "250 + 50 ticks");
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn a_tree_adds_up_its_descendants_only() {
        let processes = HashMap::from([
            (1, (0, Duration::from_secs(100))),
            (10, (1, Duration::from_secs(1))),
            (11, (10, Duration::from_secs(2))),
            (12, (11, Duration::from_secs(4))),
            (20, (1, Duration::from_secs(8))),
        ]);
        assert_eq!(tree_cpu_time(&processes, 10), Duration::from_secs(7));
        assert_eq!(tree_cpu_time(&processes, 99), Duration::ZERO);
    }

    #[test]
    fn watched_processes_parse_and_their_own_time_is_read() {
        assert!(Watched::parse("worker").is_err());
        assert!(Watched::parse("worker=x").is_err());
        let me = Watched::parse(&format!("bench={}", std::process::id())).expect("valid");
        let before = me.cpu_times();
        // Busy until the clock ticks over, within a deadline.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        let used = loop {
            for i in 0..1_000_000u64 {
                x = x.wrapping_add(i * i);
            }
            let used = spent(&before, &me.cpu_times());
            if used[0].1 > Duration::ZERO || std::time::Instant::now() > deadline {
                break used;
            }
        };
        std::hint::black_box(x);
        assert_eq!(used[0].0, "bench");
        assert!(used[0].1 > Duration::ZERO, "busy work takes CPU time");
    }
}
