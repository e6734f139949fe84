//! Running git: every call names the directory it works in, and a failure becomes an error
//! carrying git's own message.

use std::path::Path;
use std::process::{Command, Output};

use crate::error::{CoreError, Result};

/// Identity for the commits Flightdeck makes (leftover changes, merge commits) when the
/// repository has none configured; the person's own identity wins when there is one.
const FALLBACK_IDENTITY: [&str; 4] = [
    "-c",
    "user.name=Flightdeck",
    "-c",
    "user.email=flightdeck@localhost",
];

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    // Never ask on a terminal, never open an editor: the runner has no one to answer.
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_EDITOR", "true")
        .env("GIT_MERGE_AUTOEDIT", "no")
        .stdin(std::process::Stdio::null());
    cmd
}

fn spawn_error(e: std::io::Error) -> CoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CoreError::Refused(
            "git is not installed on this device; a worktree run needs it (install git, or \
             run with isolation `shared`)"
                .into(),
        )
    } else {
        CoreError::Refused(format!("cannot run git: {e}"))
    }
}

/// Runs git and returns everything it printed, whatever its exit status.
pub(crate) fn output(dir: &Path, args: &[&str]) -> Result<Output> {
    command(dir, args).output().map_err(spawn_error)
}

/// Runs git; its trimmed stdout, or an error quoting its stderr.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let out = output(dir, args)?;
    if !out.status.success() {
        return Err(CoreError::Refused(format!(
            "`git {}` in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// Whether git exits 0 (for the yes/no questions: is-ancestor, show-ref --verify).
pub(crate) fn succeeds(dir: &Path, args: &[&str]) -> Result<bool> {
    Ok(output(dir, args)?.status.success())
}

/// `git commit` (or `commit-tree`) arguments with the fallback identity when the repository
/// has no `user.email`.
pub(crate) fn with_identity<'a>(dir: &Path, args: &[&'a str]) -> Result<Vec<&'a str>> {
    let mut all = Vec::with_capacity(args.len() + FALLBACK_IDENTITY.len());
    if !succeeds(dir, &["config", "--get", "user.email"])? {
        all.extend(FALLBACK_IDENTITY);
    }
    all.extend_from_slice(args);
    Ok(all)
}
