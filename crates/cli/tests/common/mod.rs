//! The `flightdeck` binary as the tests drive it: a real process on a temp data dir.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `flightdeck` command on `data`, not yet started.
pub fn command(data: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("FLIGHTDECK_WORKSPACE");
    command
}

pub fn flightdeck(data: &Path, args: &[&str]) -> Run {
    flightdeck_with_stdin(data, args, None)
}

pub fn flightdeck_with_stdin(data: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = command(data, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the flightdeck binary starts");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs a command that must succeed and returns its stdout.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let run = flightdeck(data, args);
    assert_eq!(run.code, 0, "`{}` failed: {}", args.join(" "), run.stderr);
    run.stdout
}

pub fn json(data: &Path, args: &[&str]) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    serde_json::from_str(&ok(data, &with_json)).expect("--json prints JSON")
}

/// A command that must fail: non-zero exit, exactly one stderr line, nothing on stdout.
pub fn fails(data: &Path, args: &[&str]) -> String {
    let run = flightdeck(data, args);
    assert_ne!(run.code, 0, "`{}` should fail", args.join(" "));
    assert_eq!(run.stdout, "", "a failure prints nothing on stdout");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one readable line, got: {:?}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    lines[0].to_string()
}
