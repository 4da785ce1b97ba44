//! Latency samples and their summary.

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;

/// Raw outcome of one load phase (or several merged).
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Latency of every successful call, in nanoseconds.
    pub latencies_ns: Vec<u64>,
    /// Failed calls by message.
    pub errors: BTreeMap<String, u64>,
    /// Length of the measured window(s).
    pub elapsed: Duration,
}

impl Samples {
    /// Adds `other` (another window or another worker) to these samples.
    pub fn merge(&mut self, other: Samples, same_window: bool) {
        self.latencies_ns.extend(other.latencies_ns);
        for (message, count) in other.errors {
            *self.errors.entry(message).or_default() += count;
        }
        if same_window {
            self.elapsed = self.elapsed.max(other.elapsed);
        } else {
            self.elapsed += other.elapsed;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn summary(&self) -> Summary {
        let mut sorted = self.latencies_ns.clone();
        sorted.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        let pick = |q: f64| ms(percentile(&sorted, q));
        let secs = self.elapsed.as_secs_f64();
        let calls = sorted.len() as u64;
        Summary {
            calls,
            errors: self.error_count(),
            error_kinds: self.errors.clone(),
            seconds: secs,
            throughput: if secs > 0.0 { calls as f64 / secs } else { 0.0 },
            mean_ms: ms(sorted
                .iter()
                .sum::<u64>()
                .checked_div(calls)
                .unwrap_or_default()),
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            max_ms: ms(sorted.last().copied().unwrap_or_default()),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when there are none).
pub(crate) fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What the tables show about a set of samples.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Successful calls in the measured window.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// Failed calls by message.
    pub error_kinds: BTreeMap<String, u64>,
    /// Length of the measured window.
    pub seconds: f64,
    /// Successful calls per second.
    pub throughput: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Median of a few values (0 when empty).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
