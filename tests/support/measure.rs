//! What tests and benchmarks read off a run: a process's memory from `/proc`, the time
//! a `warp speed` line reports, the round trips `warp ping` prints.

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`). Panics when it cannot be
/// read: a bound checked against 0 would pass for nothing.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The round trips `warp ping` printed (`time=0.204 ms`), in milliseconds.
pub fn ping_ms(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.trim_end_matches(" ms").parse().ok())
        .collect()
}

/// Resident memory of process `pid` now, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// Peak resident memory of process `pid` so far, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// Seconds from a `warp speed` line: `sent … in 1.23 s: …`.
pub fn speed_secs(out: &str) -> f64 {
    out.split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a warp speed line: {out}"))
}
