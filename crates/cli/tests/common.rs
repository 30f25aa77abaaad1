//! Helpers shared by the CLI tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// `liveboot -C <root> ARGS...`.
pub fn liveboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveboot")).arg("-C").arg(root()).args(args).output().expect("liveboot runs")
}

/// A host tool the tests need. Missing tools fail the test: CI installs them (`cargo xtask deps`).
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    assert!(found, "{name} is not installed: run `cargo xtask deps` (the README's test command does)");
    Command::new(name)
}

/// Runs a command and returns its stdout, failing the test with its stderr when it fails.
pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
