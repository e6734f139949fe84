//! Failpoints: places where a test can make this process die on purpose, to hit a crash
//! window exactly instead of by chance. Armed with `FLIGHTDECK_FAILPOINT=NAME` or
//! `NAME:STEP` (only for that workflow step's run); compiled out of release builds, where
//! [`hit`] does nothing.
//!
//! - `step-exited`: a run's command has ended (its side effects are done) and its end, with
//!   the workflow checkpoint that records it, is not yet committed.

/// Dies here with SIGKILL (no clean-up runs) when `name` is armed for `step`.
#[cfg(debug_assertions)]
pub fn hit(name: &str, step: Option<&str>) {
    let Ok(armed) = std::env::var("FLIGHTDECK_FAILPOINT") else {
        return;
    };
    let (armed_name, armed_step) = match armed.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (armed.as_str(), None),
    };
    if armed_name == name && (armed_step.is_none() || armed_step == step) {
        eprintln!("failpoint `{name}` hit: this process kills itself");
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    }
}

#[cfg(not(debug_assertions))]
pub fn hit(_name: &str, _step: Option<&str>) {}
