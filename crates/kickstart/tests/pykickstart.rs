//! liveboot's kickstart reading checked against pykickstart itself (the pinned version in the
//! test venv) on real kickstarts written by others: Fedora 37's spin kickstarts and Rocky 9's
//! live and flattened kickstarts (`tests/real/`, sources in `tests/real/SOURCE.md`).
//!
//! For every file: pykickstart reads liveboot's flattened file to exactly what it reads from the
//! original (ksflatten's output of both is equal byte for byte), and liveboot's `%packages` and
//! scripts equal pykickstart's.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin/python");
    assert!(p.exists(), "{} is missing: run `cargo xtask deps` (the README's test command does)", p.display());
    p
}

/// pykickstart's reading of `files` as `version`, one JSON object per file.
fn pykickstart(version: &str, files: &[PathBuf]) -> Vec<Value> {
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pykickstart_read.py"))
        .arg(version)
        .args(files)
        .output()
        .expect("run pykickstart");
    assert!(out.status.success(), "pykickstart_read.py failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn kickstarts(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real").join(dir);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "ks")).collect();
    files.sort();
    assert!(!files.is_empty(), "no kickstarts in {}", dir.display());
    files
}

/// Reads each file with liveboot and pykickstart, flattens it with liveboot, reads the flattened
/// file with pykickstart, and compares.
fn compare(version: &'static str, files: &[PathBuf]) {
    let originals = pykickstart(version, files);
    let tmp = tempfile::tempdir().unwrap();
    let mut flats = Vec::new();
    for (file, py) in files.iter().zip(&originals) {
        assert!(py["error"].is_null(), "pykickstart fails on {}: {}", file.display(), py["error"]);
        let parsed = liveboot_kickstart::read(file, liveboot_kickstart::Options { version, confine: None }).unwrap();
        let errors: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "liveboot rejects {} which pykickstart reads:\n{}", file.display(), errors.join("\n"));
        let ks = parsed.kickstart;
        let ours = serde_json::to_value(&ks).unwrap();
        assert_eq!(ours["packages"], py["packages"], "%packages of {}", file.display());
        assert_eq!(ours["scripts"], py["scripts"], "scripts of {}", file.display());
        let flat = tmp.path().join(file.file_name().unwrap());
        std::fs::write(&flat, ks.flatten()).unwrap();
        flats.push(flat);
    }
    let reread = pykickstart(version, &flats);
    let mut differ = Vec::new();
    for ((file, py), again) in files.iter().zip(&originals).zip(&reread) {
        assert!(again["error"].is_null(), "pykickstart fails on liveboot's flattening of {}: {}", file.display(), again["error"]);
        if again["flat"] != py["flat"] {
            let (a, b) = (py["flat"].as_str().unwrap(), again["flat"].as_str().unwrap());
            let first = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(a.lines().count().min(b.lines().count()));
            differ.push(format!(
                "{}: ksflatten differs from line {}:\n  original: {:?}\n  liveboot: {:?}",
                file.display(),
                first + 1,
                a.lines().nth(first),
                b.lines().nth(first)
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn fedora_37_spins_flatten_as_pykickstart_reads_them() {
    compare("F37", &kickstarts("fedora-37"));
}

#[test]
fn rocky_9_live_kickstarts_flatten_as_pykickstart_reads_them() {
    compare("RHEL9", &kickstarts("rocky-9/live"));
}

#[test]
fn rocky_9_flattened_kickstarts_flatten_as_pykickstart_reads_them() {
    compare("RHEL9", &kickstarts("rocky-9/flat"));
}
