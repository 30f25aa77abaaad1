//! Broken descriptions (`tests/broken/*.kiwi`): each gives exactly the error(s) in the `.expect`
//! file beside it (`UPDATE_EXPECT=1` records them; the diff is the review), and kiwi-ng refuses
//! each of them too. Doubtful ones kiwi-ng reads (`tests/warn/*.kiwi`) are read, with exactly
//! the warnings in their `.expect`. A comment `<!-- profiles: A,B -->` before the root element
//! reads the file with those profiles.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken")
}

fn fixtures() -> Vec<PathBuf> {
    in_dir(&dir())
}

fn in_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "kiwi")).collect();
    v.sort();
    v
}

fn profiles(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("<!-- profiles:").and_then(|r| r.strip_suffix("-->")))
        .map(|p| p.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default()
}

/// `got` against the `.expect` file beside `f` (rewritten with `UPDATE_EXPECT=1`).
fn compare(f: &Path, got: &str, wrong: &mut Vec<String>) {
    let expect = f.with_extension("expect");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expect, got).unwrap();
    }
    let want = std::fs::read_to_string(&expect).unwrap_or_default();
    if got != want {
        wrong.push(format!("{}:\n--- expected\n{want}--- got\n{got}", f.file_name().unwrap().to_string_lossy()));
    }
}

#[test]
fn every_broken_description_gives_its_exact_error() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 15, "{} fixtures", fixtures.len());
    let mut wrong = Vec::new();
    for f in &fixtures {
        let text = std::fs::read_to_string(f).unwrap();
        let profiles = profiles(&text);
        let got = match liveboot_kiwi::read(f, liveboot_kiwi::Options { profiles: &profiles, build_type: None, arch: "x86_64" }) {
            Ok(_) => "(read without error)".to_string(),
            Err(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        };
        let got = got.replace(&format!("{}/", dir().display()), "") + "\n";
        compare(f, &got, &mut wrong);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn doubtful_descriptions_are_read_with_their_exact_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/warn");
    let mut wrong = Vec::new();
    for f in in_dir(&dir) {
        let profiles = profiles(&std::fs::read_to_string(&f).unwrap());
        let read = liveboot_kiwi::read(&f, liveboot_kiwi::Options { profiles: &profiles, build_type: None, arch: "x86_64" })
            .unwrap_or_else(|e| panic!("{}: {}", f.display(), e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")));
        let got =
            read.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n").replace(&format!("{}/", dir.display()), "") + "\n";
        compare(&f, &got, &mut wrong);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn kiwi_ng_refuses_every_broken_description_too() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin/python");
    assert!(python.exists(), "{} is missing: run `cargo xtask deps`", python.display());
    let fixtures = fixtures();
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kiwi_read.py"))
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for f in &fixtures {
        let p = profiles(&std::fs::read_to_string(f).unwrap());
        input.push_str(&serde_json::json!([f, p, null]).to_string());
        input.push('\n');
    }
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let read: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .zip(&fixtures)
        .filter(|(l, _)| serde_json::from_str::<serde_json::Value>(l).unwrap()["error"].is_null())
        .map(|(_, f)| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(read.is_empty(), "kiwi-ng reads these broken descriptions: {read:?}");
}
