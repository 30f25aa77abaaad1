//! Data-driven error tests: each fixture file ends with comment lines `# expect: ...` holding the
//! exact error text the loader must give for it. Expectations go at the end so that they do not
//! move the line numbers the error text names. `UPDATE_EXPECT=1` rewrites them (then review the
//! diff: that is the test).

use std::path::{Path, PathBuf};

const MARK: &str = "# expect: ";

/// Splits a fixture into its content and its expected error.
pub fn split(text: &str) -> (&str, Option<String>) {
    let start = if text.starts_with(MARK) { Some(0) } else { text.find(&format!("\n{MARK}")).map(|i| i + 1) };
    match start {
        Some(i) => {
            let expected = text[i..].lines().filter_map(|l| l.strip_prefix(MARK)).collect::<Vec<_>>().join("\n");
            (&text[..i], Some(expected))
        }
        None => (text, None),
    }
}

/// The fixtures of a folder: `*.yaml` and `*.ks` files not starting with `_` (those are shared
/// parts).
pub fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture folder exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "ks"))
        .filter(|p| !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_')))
        .collect();
    v.sort();
    v
}

/// Checks every fixture of `dir` against `load`, which returns the error text (or `None` when
/// the file loads). Returns the failures, one message each; rewrites expectations on request.
pub fn check_all(dir: &Path, load: impl Fn(&Path) -> Option<String>) -> Vec<String> {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for path in fixtures(dir) {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let (content, expected) = split(&text);
        let actual = load(&path);
        if update {
            if let Some(a) = &actual {
                let mut new = content.to_string();
                if !new.is_empty() && !new.ends_with('\n') {
                    new.push('\n');
                }
                for line in a.lines() {
                    new.push_str(MARK);
                    new.push_str(line);
                    new.push('\n');
                }
                std::fs::write(&path, new).expect("writable fixture");
            }
        }
        match (actual, expected) {
            (None, _) => failures.push(format!("{}: loaded without error, but it is a broken fixture", path.display())),
            (Some(_), None) if update => {}
            (Some(a), None) => failures.push(format!("{}: no '# expect:' lines; the error was:\n{a}", path.display())),
            (Some(a), Some(e)) if a != e && !update => failures.push(format!("{}:\n--- expected\n{e}\n--- actual\n{a}", path.display())),
            _ => {}
        }
    }
    failures
}

/// Asserts that `dir` holds at least `at_least` fixtures and that each gives its expected
/// error: the whole of a `tests/broken.rs`.
pub fn assert_all(dir: &Path, at_least: usize, load: impl Fn(&Path) -> Option<String>) {
    let count = fixtures(dir).len();
    assert!(count >= at_least, "only {count} fixtures in {}", dir.display());
    let failures = check_all(dir, load);
    assert!(failures.is_empty(), "{} of {count} fixtures failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
