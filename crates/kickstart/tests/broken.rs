//! Broken kickstarts (`tests/broken/*.ks`; files starting with `_` are included by them): each
//! gives exactly the errors written at its end, and pykickstart fails on each too, so that every
//! error liveboot reports is one the real parser also refuses (or the fixture says why not).

use std::path::{Path, PathBuf};
use std::process::Command;

fn load(path: &Path) -> Option<String> {
    let parsed = liveboot_kickstart::read(path, liveboot_kickstart::Options { version: "F37", confine: None });
    match parsed {
        Err(e) => Some(e.to_string()),
        Ok(p) if p.errors.is_empty() => None,
        Ok(p) => Some(p.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
    }
}

#[test]
fn broken_kickstarts_give_their_errors() {
    liveboot_yaml::fixture::assert_all(Path::new("tests/broken"), 20, load);
}

#[test]
fn pykickstart_refuses_every_broken_kickstart() {
    let files: Vec<PathBuf> = liveboot_yaml::fixture::fixtures(Path::new("tests/broken"));
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin/python");
    assert!(python.exists(), "{} is missing: run `cargo xtask deps`", python.display());
    let out = Command::new(python).arg("tests/pykickstart_read.py").arg("F37").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut accepted = Vec::new();
    for (file, line) in files.iter().zip(String::from_utf8(out.stdout).unwrap().lines()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let why =
            std::fs::read_to_string(file).unwrap().lines().find_map(|l| l.strip_prefix("# pykickstart accepts it: ").map(str::to_string));
        match (v["error"].is_null(), why) {
            (true, None) => accepted.push(file.display().to_string()),
            (false, Some(_)) => {
                accepted.push(format!("{} (says pykickstart accepts it, but it refuses it: {})", file.display(), v["error"]))
            }
            _ => {}
        }
    }
    assert!(accepted.is_empty(), "pykickstart reads these broken kickstarts without error:\n{}", accepted.join("\n"));
}
