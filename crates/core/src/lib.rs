//! The Flightdeck engine: the local CRDT store and everything built on it. No UI here; the
//! CLI and the desktop shell are thin layers over this crate.

pub mod audit;
pub mod backup;
pub mod clock;
pub mod compare;
pub mod environments;
pub mod error;
pub mod export;
pub mod failpoint;
pub mod health;
pub mod ids;
pub mod import;
pub mod import_tasks;
pub mod insights;
pub mod memory;
pub mod paths;
pub mod recovery;
pub mod replay;
pub mod restore;
pub mod retention;
pub mod runs;
pub mod schedules;
pub mod secrets;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod telemetry;
pub mod trust;
pub mod worker;
pub mod workflows;

pub use error::{CoreError, Result};
pub use store::Store;
