//! The write-ahead log's writeback, started early. SQLite copies the WAL into the database
//! once it passes 1,000 pages (its automatic checkpoint, run by the commit that crosses the
//! mark), and first waits for the whole WAL to reach the disk (`fsync`). With about 1,000
//! dirty pages that wait was 3.5-5.8 ms of a 5-8 ms checkpoint: a workflow chain paid it at
//! every 13th step or so, about a sixth of its time.
//!
//! So every [`EVERY`] commits the store asks the kernel to start writing the WAL's dirty pages
//! out (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which queues the writes and does not
//! wait for them), from a thread of its own: the committing thread only drops a note in a
//! channel. The checkpoint's fsync then finds most pages written (about 1 ms). Nothing about
//! what is durable when changes (that is still SQLite's `synchronous = NORMAL`): the disk
//! work only starts earlier, and off the path of the write. Linux only; elsewhere it does
//! nothing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Commits between two writebacks: a chain step's two commits write 40-75 WAL pages, so
/// about 250 pages (1 MB) go out at a time, four times between two checkpoints.
const EVERY: u32 = 8;

pub(super) struct Writeback {
    /// The WAL file (`<database>-wal`); none for a database without a file.
    wal: Option<PathBuf>,
    commits: AtomicU32,
    /// The channel to the thread, started at the first writeback.
    kick: Mutex<Option<SyncSender<()>>>,
    /// Writebacks the kernel accepted (see [`super::Store::wal_writebacks`]).
    started: Arc<AtomicU64>,
}

impl Writeback {
    pub(super) fn new(db: &Path) -> Self {
        let wal = (!db.as_os_str().is_empty()).then(|| {
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            PathBuf::from(wal)
        });
        Self {
            wal,
            commits: AtomicU32::new(0),
            kick: Mutex::new(None),
            started: Arc::default(),
        }
    }

    /// Called after each commit; every [`EVERY`]th hands a writeback to the thread. Never
    /// waits: a writeback still under way absorbs the note.
    pub(super) fn committed(&self) {
        let Some(wal) = &self.wal else { return };
        if !cfg!(target_os = "linux")
            || (self.commits.fetch_add(1, Ordering::Relaxed) + 1) % EVERY != 0
        {
            return;
        }
        let mut kick = self.kick.lock().unwrap_or_else(|p| p.into_inner());
        let tx = kick.get_or_insert_with(|| {
            let (tx, rx) = sync_channel(1);
            let (wal, started) = (wal.clone(), self.started.clone());
            let spawned = std::thread::Builder::new()
                .name("flightdeck-wal-writeback".into())
                .spawn(move || run(&wal, &rx, &started));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no WAL writeback thread; checkpoints wait longer");
            }
            tx
        });
        let _ = tx.try_send(());
    }

    pub(super) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
}

/// The thread: one writeback per note, until the store (the sender) is gone.
fn run(wal: &Path, rx: &Receiver<()>, started: &AtomicU64) {
    let mut file: Option<File> = None;
    while rx.recv().is_ok() {
        // The WAL exists from the first write on and lives as long as a connection is open;
        // one replaced under us (every connection closed meanwhile) is opened again.
        let gone = file.as_ref().is_some_and(|f| {
            use std::os::unix::fs::MetadataExt;
            f.metadata().map_or(true, |m| m.nlink() == 0)
        });
        if file.is_none() || gone {
            file = File::open(wal).ok();
        }
        if let Some(f) = &file {
            match start_writeback(f) {
                Ok(()) => {
                    started.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::debug!(error = %e, "WAL writeback refused"),
            }
        }
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn start_writeback(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a system call on a descriptor that `file` keeps open for its duration; it
    // reads no memory of ours.
    let rc = unsafe {
        nix::libc::sync_file_range(file.as_raw_fd(), 0, 0, nix::libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File) -> std::io::Result<()> {
    Ok(())
}
