//! A process's CPU time from `/proc/PID/stat` (utime + stime, in clock ticks).

use std::time::Duration;

/// The CPU time (user + system) the process has used so far.
pub fn process_cpu(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let ticks = parse_stat(&text).ok_or_else(|| format!("{path}: not the format expected"))?;
    Ok(ticks_to_duration(ticks))
}

/// This process's own CPU time.
pub fn own_cpu() -> Result<Duration, String> {
    process_cpu(std::process::id())
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let hz = rustix::param::clock_ticks_per_second().max(1);
    Duration::from_micros(ticks.saturating_mul(1_000_000) / hz)
}

/// utime + stime of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may hold spaces and parentheses itself, so the fields are counted from the last `)`: state is
/// field 3, utime 14 and stime 15.
fn parse_stat(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_the_command_name() {
        let line =
            "4242 (fido flow) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 25 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat(line), Some(175));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(own_cpu().is_ok());
        assert!(process_cpu(u32::MAX).is_err());
    }
}
