//! Finding and loading the SQLite extensions every connection needs: cr-sqlite (a loadable
//! `.so` built by set-up, since it is not on crates.io) and sqlite-vec (compiled in).
#![allow(unsafe_code)] // extension loading is FFI by nature; each block says why it is sound.

use std::path::{Path, PathBuf};
use std::sync::Once;

use rusqlite::Connection;

use crate::error::{CoreError, Result};

/// Overrides where cr-sqlite is loaded from.
pub const CRSQLITE_PATH_ENV: &str = "FLIGHTDECK_CRSQLITE_PATH";
const CRSQLITE_FILE: &str = "crsqlite.so";
const CRSQLITE_ENTRY_POINT: &str = "sqlite3_crsqlite_init";

/// Registers sqlite-vec for every connection this process opens from now on.
pub(crate) fn register_sqlite_vec() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        type EntryPoint = unsafe extern "C" fn(
            *mut rusqlite::ffi::sqlite3,
            *mut *mut std::os::raw::c_char,
            *const rusqlite::ffi::sqlite3_api_routines,
        ) -> std::os::raw::c_int;
        // SAFETY: sqlite3_vec_init is a C extension entry point with exactly the signature
        // SQLite's auto-extension mechanism calls; the crate declares it without arguments,
        // so the pointer is reinterpreted, not changed. It is 'static and registered once.
        unsafe {
            let entry: EntryPoint = std::mem::transmute::<*const (), EntryPoint>(
                sqlite_vec::sqlite3_vec_init as *const (),
            );
            rusqlite::ffi::sqlite3_auto_extension(Some(entry));
        }
    });
}

/// Where to look for cr-sqlite, in order: the environment variable, beside the executable
/// (a dev build of the app copies its bundle resources there; an installed bundle keeps them
/// in `../lib/Flightdeck`), then the repository's `.deps/` where set-up builds it.
pub fn crsqlite_candidates() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(path) = std::env::var_os(CRSQLITE_PATH_ENV) {
        paths.push(PathBuf::from(path));
        return paths;
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            paths.push(dir.join(CRSQLITE_FILE));
            paths.push(dir.join("../lib/flightdeck").join(CRSQLITE_FILE));
            // Where the app's Linux bundles (deb, rpm) put Tauri resources.
            paths.push(dir.join("../lib/Flightdeck").join(CRSQLITE_FILE));
        }
    }
    paths.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.deps/crsqlite")
            .join(CRSQLITE_FILE),
    );
    paths
}

pub fn find_crsqlite() -> Result<PathBuf> {
    let candidates = crsqlite_candidates();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            CoreError::Extension(format!(
                "cr-sqlite extension not found (looked in {}); run scripts/setup.sh to build it \
                 or set {CRSQLITE_PATH_ENV} to its path",
                looked.join(", ")
            ))
        })
}

pub(crate) fn load_crsqlite(conn: &Connection, path: &Path) -> Result<()> {
    // SAFETY: loading an extension runs its init code in-process. The path is our own
    // build of cr-sqlite (or one the user pointed us at on purpose); the guard re-disables
    // extension loading as soon as it is done, so SQL cannot load anything else.
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(conn)?;
        conn.load_extension(path, Some(CRSQLITE_ENTRY_POINT))
    }
    .map_err(|e| {
        CoreError::Extension(format!(
            "could not load cr-sqlite from {}: {e}; rebuild it with scripts/setup.sh",
            path.display()
        ))
    })
}
