//! The worker lock: one runner/scheduler per workspace database. An OS advisory lock (flock)
//! on `<db>.worker.lock` is the guard, so a process that dies releases it with no clean-up;
//! the holder is also recorded in the local `locks` table for display.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{CoreError, Result};
use crate::store::{locks, Store};

pub const WORKER_LOCK: &str = "worker";

/// Held while alive; dropping it releases the lock.
pub struct WorkerLock {
    file: Option<Flock<File>>,
    path: PathBuf,
    db: PathBuf,
    pid: i64,
}

impl std::fmt::Debug for WorkerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerLock")
            .field("path", &self.path)
            .field("pid", &self.pid)
            .finish()
    }
}

pub fn lock_path(store: &Store) -> PathBuf {
    let mut name = store.path().as_os_str().to_owned();
    name.push(".worker.lock");
    PathBuf::from(name)
}

/// Who holds this workspace's worker lock (the daemon, the app, a foreground run), if anyone:
/// `None` means nothing runs this device's queued work until one starts. Read by taking a
/// shared lock for an instant, which only an exclusive holder refuses.
pub fn worker_holder(store: &Store) -> Option<String> {
    let path = lock_path(store);
    let file = OpenOptions::new().read(true).open(&path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(shared) => {
            drop(shared);
            None
        }
        Err((mut file, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
            let mut who = String::new();
            let _ = file.read_to_string(&mut who);
            Some(match who.trim() {
                "" => "another process".to_string(),
                who => who.to_string(),
            })
        }
        Err(_) => None,
    }
}

/// What to tell a person whose run waits on this device with nothing to run it.
pub const NO_WORKER: &str =
    "queued: no worker is running on this workspace; start `flightdeck daemon` (or the app) \
     to run it";

impl WorkerLock {
    /// Takes the lock for `holder` (e.g. "daemon", "app"), or refuses naming who has it.
    pub fn acquire(store: &Store, holder: &str) -> Result<Self> {
        let path = lock_path(store);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CoreError::io(format!("cannot open {}", path.display()), e))?;
        let mut flock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut file, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                let who = who.trim();
                let who = if who.is_empty() {
                    "another process"
                } else {
                    who
                };
                return Err(CoreError::Refused(format!(
                    "the workspace's runner is already running ({who}); stop it first, or let \
                     it run the work (lock file {})",
                    path.display()
                )));
            }
            Err((_, errno)) => {
                return Err(CoreError::io(
                    format!("cannot lock {}", path.display()),
                    std::io::Error::from(errno),
                ))
            }
        };
        let pid = i64::from(std::process::id());
        let label = format!("{holder} pid {pid}");
        flock
            .set_len(0)
            .and_then(|_| flock.rewind())
            .and_then(|_| flock.write_all(label.as_bytes()))
            .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))?;
        store.write(|w| locks::upsert(w, WORKER_LOCK, holder, pid, w.now().as_millis()))?;
        Ok(Self {
            file: Some(flock),
            path,
            db: store.path().to_path_buf(),
            pid,
        })
    }

    pub fn pid(&self) -> i64 {
        self.pid
    }

    /// Releases the lock and clears the `locks` row.
    pub fn release(mut self, store: &Store) -> Result<()> {
        debug_assert_eq!(store.path(), self.db);
        store.write(|w| locks::release(w, WORKER_LOCK, self.pid))?;
        self.unlock();
        Ok(())
    }

    fn unlock(&mut self) {
        if let Some(flock) = self.file.take() {
            let _ = flock.set_len(0);
            let _ = flock.unlock();
        }
    }
}

impl Drop for WorkerLock {
    fn drop(&mut self) {
        // The `locks` row may stay behind (no store here); readers check the file lock.
        self.unlock();
    }
}
