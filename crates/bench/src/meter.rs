//! What a hop costs while one phase runs: CPU and peak memory of the
//! processes on a path, and the wait until a hop has finished deferred work.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::procs;

/// CPU and memory of the processes around one measured phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// CPU seconds of the hop (nginx master + workers; the gateway; for D the
    /// gateway plus its stdio echo server).
    pub hop_cpu_s: f64,
    /// Peak RSS of the hop during the phase (nginx: sum over its processes;
    /// C and D: the gateway process alone).
    pub hop_peak_rss: u64,
    /// CPU seconds of the echo server that answered.
    pub upstream_cpu_s: f64,
    /// CPU seconds of this load generator.
    pub client_cpu_s: f64,
    /// Seconds the hop stayed busy after the load stopped (counted in its CPU).
    pub drain_s: f64,
}

/// Longest wait for a hop to go idle after a phase.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// A hop using less CPU than this share of one core is idle.
const IDLE_SHARE: f64 = 0.05;

/// Waits until `pids` are idle (at most [`DRAIN_LIMIT`]); returns how long that took.
pub(crate) async fn settle(pids: &[u32]) -> Duration {
    let started = Instant::now();
    if pids.is_empty() {
        return Duration::ZERO;
    }
    let window = Duration::from_millis(200);
    loop {
        let before = cpu_sum(pids);
        tokio::time::sleep(window).await;
        let used = cpu_sum(pids) - before;
        if used <= IDLE_SHARE * window.as_secs_f64() || started.elapsed() >= DRAIN_LIMIT {
            // The idle window itself is not drain time.
            return started.elapsed().saturating_sub(window);
        }
    }
}

/// The processes to watch for one path.
pub(crate) struct Watch {
    pub hop_cpu: Vec<u32>,
    pub hop_rss: Vec<u32>,
    pub upstream: Vec<u32>,
}

pub(crate) struct Meter<'a> {
    watch: &'a Watch,
    start: [f64; 3],
    pub peak_reset: bool,
}

fn cpu_sum(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&p| procs::stat(p))
        .map(|s| s.cpu)
        .sum()
}

impl<'a> Meter<'a> {
    pub fn begin(watch: &'a Watch) -> Self {
        let peak_reset = watch.hop_rss.iter().all(|&p| procs::reset_peak(p));
        let me = std::process::id();
        let start = [
            cpu_sum(&watch.hop_cpu),
            cpu_sum(&watch.upstream),
            cpu_sum(&[me]),
        ];
        Self {
            watch,
            start,
            peak_reset,
        }
    }

    pub fn end(self) -> Usage {
        let me = std::process::id();
        let hop_peak_rss = self
            .watch
            .hop_rss
            .iter()
            .filter_map(|&p| procs::stat(p))
            .map(|s| if self.peak_reset { s.hwm } else { s.rss })
            .sum();
        Usage {
            hop_cpu_s: cpu_sum(&self.watch.hop_cpu) - self.start[0],
            hop_peak_rss,
            upstream_cpu_s: cpu_sum(&self.watch.upstream) - self.start[1],
            client_cpu_s: cpu_sum(&[me]) - self.start[2],
            drain_s: 0.0,
        }
    }
}
