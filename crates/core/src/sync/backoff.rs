//! Exponential backoff with jitter, for retrying a server that is away.

use std::time::Duration;

pub struct Backoff {
    failures: u32,
    base: Duration,
    max: Duration,
    seed: u64,
}

/// The first wait after a failure, unless told otherwise.
pub const DEFAULT_BASE: Duration = Duration::from_millis(500);

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Self::with_base(DEFAULT_BASE, max)
    }

    pub fn with_base(base: Duration, max: Duration) -> Self {
        Self {
            failures: 0,
            base,
            max,
            seed: crate::clock::now_millis() as u64 | 1,
        }
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The wait before the next attempt: `base` (0.5 s) doubling per failure up to `max`,
    /// then a random point in [wait/2, wait] so that many clients do not retry in step.
    pub fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let base = self
            .base
            .saturating_mul(1 << self.failures.min(10))
            .min(self.max);
        // xorshift: jitter needs spread, not cryptographic quality.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let fraction = (self.seed % 1000) as f64 / 1000.0;
        base.mul_f64(0.5 + fraction / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_up_to_the_cap() {
        let mut b = Backoff {
            failures: 0,
            base: DEFAULT_BASE,
            max: Duration::from_secs(60),
            seed: 42,
        };
        let waits: Vec<Duration> = (0..12).map(|_| b.next_wait()).collect();
        assert!(waits[0] >= Duration::from_millis(500) && waits[0] <= Duration::from_secs(1));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(60)));
        assert!(
            waits[11] >= Duration::from_secs(30),
            "capped near the max: {:?}",
            waits[11]
        );
        assert!(waits.windows(2).any(|w| w[0] != w[1]));
        b.reset();
        assert!(b.next_wait() <= Duration::from_secs(1));
    }
}
