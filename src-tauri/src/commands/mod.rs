//! The shell's `#[tauri::command]`s, one module per domain. Each command is thin: it takes
//! the store from managed state, calls the engine and maps failures to
//! [`crate::error::CommandError`].

pub mod app;
pub mod environments;
pub mod errors;
pub mod insights;
pub mod memory;
pub mod runs;
pub mod schedules;
pub mod sync;
pub mod tasks;
pub mod transfer;
pub mod workflows;
