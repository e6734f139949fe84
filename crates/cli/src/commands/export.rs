//! `flightdeck export`: the workspace as one compressed NDJSON file (see
//! `flightdeck_core::export`), with a progress line on a terminal; `flightdeck import`: one
//! brought in (see `flightdeck_core::import`).

use std::io::{IsTerminal, Write};
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
    let mut progress = |records: u64, bytes: u64| {
        if show {
            eprint!(
                "\rexporting: {records} records, {} written",
                human_bytes(bytes)
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
    let path = args.output.clone().unwrap_or_else(|| {
        let stamp = now.to_rfc3339().replace([':', '-'], "");
        PathBuf::from(format!(
            "flightdeck-{workspace}-{}.ndjson.zst",
            &stamp[..stamp.find('.').unwrap_or(stamp.len())]
        ))
    });
    // Written beside its name and renamed once whole: a failed export leaves no half file.
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file = std::fs::File::create(&partial)
        .map_err(|e| CoreError::io(format!("cannot create {}", partial.display()), e))?;
    let mut writer = std::io::BufWriter::new(file);
    let written = export::export(store, &options, &mut writer, &mut progress).and_then(|m| {
        writer
            .flush()
            .and_then(|_| writer.get_ref().sync_all())
            .map_err(|e| CoreError::io(format!("cannot write {}", partial.display()), e))?;
        std::fs::rename(&partial, &path)
            .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))?;
        Ok(m)
    });
    if show {
        eprintln!();
    }
    let manifest = match written {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let bytes = std::fs::metadata(&path).map(|m| m.len()).ok();
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
    use flightdeck_core::import::{self, OnConflict};
    use flightdeck_core::import_tasks::{self, Mapping, Source};
    let policy = match args.on_conflict.as_str() {
        "overwrite" => OnConflict::Overwrite,
        "newer" => OnConflict::Newer,
        _ => OnConflict::Skip,
    };
    let dry_run = args.dry_run;
    let path = args.file.clone();
    let read_error = |e| CoreError::io(format!("cannot read {}", args.file.display()), e);
    let from = match args.from.as_deref() {
        Some(kind) => kind.to_string(),
        None => detect(&args.file).map_err(read_error)?.to_string(),
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
    let report = match from.as_str() {
        "archive" => {
            let open = move || -> Result<Box<dyn std::io::Read>, CoreError> {
                let f = std::fs::File::open(&path)
                    .map_err(|e| CoreError::io(format!("cannot read {}", path.display()), e))?;
                Ok(Box::new(std::io::BufReader::new(f)))
            };
            import::import(store, &open, policy, dry_run)?
        }
        kind => {
            let source = if kind == "github" {
                Source::GitHub
            } else {
                Source::Csv
            };
            let bytes = std::fs::read(&args.file).map_err(read_error)?;
            import_tasks::import(store, source, &bytes, &mapping, policy, dry_run)?
        }
    };
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

/// What a file to import is, from its first bytes: zstd's magic number is an archive, a JSON
/// list GitHub issues, anything else CSV.
fn detect(file: &std::path::Path) -> std::io::Result<&'static str> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(file)?
        .take(4096)
        .read_to_end(&mut head)?;
    if head.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        return Ok("archive");
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    Ok(match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => "github",
        _ => "csv",
    })
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
