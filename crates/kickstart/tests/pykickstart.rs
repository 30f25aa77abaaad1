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
    let listing = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    };
    let dir = files[0].parent().unwrap();
    let before = listing(dir);
    let originals = pykickstart(version, files);
    assert_eq!(listing(dir), before, "reading with pykickstart left files behind in {}", dir.display());
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

#[test]
fn synthetic_corners_flatten_as_pykickstart_reads_them() {
    // %ksappend, %include from a subfolder by a relative name, quoting, every section kind,
    // two %packages sections, group options, comments in odd places.
    compare("F37", &kickstarts("synthetic"));
}

/// The command table liveboot checks against is what the pinned pykickstart defines.
#[test]
fn syntax_table_matches_pykickstart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python()).arg(dir.join("tools/syntax.py")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recorded = std::fs::read_to_string(dir.join("src/syntax.txt")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == recorded,
        "src/syntax.txt differs from pykickstart's definitions: regenerate it with\n  .cache/venv/bin/python crates/kickstart/tools/syntax.py > crates/kickstart/src/syntax.txt"
    );
}

/// liveboot's word splitting equals Python's shlex.split (with and without comments) on lines
/// made of the characters that matter to it.
#[test]
fn words_split_as_python_shlex_does() {
    const ALPHABET: &[char] = &['a', 'b', ' ', '\t', '\'', '"', '\\', '#', '=', '-', '%', 'é'];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut lines = Vec::new();
    for _ in 0..3000 {
        let mut line = String::new();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for _ in 0..(state % 12) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            line.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
        }
        if state % 3 > 0 {
            line.push('\n');
        }
        lines.push(line);
    }
    let script = "import json,shlex,sys\nfor l in json.load(sys.stdin):\n  r=[]\n  for c in (True,False):\n    try: r.append(shlex.split(l, comments=c))\n    except ValueError as e: r.append(str(e))\n  print(json.dumps(r))";
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(serde_json::to_string(&lines).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let answers: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), lines.len());
    for (line, py) in lines.iter().zip(answers) {
        for (i, comments) in [true, false].into_iter().enumerate() {
            let ours = match liveboot_kickstart::lex::split(line, comments) {
                Ok(words) => serde_json::json!(words),
                Err(liveboot_kickstart::lex::LexError::UnclosedQuote(_)) => serde_json::json!("No closing quotation"),
                Err(liveboot_kickstart::lex::LexError::TrailingEscape) => serde_json::json!("No escaped character"),
            };
            assert_eq!(ours, py[i], "{line:?} (comments: {comments})");
        }
    }
}
