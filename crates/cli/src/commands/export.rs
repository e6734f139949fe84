//! `flightdeck export`: the workspace as one compressed NDJSON file (see
//! `flightdeck_core::export`), with a progress line on a terminal; `flightdeck import`: one
//! brought in (see `flightdeck_core::import`).

use std::io::IsTerminal;
use std::path::PathBuf;

use flightdeck_core::export::{self, ExportOptions, Manifest, SecretName};
use flightdeck_core::health::human_bytes;
use flightdeck_core::{CoreError, Store};

use crate::args::{ExportArgs, ImportArgs};
use crate::output::Output;

pub fn run(
    store: &Store,
    workspace: &str,
    args: &ExportArgs,
    out: &Output,
) -> Result<(), CoreError> {
    let entities: Vec<String> = args
        .entities
        .iter()
        .flat_map(|e| e.split(','))
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    // Refused before any file is made.
    export::entities(&entities)?;
    let now = flightdeck_core::clock::now();
    let since = args
        .since
        .as_deref()
        .map(|t| super::restore::instant(t, now))
        .transpose()?;
    let options = ExportOptions {
        workspace: workspace.to_string(),
        entities,
        since,
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    let mut progress = |p: &flightdeck_types::TransferProgress| {
        if show {
            eprint!(
                "\rexporting: {} of {} records, {} written",
                p.records,
                p.total.unwrap_or(p.records),
                human_bytes(p.bytes)
            );
        }
    };
    let to_stdout = args.output.as_deref() == Some(std::path::Path::new("-"));
    if to_stdout {
        let manifest = export::export(
            store,
            &options,
            &mut std::io::stdout().lock(),
            &mut progress,
        )?;
        if show {
            eprintln!();
        }
        // stdout is the archive: the summary goes to stderr.
        eprintln!("{}", summary(&manifest, "standard output", None));
        return Ok(());
    }
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(export::default_file_name(workspace, now)));
    let written = export::export_to_file(store, &options, &path, &mut progress);
    if show {
        eprintln!();
    }
    let (manifest, bytes) = written?;
    let bytes = Some(bytes);
    out.print(&manifest, || {
        summary(&manifest, &path.display().to_string(), bytes)
    });
    Ok(())
}

fn summary(m: &Manifest, to: &str, bytes: Option<u64>) -> String {
    let total: u64 = m.counts.values().sum();
    let mut text = format!(
        "exported {total} records{} to {to}\n",
        bytes
            .map(|b| format!(" ({})", human_bytes(b)))
            .unwrap_or_default()
    );
    let counts: Vec<String> = m.counts.iter().map(|(e, n)| format!("{e} {n}")).collect();
    text.push_str(&format!("  {}", counts.join(", ")));
    if !m.secrets.is_empty() {
        text.push_str(&format!(
            "\nsecret values stay in this machine's keyring; set them again after an import: {}",
            secret_list(&m.secrets)
        ));
    }
    text
}

/// Secret names as people type them: `ENV/NAME, ...`.
fn secret_list(secrets: &[SecretName]) -> String {
    secrets
        .iter()
        .map(|s| format!("{}/{}", s.environment, s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn import(store: &Store, args: &ImportArgs, out: &Output) -> Result<(), CoreError> {
    use flightdeck_core::import::OnConflict;
    use flightdeck_core::import_tasks::{self, Mapping};
    let policy = match args.on_conflict.as_str() {
        "overwrite" => OnConflict::Overwrite,
        "newer" => OnConflict::Newer,
        _ => OnConflict::Skip,
    };
    let dry_run = args.dry_run;
    let from = match args.from.as_deref() {
        Some(kind) => kind.to_string(),
        None => import_tasks::detect(&args.file)?.to_string(),
    };
    let mapping = Mapping {
        columns: pairs("map", &args.map)?,
        statuses: pairs("status-map", &args.status_map)?,
        priorities: pairs("priority-map", &args.priority_map)?,
        repo: args.repo.clone(),
    };
    for (given, flag, kinds) in [
        (!args.map.is_empty(), "--map", "csv"),
        (args.repo.is_some(), "--repo", "github"),
        (
            !mapping.statuses.is_empty(),
            "--status-map",
            "csv or github",
        ),
        (
            !mapping.priorities.is_empty(),
            "--priority-map",
            "csv or github",
        ),
    ] {
        if given && !kinds.contains(from.as_str()) {
            return Err(CoreError::invalid(
                flag.trim_start_matches('-'),
                format!("{flag} is for a {kinds} file; {} is read as {from} (say what it is with --from)", args.file.display()),
            ));
        }
    }
    let show = !args.quiet && std::io::stderr().is_terminal();
    let mut progress = |p: &flightdeck_types::TransferProgress| {
        if show {
            let line = match p.total {
                Some(total) => format!("{}: {} of {total} records", p.phase, p.records),
                None => format!("{}: {} records", p.phase, p.records),
            };
            // Padded: a shorter line overwrites all of the one before.
            eprint!("\r{line:<40}");
        }
    };
    let report = import_tasks::import_file(
        store,
        &args.file,
        &from,
        &mapping,
        policy,
        dry_run,
        &mut progress,
    );
    if show {
        eprintln!();
    }
    let report = report?;
    out.print(&report, || {
        let rows: Vec<Vec<String>> = report
            .entities
            .iter()
            .map(|(e, c)| {
                vec![
                    e.clone(),
                    c.created.to_string(),
                    c.updated.to_string(),
                    c.unchanged.to_string(),
                    c.skipped.to_string(),
                ]
            })
            .collect();
        let mut text = format!(
            "{}\n{}",
            if dry_run {
                "dry run: nothing written; an import would do this"
            } else {
                "imported"
            },
            crate::output::table(
                &["ENTITY", "CREATED", "UPDATED", "UNCHANGED", "SKIPPED"],
                &rows
            )
        );
        if !report.secrets_to_set.is_empty() {
            text.push_str(&format!(
                "\nsecrets to set again here (`env secret set ENV KEY`): {}",
                secret_list(&report.secrets_to_set)
            ));
        }

        text
    });
    Ok(())
}

/// `A=B,C=D` values (the flag may be given more than once) as pairs; each needs its `=`.
fn pairs(flag: &str, values: &[String]) -> Result<Vec<(String, String)>, CoreError> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once('=') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                Ok((a.trim().to_string(), b.trim().to_string()))
            }
            _ => Err(CoreError::invalid(
                flag,
                format!(
                    "--{flag} `{p}` is not NAME=VALUE (e.g. --{flag} '{}')",
                    match flag {
                        "map" => "title=Summary",
                        "status-map" => "Wontfix=cancelled",
                        _ => "S1=urgent",
                    }
                ),
            )),
        })
        .collect()
}
