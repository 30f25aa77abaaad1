//! The kickstart family end to end, against a local RPM repository this test makes (a Debian
//! root wrapped in RPMs, `liveboot_e2e::rpmrepo`) and serves with `liveboot serve`: groups,
//! exclusions, `services`, `%post` in the root and beside it, a failing `%post --erroronfail`,
//! the image booted to SSH with its seed, and f37 itself with `--mirror`. Slow: `cargo xtask
//! e2e`. (No real Fedora or Rocky userland is built here: no such mirror is reachable. With
//! LIVEBOOT_FEDORA_MIRROR set, `k6` builds and boots f37 from it.)

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use liveboot_e2e::*;

/// The repository, served by `liveboot serve` for the whole test process.
fn repo_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| serve_for_process(rpmrepo::ensure()))
}

/// A project folder holding the test kickstarts (port filled in) and a recipe `name` that
/// extends the project's Fedora fragment and reads `kickstart`.
fn project(name: &str, kickstart: &str) -> PathBuf {
    let dir = work().join("ks-project");
    std::fs::create_dir_all(&dir).unwrap();
    let port = repo_url().trim_end_matches('/').rsplit(':').next().unwrap().to_string();
    for f in ["e2e.ks", "e2e-fail.ks"] {
        let text = std::fs::read_to_string(root().join("tests/e2e/kickstart").join(f)).unwrap();
        std::fs::write(dir.join(f), text.replace("@PORT@", &port)).unwrap();
    }
    let recipe = format!(
        "extends: {}\nname: {name}\ntitle: Kickstart test live\nlabel: KS-TEST-LIVE\ndistro:\n  family: fedora\n  release: 37\nsource:\n  kickstart:\n    file: {kickstart}\n",
        root().join("recipes/_fedora.yaml").display()
    );
    std::fs::write(dir.join(format!("{name}.yaml")), recipe).unwrap();
    dir
}

fn dirs() -> (PathBuf, PathBuf) {
    (work().join("cache-ks"), work().join("out-ks"))
}

/// Builds the e2e kickstart once per test process; returns the ISO.
fn built() -> PathBuf {
    static ISO: OnceLock<PathBuf> = OnceLock::new();
    ISO.get_or_init(|| {
        let dir = project("ks-e2e", "e2e.ks");
        let (cache, out) = dirs();
        let report = build(&dir.join("ks-e2e.yaml").to_string_lossy(), &cache, &out);
        let packages = &report["manifest"]["packages"];
        assert!(
            packages["liveboot-test-root"].as_str().is_some_and(|v| v.ends_with("1.0-1.x86_64")),
            "the manifest lists the RPMs: {packages}"
        );
        assert!(packages["liveboot-groupie"].is_string(), "a default package of @liveboot-extras: {packages}");
        assert!(packages["liveboot-hello"].is_string(), "named by itself: {packages}");
        assert!(packages["liveboot-unwanted"].is_null(), "excluded by -liveboot-unwanted: {packages}");
        assert!(packages["liveboot-optional"].is_null(), "optional in its group: {packages}");
        out.join("ks-e2e/ks-e2e.iso")
    })
    .clone()
}

/// What the booted image shows of the kickstart: each command and script applied.
fn check_applied(extra: &[&str]) -> serde_json::Value {
    let iso = built();
    let mut args = vec![
        "--exec",
        "systemctl is-enabled liveboot-hello.service",
        "--exec",
        "cat /etc/liveboot-post-chroot /etc/liveboot-post-nochroot",
        "--exec",
        "readlink /etc/localtime; cat /etc/locale.conf /etc/vconsole.conf",
        "--exec",
        "cat /root/ks-post.log; ls /usr/share/liveboot-test",
        "--exec",
        "passwd -S root | cut -d' ' -f2",
    ];
    args.extend(extra);
    let v = try_boot(&iso, &args);
    let out = |i: usize| v["commands"][i]["output"].as_str().unwrap_or_default().trim().to_string();
    assert_eq!(out(1), "enabled", "{v}");
    assert_eq!(out(2), "in the root\nbeside the root", "{v}");
    assert_eq!(out(3), "../usr/share/zoneinfo/Europe/Berlin\nLANG=en_US.UTF-8\nKEYMAP=us", "{v}");
    assert_eq!(out(4), "in the root\ngroupie", "the chroot %post's --log, and of the group only its default package: {v}");
    assert_eq!(out(5), "L", "rootpw --lock: {v}");
    v
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn k1_kickstart_image_boots_bios_from_cd_with_everything_applied() {
    check_applied(&[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn k2_kickstart_image_boots_uefi_with_secure_boot_through_the_roots_own_loaders() {
    let v = check_applied(&["--secure-boot", "--exec", "dmesg | grep -c 'Secure boot enabled'"]);
    assert_eq!(v["commands"][6]["output"].as_str().unwrap().trim(), "1", "{v}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn k3_a_failing_post_with_erroronfail_stops_the_build_naming_it() {
    built();
    let dir = project("ks-fail", "e2e-fail.ks");
    let (cache, _) = dirs();
    let out = work().join("out-ks-fail");
    let o = liveboot_in(
        &root(),
        &[
            "build",
            &dir.join("ks-fail.yaml").to_string_lossy(),
            "--source-date-epoch",
            EPOCH,
            "--cache",
            &cache.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("[1/7] rootfs     reused"), "the packages were installed already: {err}");
    assert!(err.contains("%post at ") && err.contains("e2e-fail.ks:4 failed (exit status: 3)"), "{err}");
    assert!(err.contains("this script fails on purpose"), "the script's output is in the error: {err}");
    assert!(!out.join("ks-fail").exists(), "nothing published");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn k4_f37_fails_within_seconds_naming_the_unreachable_repository() {
    let (cache, _) = dirs();
    let out = work().join("out-f37");
    // The Fedora mirrors cannot be reached from here.
    let started = std::time::Instant::now();
    let o = liveboot(&["build", "f37", "--cache", &cache.to_string_lossy(), "--out", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(line.contains("(https://mirrors.fedoraproject.org/metalink?repo=fedora-37&arch=x86_64) cannot be reached"), "{err}");
    assert!(err.contains("help: point at a mirror: `liveboot build f37 --mirror URL`"), "{err}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn k5_f37_gets_past_package_installation_with_a_mirror() {
    let (cache, _) = dirs();
    let out = work().join("out-f37");
    let report =
        liveboot(&["build", "f37", "--json", "--mirror", repo_url(), "--cache", &cache.to_string_lossy(), "--out", &out.to_string_lossy()]);
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let v: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert!(v["manifest"]["packages"]["liveboot-test-root"].is_string(), "{v}");
    let err = String::from_utf8_lossy(&report.stderr);
    assert!(err.contains("warning: kickstarts/f37.ks:") && err.contains("'part' is not applied"), "{err}");
    // What this payload cannot do is said, not hidden.
    assert!(err.contains("warning: selinux --enforcing not applied: the root has no SELinux policy"), "{err}");
}

#[test]
#[ignore = "slow, and needs a Fedora mirror: LIVEBOOT_FEDORA_MIRROR=URL cargo xtask e2e --all"]
fn k6_f37_from_a_real_fedora_mirror_boots() {
    let Ok(mirror) = std::env::var("LIVEBOOT_FEDORA_MIRROR") else {
        eprintln!("LIVEBOOT_FEDORA_MIRROR is not set: no real Fedora userland is built (none is reachable from this machine)");
        return;
    };
    let cache = work().join("cache-fedora");
    let out = work().join("out-fedora");
    let o = liveboot(&["build", "f37", "--mirror", &mirror, "--cache", &cache.to_string_lossy(), "--out", &out.to_string_lossy()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    try_boot(Path::new(&out.join("f37/f37.iso")), &[]);
}
