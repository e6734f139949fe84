//! Waiting for a condition by polling it, with a deadline and a message when it never holds.

use std::time::{Duration, Instant};

/// Calls `probe` until it returns `Some`, at most until `timeout`; panics naming `what`
/// (and the last error, if `probe` reports one) when it never does.
pub fn until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let last = match probe() {
            Ok(Some(value)) => return value,
            Ok(None) => "not yet".to_string(),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what} (last: {last})");
        }
        // Back off up to 200 ms between probes: responsive, without spinning a core.
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// [`until`] for async tests: waits with the runtime's timer, so that the tasks under test
/// keep running on the test's workers meanwhile.
pub async fn until_async<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let last = match probe() {
            Ok(Some(value)) => return value,
            Ok(None) => "not yet".to_string(),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what} (last: {last})");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
