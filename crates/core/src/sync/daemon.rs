//! Background sync: push soon after every local write (from this process or any other on
//! the same database), pull on a slow interval, and back off with jitter while the server is
//! unreachable. The app keeps working offline throughout; this only catches up.

use std::future::Future;
use std::time::Duration;

use super::account::sync_now;
use super::client::SyncReport;
use crate::error::Result;
use crate::secrets::SecretStore;
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// How often to look for local writes (a cheap `crsql_db_version()` read).
    pub local_poll: Duration,
    /// How often to pull when nothing else prompts it.
    pub pull_interval: Duration,
    /// The longest wait between retries while the server is unreachable.
    pub max_backoff: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            local_poll: Duration::from_millis(100),
            pull_interval: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Exponential backoff with full jitter: a random wait in [base/2, base].
struct Backoff {
    failures: u32,
    max: Duration,
    seed: u64,
}

impl Backoff {
    fn next_wait(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let base = Duration::from_millis(500)
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

/// Runs until `shutdown` completes, calling `on_round` after every sync attempt.
pub async fn run(
    store: &Store,
    secrets: &dyn SecretStore,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    mut on_round: impl FnMut(&Result<SyncReport>),
) -> Result<()> {
    tokio::pin!(shutdown);
    let mut backoff = Backoff {
        failures: 0,
        max: options.max_backoff,
        seed: crate::clock::now_millis() as u64 | 1,
    };
    let mut seen_version: Option<i64> = None;
    let mut next_pull = tokio::time::Instant::now();
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(options.local_poll) => {}
        }
        let now = tokio::time::Instant::now();
        if retry_at.is_some_and(|at| now < at) {
            continue;
        }
        let version = store.db_version()?;
        let local_write = seen_version != Some(version);
        if !(local_write || now >= next_pull || retry_at.is_some()) {
            continue;
        }
        let result = sync_now(store, secrets).await;
        on_round(&result);
        match &result {
            Ok(_) => {
                backoff.failures = 0;
                retry_at = None;
                // Our own pull moved db_version too: remember where the round left it.
                seen_version = Some(store.db_version()?);
                next_pull = tokio::time::Instant::now() + options.pull_interval;
            }
            Err(e) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, retry_in = ?wait, "sync failed; working offline");
                retry_at = Some(tokio::time::Instant::now() + wait);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let mut b = Backoff {
            failures: 0,
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
    }
}
