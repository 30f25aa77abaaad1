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

/// A file of an ISO, read with xorriso.
pub fn extract_from_iso(iso: &Path, path: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f");
    stdout(tool("xorriso").args(["-osirrox", "on", "-indev"]).arg(iso).args(["-extract", path]).arg(&dest));
    std::fs::read_to_string(dest).unwrap()
}

/// `xorriso -report_el_torito as_mkisofs`, with the file the system area and appended
/// partitions are read from (`--interval:local_fs:…'<path>'`) left out: it names the image
/// itself and where in it they lie.
pub fn boot_records(iso: &Path) -> Vec<String> {
    let out = stdout(tool("xorriso").args(["-report_about", "SORRY", "-indev"]).arg(iso).args(["-report_el_torito", "as_mkisofs"]));
    out.lines()
        .map(|l| match l.find("--interval:local_fs:") {
            Some(at) => format!("{}--interval:local_fs:<in the image>", &l[..at]),
            None => l.to_string(),
        })
        .collect()
}

/// Copies a folder.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
