//! debian12 from scratch to SSH, the cache, reproducibility and interrupted builds.
//! Slow (minutes each): run with `cargo xtask e2e`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use liveboot_e2e::*;

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn a_builds_from_scratch_with_manifest_and_sums() {
    let (cache, out) = main_dirs();
    let report = build("debian12", &cache, &out);
    let m = &report["manifest"];
    assert!(m["kernel"].as_str().unwrap().ends_with("-amd64"), "{m}");
    for p in ["cloud-init", "live-boot", "openssh-server", "linux-image-amd64"] {
        assert!(m["packages"].get(p).is_some(), "{p} missing from the manifest");
    }
    assert_eq!(m["source_date_epoch"].as_u64(), Some(EPOCH.parse().unwrap()));
    assert!(m["tools"]["xorriso"].is_string() && m["tools"]["mmdebstrap"].is_string());
    let dir = out.join("debian12");
    use std::os::unix::fs::PermissionsExt;
    for f in ["debian12.iso", "SHA256SUMS", "manifest.json", "pxe/vmlinuz"] {
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777, 0o644, "{f} is not world-readable");
    }
    let check = Command::new("sha256sum").arg("-c").arg("SHA256SUMS").current_dir(&dir).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    for s in report["stages"].as_array().unwrap() {
        println!("stage {:<10} ran={} {:.1} s", s["name"].as_str().unwrap(), s["ran"], s["seconds"].as_f64().unwrap());
    }
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b1_boots_bios_from_cd() {
    let (_, out) = ensure_built();
    let v = try_boot(&out.join("debian12/debian12.iso"), &[]);
    assert!(v["commands"][0]["output"].as_str().unwrap().contains("cap_net_raw=ep"), "ping lost its capability: {v}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b2_boots_uefi_from_cd() {
    let (_, out) = ensure_built();
    try_boot(&out.join("debian12/debian12.iso"), &["--uefi"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b3_boots_as_a_usb_disk() {
    let (_, out) = ensure_built();
    try_boot(&out.join("debian12/debian12.iso"), &["--usb"]);
}

/// debian12 written elsewhere (`work()/<folder>/debian12.yaml`), extending the project's
/// fragments, with these lines under `boot:`; returns the folder.
fn variant(folder: &str, boot: &str) -> std::path::PathBuf {
    let dir = work().join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "extends: {}\nname: debian12\ntitle: Debian 12 live (cloud-init)\nlabel: DEBIAN12_LIVE\ndistro:\n  family: debian\n  release: 12\nboot:\n{boot}",
        root().join("recipes/_debian.yaml").display()
    );
    std::fs::write(dir.join("debian12.yaml"), text).unwrap();
    dir
}

/// Secure Boot enforced (Microsoft's keys, as servers ship): shim, signed GRUB and the signed
/// kernel boot, and the kernel says Secure Boot is on.
fn secure_boot(extra: &[&str]) {
    let (_, out) = ensure_built();
    let mut args = vec!["--secure-boot", "--exec", "dmesg | grep -c 'Secure boot enabled'"];
    args.extend(extra);
    let v = try_boot(&out.join("debian12/debian12.iso"), &args);
    assert_eq!(v["firmware"], "uefi-secure-boot", "{v}");
    assert_eq!(v["commands"][1]["output"].as_str().unwrap().trim(), "1", "the kernel did not see Secure Boot on: {v}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b4_boots_with_secure_boot_from_cd() {
    secure_boot(&[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b5_boots_with_secure_boot_as_a_usb_disk() {
    secure_boot(&["--usb"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b7_the_copy_to_ram_entry_runs_without_its_medium() {
    // isolinux's `toram` entry typed at its prompt; `try --to-ram` ejects the CD once SSH
    // answers and reads the whole root (and fails on any I/O error).
    let (_, out) = ensure_built();
    let v = try_boot(&out.join("debian12/debian12.iso"), &["--to-ram", "--exec", "cat /proc/cmdline"]);
    assert_eq!(v["to_ram"], true, "{v}");
    let cmdline = v["commands"][1]["output"].as_str().unwrap();
    assert!(cmdline.split_whitespace().any(|a| a == "toram"), "{cmdline}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn b6_secure_boot_refuses_the_unsigned_loader() {
    let (cache, _) = ensure_built();
    // The same recipe with `secure_boot: false` (GRUB from grub-mkimage, unsigned): the
    // firmware must refuse it, and `try` must say so without waiting for its timeout.
    let dir = variant("unsigned-recipe", "  secure_boot: false\n");
    let out = work().join("unsigned-out");
    let report = build(&dir.join("debian12.yaml").to_string_lossy(), &cache, &out);
    let mut r = ran(&report);
    r.sort();
    assert_eq!(r, ["efi", "iso"], "only the EFI image and the ISO differ: {report}");
    let start = Instant::now();
    let o = liveboot(&["try", &out.join("debian12/debian12.iso").to_string_lossy(), "--secure-boot", "--timeout", "600"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "an unsigned loader booted with Secure Boot on");
    assert!(err.contains("Access Denied") && err.contains("Secure Boot refused"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(300), "the refusal took {:?} to be noticed", start.elapsed());
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn c_a_second_build_reuses_everything_in_under_ten_seconds() {
    let (cache, out) = ensure_built();
    let start = Instant::now();
    let report = build("debian12", &cache, &out);
    let took = start.elapsed();
    println!("second build: {:.2} s", took.as_secs_f64());
    assert!(ran(&report).is_empty(), "stages ran again: {:?}", ran(&report));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn d_changing_only_kernel_arguments_reruns_only_menus_iso_and_bundle() {
    let (cache, _) = ensure_built();
    // The same recipe, written elsewhere, extending the project's fragments, with one more
    // kernel argument.
    let dir = variant(
        "args-recipe",
        "  kernel_args: [boot=live, components, nonetworking, ds=nocloud, quiet]
",
    );
    let report = build(&dir.join("debian12.yaml").to_string_lossy(), &cache, &work().join("args-out"));
    let mut r = ran(&report);
    r.sort();
    // The ISO's menus, the ISO, and the network bundle whose bundle.json carries the arguments.
    assert_eq!(r, ["bootmenu", "iso", "pxe"], "{report}");
}

/// The seed of this run's random choices (stage, delay, signal), printed so that a failure can
/// be replayed with LIVEBOOT_E2E_SEED; and a generator over it.
fn random() -> impl FnMut() -> u64 {
    let seed = std::env::var("LIVEBOOT_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    println!("LIVEBOOT_E2E_SEED={seed}");
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn e_a_clean_build_in_another_checkout_killed_in_its_root_resumes_byte_identical_with_the_same_keys() {
    let (cache, out) = ensure_built();
    // A second checkout of the same files at another path, built with a clean stage cache
    // (the downloaded packages shared, so that only the place differs). The build is first
    // killed while it makes the root (mmdebstrap: processes, mounts, a half-made tree), at a
    // random moment with a random signal, and must leave nothing behind; the resumed build then
    // makes every stage from scratch.
    let checkout = work().join("elsewhere/second-checkout");
    let _ = std::fs::remove_dir_all(&checkout);
    std::fs::create_dir_all(&checkout).unwrap();
    for d in ["recipes", "templates"] {
        assert!(Command::new("cp").arg("-a").arg(root().join(d)).arg(&checkout).status().unwrap().success());
    }
    let clean = work().join("cache-clean");
    let out_clean = work().join("out-clean");
    let _ = std::fs::remove_dir_all(&clean);
    share_packages(&cache, &clean);
    let mut next = random();
    let signal = if next().is_multiple_of(2) { libc::SIGINT } else { libc::SIGKILL };
    interrupt_build(&checkout, &clean, &out_clean, "rootfs", Duration::from_millis(next() % 60_000), signal);
    assert_clean_after_kill(&clean, &out_clean);
    let report = build_in(&checkout, "debian12", &clean, &out_clean);
    assert_eq!(ran(&report).len(), report["stages"].as_array().unwrap().len(), "the second cache was not clean");
    let a = std::fs::read(out.join("debian12/debian12.iso")).unwrap();
    let b = std::fs::read(out_clean.join("debian12/debian12.iso")).unwrap();
    assert!(a == b, "the two ISOs differ ({} and {} bytes)", a.len(), b.len());
    // Every other artifact too: the PXE bundle's kernel, initrd, root image, loaders, bundle.json.
    let sums = |dir: &Path| std::fs::read_to_string(dir.join("debian12/SHA256SUMS")).unwrap();
    assert_eq!(sums(&out), sums(&out_clean), "the two builds' artifacts differ");
    assert!(sums(&out).contains("pxe/bundle.json") && sums(&out).contains("pxe/grubx64.efi"), "{}", sums(&out));
    let keys = |m: &serde_json::Value| -> Vec<(String, String)> {
        m["stages"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().into(), s["key"].as_str().unwrap().into())).collect()
    };
    let first = std::fs::read_to_string(out.join("debian12/manifest.json")).unwrap();
    let second = std::fs::read_to_string(out_clean.join("debian12/manifest.json")).unwrap();
    let (m1, m2): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&first).unwrap(), serde_json::from_str(&second).unwrap());
    assert_eq!(keys(&m1), keys(&m2), "the two checkouts planned different keys");
    for (m, text) in [(&m1, &first), (&m2, &second)] {
        for place in [root(), checkout.clone(), work()] {
            assert!(!text.contains(&*place.to_string_lossy()), "the manifest names {}: {text}", place.display());
        }
        for i in m["stages"].as_array().unwrap().iter().flat_map(|s| s["inputs"].as_array().unwrap()) {
            let name = i["name"].as_str().unwrap();
            assert!(!name.split_once(':').map(|(_, p)| p).unwrap_or(name).starts_with('/'), "an input named by an absolute path: {name}");
        }
    }
}

/// Starts a clean build, waits until `stage` is running, waits a little more, sends `signal`.
fn interrupt_build(project: &Path, cache: &Path, out: &Path, stage: &str, delay: Duration, signal: i32) {
    let mut child = Command::new(bin())
        .arg("-C")
        .arg(project)
        .args(["build", "debian12", "--source-date-epoch", EPOCH, "--cache"])
        .arg(cache)
        .arg("--out")
        .arg(out)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let want = format!("{stage:<10} running");
    for line in BufReader::new(stderr).split(b'\n') {
        let line = String::from_utf8_lossy(&line.unwrap()).into_owned();
        if line.contains(&want) {
            break;
        }
    }
    std::thread::sleep(delay);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    println!("interrupted in {stage} after {delay:?} with signal {signal}: {status}");
    // Its standard error is closed by now (the reader above is gone): liveboot must still stop
    // cleanly, with 130 for an interrupt, not panic.
    // A signal that comes after the last stage (pxe runs in milliseconds) may find the build
    // done: then it exits 0 with its output complete, which the checks after this hold to.
    if signal == libc::SIGINT {
        assert!(status.code() == Some(130) || status.success(), "an interrupted build must exit 130 (0 if it had finished): {status}");
    }
}

fn assert_clean_after_kill(cache: &Path, out: &Path) {
    std::thread::sleep(Duration::from_secs(2));
    assert!(mounts_under(cache).is_empty(), "mounts left behind: {:?}", mounts_under(cache));
    let orphans = Command::new("pgrep").args(["-f", &cache.to_string_lossy()]).output().unwrap();
    assert!(orphans.stdout.is_empty(), "processes left behind: {}", String::from_utf8_lossy(&orphans.stdout));
    assert!(processes_inside(cache).is_empty(), "processes still inside the build: {:?}", processes_inside(cache));
    // Every finished stage folder is complete; anything else is a temporary folder.
    for e in std::fs::read_dir(cache.join("stages")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(name.starts_with(".tmp-") || e.path().join(".stage.json").is_file(), "half-made stage {name}");
    }
    // Nothing at a final output path unless it is complete and listed.
    let dir = out.join("debian12");
    if dir.exists() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with(".tmp-"), "temporary file at the output: {name}");
        }
    }
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f_killed_builds_leave_nothing_partial_and_resume() {
    let (cache, out) = ensure_built();
    // A kill while the root is made is test e's; here each signal stops a later stage, chosen at
    // random, in a cache that holds the finished root (copied from the main cache, so that the
    // root is not made twice more).
    let stages = ["customize", "squashfs", "bootmenu", "efi", "iso", "pxe"];
    let mut next = random();
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("debian12/manifest.json")).unwrap()).unwrap();
    let key = manifest["stages"].as_array().unwrap().iter().find(|s| s["name"] == "rootfs").unwrap()["key"].as_str().unwrap().to_string();
    let rootfs = cache.join("stages").join(format!("rootfs-{}", &key[..16]));
    assert!(rootfs.join(".stage.json").is_file(), "the main cache holds no finished root at {}", rootfs.display());
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let dir = work().join(format!("kill-{signal}"));
        let _ = std::fs::remove_dir_all(&dir);
        let (c, o) = (dir.join("cache"), dir.join("out"));
        share_packages(&cache, &c);
        std::fs::create_dir_all(c.join("stages")).unwrap();
        assert!(Command::new("cp").arg("-a").arg(&rootfs).arg(c.join("stages")).status().unwrap().success());
        let stage = stages[(next() % stages.len() as u64) as usize];
        let delay = Duration::from_millis(next() % 1500);
        interrupt_build(&root(), &c, &o, stage, delay, signal);
        assert_clean_after_kill(&c, &o);
        let finished: Vec<String> = std::fs::read_dir(c.join("stages"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .map(|n| n.rsplit_once('-').unwrap().0.to_string())
            .collect();
        let report = build("debian12", &c, &o);
        for f in &finished {
            assert!(!ran(&report).contains(f), "stage {f} was complete before the kill but ran again");
        }
        let a = std::fs::read(o.join("debian12/debian12.iso")).unwrap();
        let b = std::fs::read(out.join("debian12/debian12.iso")).unwrap();
        assert!(a == b, "the resumed build differs from the clean one");
    }
}
