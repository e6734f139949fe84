//! Support for the cross-component end-to-end tests in `tests/tests/` and the benchmarks in
//! `tests/benches/`: driving the real app through tauri-driver, the real sync server over a
//! throwaway Postgres, and polling for readiness (never sleeping a fixed time).

pub mod app;
pub mod balancer;
// The sync server's own harness, shared rather than copied; its unit tests run there.
pub mod otlp;
#[allow(unused_imports)]
#[path = "../../sync-server/src/testing.rs"]
pub mod pg;
pub mod poll;
pub mod sync_rig;
pub mod webdriver;

/// The tokio runtime the tests and benches drive devices and servers on (two workers: this
/// machine's core count).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}
