//! `liveboot kickstart check|flatten` on real and broken kickstarts: exit codes, the JSON
//! report, the flattened file written whole, nothing flattened when there are errors.

mod common;
use common::*;

fn ks(rel: &str) -> String {
    root().join("crates/kickstart/tests").join(rel).display().to_string()
}

#[test]
fn check_reports_every_problem_and_fails() {
    let out = liveboot(&["kickstart", "check", &ks("broken/several-problems.ks"), "--ks-version", "F37", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "F37");
    let lines: Vec<u64> = v["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert_eq!(v["errors"][0]["help"], "did you mean 'lang'?");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_passes_a_real_kickstart_with_its_warnings() {
    let out = liveboot(&["kickstart", "check", &ks("real/fedora-37/fedora-live-kde.ks"), "--ks-version", "F37"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.trim_end().ends_with("0 error(s), 0 warning(s) (kickstart F37)"), "{text}");
}

#[test]
fn flatten_writes_the_whole_file_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("flat.ks");
    let out = liveboot(&["kickstart", "flatten", &ks("real/synthetic/main.ks"), "--ks-version", "F37", "-o", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let flat = std::fs::read_to_string(&dest).unwrap();
    // The appended and included files' lines are in; the %include lines are gone.
    assert!(flat.contains("network --bootproto=dhcp --device=link --activate\n"), "{flat}");
    assert!(flat.contains("part swap --recommended\n"), "{flat}");
    assert!(!flat.contains("%include") && !flat.contains("%ksappend"), "{flat}");
    // Same as standard output.
    let stdout = liveboot(&["kickstart", "flatten", &ks("real/synthetic/main.ks"), "--ks-version", "F37"]);
    assert_eq!(String::from_utf8(stdout.stdout).unwrap(), flat);

    std::fs::write(&dest, "kept\n").unwrap();
    let out =
        liveboot(&["kickstart", "flatten", &ks("broken/include-error-chain.ks"), "--ks-version", "F37", "-o", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("_bad.ks:2:1: unknown command 'timezon' (included from"), "{err}");
    assert!(err.contains("1 error(s), nothing flattened"), "{err}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "kept\n", "a failed flatten left the old file alone");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary file left");
}

#[test]
fn an_unknown_version_is_refused_by_name() {
    let out = liveboot(&["kickstart", "check", &ks("real/synthetic/main.ks"), "--ks-version", "F12"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("F37") && err.contains("RHEL9"), "{err}");
}
