//! Real git for the worktree tests and benches (core, CLI and app): one command, its stdout,
//! and a failure that names the command and quotes git. Commits get a fixed identity, since a
//! test machine may have none.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Command;

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}
