//! Support for the cross-component end-to-end tests in `tests/tests/`: driving the real app
//! through tauri-driver, and polling for readiness (never sleeping a fixed time).

pub mod app;
pub mod poll;
pub mod webdriver;
