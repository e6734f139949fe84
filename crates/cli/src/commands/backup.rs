//! `flightdeck backup now|list|restore FILE`

use std::sync::Arc;

use flightdeck_core::{backup, CoreError, Store};

use crate::args::BackupCommand;
use crate::output::{table, Output};

pub fn run(store: Arc<Store>, cmd: &BackupCommand, out: &Output) -> Result<(), CoreError> {
    match cmd {
        BackupCommand::Now => {
            let made = backup::now(&store, "manual")?;
            out.print(&made, || {
                format!(
                    "backed up to {} ({} bytes; integrity_check ok)",
                    made.file.display(),
                    made.bytes
                )
            });
        }
        BackupCommand::List => {
            let found = backup::list(store.path())?;
            out.print(&found, || {
                if found.is_empty() {
                    return "no backups yet (`flightdeck backup now` makes one)".to_string();
                }
                let rows: Vec<Vec<String>> = found
                    .iter()
                    .map(|b| {
                        vec![
                            b.created_at.to_string(),
                            b.kind.clone(),
                            b.bytes.to_string(),
                            b.file.display().to_string(),
                        ]
                    })
                    .collect();
                table(&["CREATED", "KIND", "BYTES", "FILE"], &rows)
            });
        }
        BackupCommand::Restore { file } => {
            // Held while the file is swapped, so that no app or daemon starts on it meanwhile.
            let lock =
                match flightdeck_core::runs::lock::WorkerLock::acquire(&store, "backup restore") {
                    Ok(lock) => lock,
                    Err(CoreError::Refused(_)) => {
                        let holder = flightdeck_core::runs::lock::worker_holder(&store)
                            .unwrap_or_else(|| "another process".into());
                        return Err(CoreError::Refused(format!(
                            "the workspace is in use by {holder}; stop it (quit the app, stop the \
                         daemon) and restore again"
                        )));
                    }
                    Err(e) => return Err(e),
                };
            let joined = flightdeck_core::sync::account::status(&store)?.joined;
            let db = store.path().to_path_buf();
            // Closed before its file is moved.
            drop(store);
            let restored = backup::restore(&db, file);
            drop(lock);
            let restored = restored?;
            out.print(&restored, || {
                let mut text = format!(
                    "restored {} in place of the database; the one that was there is kept at {}",
                    restored.from.display(),
                    restored.kept_aside.display()
                );
                if joined {
                    text.push_str(
                        "\nthis device has joined a sync server: at its next sync it pulls \
                         what changed there since the backup, and pushes what it has",
                    );
                }
                text
            });
        }
    }
    Ok(())
}
