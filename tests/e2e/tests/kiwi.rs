//! debian12-kiwi: a KIWI description (`kiwi/debian12`, packagemanager apt) built by liveboot
//! and booted as KIWI's live ISOs boot: dracut's dmsquash-live from a CD (BIOS, and UEFI with
//! Secure Boot), and over the network the way the stateless-PXE setups boot it, the initrd
//! fetching the whole ISO over HTTP (`root=live:http://…/image.iso`) and loop-mounting it from
//! RAM. Each boot checks what the description put into the root: config.sh ran with KIWI's
//! variables, the `root/` overlay is there, the `delete` package is gone.
//!
//! leap15: KIWI's own Leap live description (`kiwi/leap15`) built by the host's zypper against
//! a local repository in Leap's shape that this test makes and serves (`rpmrepo::ensure_suse`:
//! the kickstart test's payload under Leap's package names, a package-based pattern, the
//! package the description deletes), then booted. Slow: `cargo xtask e2e`.

use std::path::PathBuf;
use std::sync::OnceLock;

use liveboot_e2e::*;

const RECIPE: &str = "debian12-kiwi";

/// What every boot runs after SSH answers; [`described`] checks their outputs.
const CHECKS: [&str; 4] = ["cat /proc/cmdline", "cat /etc/liveboot-kiwi", "cat /etc/issue.net", "command -v less || echo deleted"];

/// The description's marks on the running system; returns the kernel command line.
fn described(v: &serde_json::Value) -> String {
    let out = |i: usize| v["commands"][i]["output"].as_str().unwrap_or_default().trim().to_string();
    // config.sh wrote the variables of /.profile that kiwi-ng would have exported.
    assert_eq!(out(1), "liveboot-debian12-kiwi 12.0.0 live iso", "{v}");
    assert_eq!(out(2), "Debian 12 live from a KIWI description, built by liveboot", "{v}");
    assert_eq!(out(3), "deleted", "the <packages type=\"delete\"> package is still there: {v}");
    out(0)
}

fn exec_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args: Vec<&str> = CHECKS.iter().flat_map(|c| ["--exec", c]).collect();
    args.extend(extra);
    args
}

/// debian12-kiwi built once per test process in a cache of its own, with the packages the
/// run's debian12 builds downloaded (when they ran before) shared into it.
fn built() -> PathBuf {
    let main = work().join("cache");
    if main.join("apt").is_dir() {
        share_packages(&main, &work().join(format!("cache-{RECIPE}")));
    }
    ensure_built_apart(RECIPE).1
}

/// Boots the ISO from a CD; checks that dracut found the medium by this ISO's UUID.
fn boots_from_cd(extra: &[&'static str]) {
    let out = built();
    let iso = out.join(format!("{RECIPE}/{RECIPE}.iso"));
    let uuid = liveboot_iso::IsoReader::open(std::fs::File::open(&iso).unwrap()).unwrap().uuid;
    let v = try_boot(&iso, &exec_args(extra));
    // try_boot's own first command comes before ours.
    let v = serde_json::json!({ "commands": v["commands"].as_array().unwrap()[1..] });
    let cmdline = described(&v);
    assert!(cmdline.contains(&format!("root=live:UUID={uuid}")), "{cmdline}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w1_kiwi_description_boots_bios_from_cd() {
    boots_from_cd(&[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w2_kiwi_description_boots_with_secure_boot_from_cd() {
    boots_from_cd(&["--secure-boot"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w3_kiwi_description_boots_over_the_network_fetching_the_whole_iso() {
    let out = built();
    // The bundle serves the ISO output's own file: the one a BMC's virtual media would mount.
    let bundle = out.join(format!("{RECIPE}/pxe"));
    let iso = std::fs::read(out.join(format!("{RECIPE}/{RECIPE}.iso"))).unwrap();
    assert!(std::fs::read(bundle.join("image.iso")).unwrap() == iso, "pxe/image.iso is not the ISO");
    assert!(!bundle.join("squashfs.img").exists(), "the bundle serves the root image too");
    let out = out.to_string_lossy().into_owned();
    let mac = "52:54:00:e2:00:a3";
    let mut args = vec!["try", RECIPE, "--out", &out, "--pxe", "ipxe", "--mac", mac, "--json"];
    args.extend(exec_args(&[]));
    let o = liveboot(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try --pxe ipxe failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], "try-debian12-kiwi-00a3", "{v}");
    let cmdline = described(&v);
    assert!(cmdline.contains("root=live:http://10.0.2.2:") && cmdline.contains("/image.iso"), "{cmdline}");
    println!("time to SSH ({} {}): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
}

/// leap15 built once per test process with `--mirror repo-oss=<the local repository>`;
/// returns the report and the cache.
fn leap15() -> &'static (serde_json::Value, PathBuf, PathBuf) {
    static BUILT: OnceLock<(serde_json::Value, PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let url = serve_for_process(rpmrepo::ensure_suse());
        let (cache, out) = (work().join("cache-leap15"), work().join("out-leap15"));
        let mirror = format!("repo-oss={url}");
        let report = build_with(&root(), "leap15", &cache, &out, &["--mirror", &mirror]);
        (report, cache, out)
    })
}

/// The folder of a stage of a build in `cache`.
fn stage_dir(report: &serde_json::Value, cache: &std::path::Path, name: &str) -> PathBuf {
    let s = report["stages"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
    cache.join("stages").join(format!("{name}-{}", &s["key"].as_str().unwrap()[..16]))
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w4_leap_description_installs_with_zypper_a_pattern_a_deletion_and_config_sh() {
    let (report, cache, _) = leap15();
    let packages = &report["manifest"]["packages"];
    assert!(
        packages["liveboot-test-root"].as_str().is_some_and(|v| v.ends_with("1.0-1.x86_64")),
        "the manifest lists the RPMs: {packages}"
    );
    assert!(packages["liveboot-suse-names"].is_string(), "Leap's package names: {packages}");
    assert!(packages["patterns-base-base"].is_string(), "<namedCollection name=\"base\"/> installs the pattern's package: {packages}");
    assert!(packages["fonts-config"].is_null(), "<packages type=\"delete\"> left fonts-config: {packages}");
    // Installed by zypper (rootfs), removed after config.sh (configure).
    let (rootfs, configure) = (stage_dir(report, cache, "rootfs").join("rootfs"), stage_dir(report, cache, "configure").join("rootfs"));
    assert!(rootfs.join("usr/share/liveboot-test/fonts-config").is_file(), "zypper did not install fonts-config");
    assert!(!configure.join("usr/share/liveboot-test/fonts-config").exists(), "fonts-config is still in the image");
    assert!(configure.join("usr/share/liveboot-test/patterns-base-base").is_file());
    // KIWI's config.sh: `systemctl enable sshd`.
    let wants = configure.join("etc/systemd/system/multi-user.target.wants");
    let enabled: Vec<String> = std::fs::read_dir(&wants).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(enabled.iter().any(|u| u == "sshd.service"), "config.sh did not enable sshd: {enabled:?}");
    for gone in [".profile", ".kconfig", "config.sh"] {
        assert!(!configure.join(gone).exists(), "/{gone} left in the image");
    }
    // The root's rpm database is where Leap's rpm reads it, and zypper left nothing of the build.
    assert!(configure.join("usr/lib/sysimage/rpm/rpmdb.sqlite").is_file());
    assert!(!configure.join("root/.rpmdb").exists(), "Debian's rpm put the database in ~/.rpmdb");
    assert!(!configure.join("var/log/zypp").exists() && !configure.join("run/zypp.pid").exists());
    // zypper writes the installed system's solv cache under the root at the path of its
    // metadata folder (relative to the stage folder): removed, and nothing of the root's with it.
    assert!(!configure.join(".liveboot-zypper").exists(), "zypper's solv cache left in the image");
    for dir in ["tmp", "root", "home", "var/lib/zypp"] {
        assert!(configure.join(dir).is_dir(), "/{dir} is gone from the image");
    }
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w5_leap_description_boots_with_secure_boot_from_cd() {
    // The root's own loaders from /usr/share/efi/x86_64 (shim, MokManager, GRUB), as on Leap.
    let (_, _, out) = leap15();
    let iso = out.join("leap15/leap15.iso");
    let v = try_boot(&iso, &["--secure-boot", "--exec", "cat /proc/cmdline", "--exec", "cat /usr/share/liveboot-test/patterns-base-base"]);
    assert!(v["commands"][1]["output"].as_str().unwrap().contains("root=live:UUID="), "{v}");
    assert!(v["commands"][2]["output"].as_str().unwrap().contains("patterns-base-base"), "{v}");
}
