//! `runs diff`, `runs merge`, `runs discard`: what a person does with a run that worked in its
//! own git worktree.

use std::io::{BufRead, IsTerminal, Write};

use flightdeck_core::runs::{self, worktree};
use flightdeck_core::{CoreError, Store};
use flightdeck_types::WorktreeRecord;

use crate::output::{table, write_stdout_line, Output};

pub fn diff(store: &Store, id: &str, stat_only: bool, out: &Output) -> Result<(), CoreError> {
    let run = runs::get(store, id)?;
    let found = worktree::diff_of(store, &run.id)?;
    if out.is_json() {
        out.print(&found, String::new);
        return Ok(());
    }
    println!("{}", summary(&found.worktree));
    if !found.worktree.files.is_empty() {
        let rows: Vec<Vec<String>> = found
            .worktree
            .files
            .iter()
            .map(|f| {
                let n = |v: Option<u64>| v.map_or("bin".to_string(), |v| v.to_string());
                vec![
                    format!("+{}", n(f.added)),
                    format!("-{}", n(f.removed)),
                    f.path.clone(),
                ]
            })
            .collect();
        println!("{}", table(&["ADDED", "REMOVED", "FILE"], &rows));
        let listed = found.worktree.files.len() as u64;
        if found.worktree.files_changed > listed {
            println!(
                "... and {} more files",
                found.worktree.files_changed - listed
            );
        }
    }
    if stat_only {
        return Ok(());
    }
    match (&found.diff, &found.missing) {
        (Some(diff), _) => {
            println!();
            for line in diff.lines() {
                write_stdout_line(line);
            }
            if found.worktree.diff_truncated {
                eprintln!(
                    "note: the diff was cut at {} KiB of {} KiB; `git diff {}..{}` in {} shows \
                     it all",
                    worktree::DIFF_CAP / 1024,
                    found.worktree.diff_bytes / 1024,
                    short(&found.worktree.base_commit),
                    found.worktree.branch,
                    found.worktree.repository
                );
            }
        }
        (None, Some(why)) => eprintln!("note: {why}"),
        (None, None) => {}
    }
    Ok(())
}

pub fn merge(store: &Store, id: &str, out: &Output) -> Result<(), CoreError> {
    let run = runs::get(store, id)?;
    match worktree::merge(store, &run.id)? {
        worktree::MergeOutcome::Merged {
            commit,
            fast_forward,
        } => {
            let merged = worktree::diff_of(store, &run.id)?.worktree;
            let outcome = worktree::MergeOutcome::Merged {
                commit: commit.clone(),
                fast_forward,
            };
            out.print(&outcome, || {
                format!(
                    "merged {} into {} ({}, now at {})",
                    merged.branch,
                    merged.base_branch,
                    if fast_forward {
                        "fast-forward"
                    } else {
                        "merge commit"
                    },
                    short(&commit)
                )
            });
            Ok(())
        }
        worktree::MergeOutcome::Conflict { files } => {
            if out.is_json() {
                out.print(
                    &worktree::MergeOutcome::Conflict {
                        files: files.clone(),
                    },
                    String::new,
                );
            }
            Err(CoreError::Refused(format!(
                "the branch of run {} conflicts with its base in {}; nothing was merged (resolve \
                 it in the worktree with `git merge` of the base, then merge again)",
                run.id,
                files.join(", ")
            )))
        }
    }
}

pub fn discard(store: &Store, id: &str, yes: bool, out: &Output) -> Result<(), CoreError> {
    let run = runs::get(store, id)?;
    let record = worktree::diff_of(store, &run.id)?.worktree;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CoreError::invalid(
                "yes",
                "discarding deletes the worktree and its branch; add --yes to do it without \
                 being asked",
            ));
        }
        eprint!(
            "Delete the worktree {} and the branch {} ({} files changed, {})? [y/N] ",
            record.path, record.branch, record.files_changed, record.state
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Err(CoreError::Refused("nothing was discarded".into()));
        }
    }
    let record = worktree::discard(store, &run.id)?;
    out.print(&record, || {
        format!(
            "discarded the worktree and branch {} of run {}",
            record.branch, run.id
        )
    });
    Ok(())
}

pub fn worktrees(
    store: &Store,
    clean: bool,
    retention_days: Option<u32>,
    out: &Output,
) -> Result<(), CoreError> {
    use worktree::clean::{self as cleanup, WorktreeSettings};
    if let Some(days) = retention_days {
        cleanup::set_settings(
            store,
            WorktreeSettings {
                retention_days: days,
            },
        )?;
    }
    let settings = cleanup::settings(store)?;
    if clean {
        let report = cleanup::clean(store, flightdeck_core::clock::now())?;
        out.print(&report, || {
            let mut lines = vec![format!(
                "removed {} merged worktree(s) older than {} days",
                report.removed.len(),
                settings.retention_days
            )];
            lines.extend(
                report
                    .removed
                    .iter()
                    .map(|e| format!("  removed {} ({})", e.path, e.branch)),
            );
            lines.extend(
                report
                    .kept
                    .iter()
                    .map(|(e, why)| format!("  kept {} ({}): {why}", e.path, e.branch)),
            );
            lines.join("\n")
        });
        return Ok(());
    }
    let found = cleanup::list(store)?;
    out.print(&found, || {
        if found.is_empty() {
            return "no run on this device has a worktree; agent runs get one when their \
                    environment's repository is a local git repository"
                .into();
        }
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|e| {
                vec![
                    e.run_id.clone(),
                    e.state.to_string(),
                    e.finished_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "running".into()),
                    e.branch.clone(),
                    if e.present {
                        e.path.clone()
                    } else {
                        format!("{} (removed)", e.path)
                    },
                ]
            })
            .collect();
        format!(
            "{}\nmerged worktrees are removed {} days after their run ended \
             (`--retention-days N` changes it)",
            table(&["RUN", "STATE", "ENDED", "BRANCH", "WORKTREE"], &rows),
            settings.retention_days
        )
    });
    Ok(())
}

fn summary(r: &WorktreeRecord) -> String {
    format!(
        "branch {} from {} at {} ({}): {} files changed, +{} -{}{}\nworktree {} on device {}",
        r.branch,
        r.base_branch,
        short(&r.base_commit),
        r.state,
        r.files_changed,
        r.lines_added,
        r.lines_removed,
        if r.committed_leftovers {
            " (changes left uncommitted were committed by Flightdeck)"
        } else {
            ""
        },
        r.path,
        r.device_id
    )
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
