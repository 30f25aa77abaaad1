//! `cargo xtask e2e`: the end-to-end tests, one test binary after the other: debian12 (builds,
//! boots, cache, reproducibility, kills), debian12 over the network (PXE), debian12-dracut, the
//! kickstart family (a local RPM repository, f37), KIWI descriptions (debian12-kiwi, leap15
//! through zypper), the virtual server through Redfish.
//! Without `--all`, the boots that only repeat what another test boots are left out (CI's
//! selection, which boots every family and medium once); `--all` runs the whole matrix. (Two
//! boots side by side were tried: under TCG on two cores each took about twice as long, so
//! nothing was gained and the boots came near their timeouts.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run};

/// Boots left out of the CI selection: each repeats a firmware, medium or family that another
/// test boots. CI boots live-boot from a BIOS CD and, with Secure Boot, as a UEFI USB disk, sees
/// the unsigned loader refused, boots it over the network through pxelinux and (UEFI, Secure
/// Boot) from the generated dnsmasq config, boots a kickstart-built image (dracut's LiveOS
/// layout) from a UEFI CD with Secure Boot through the root's own shim and GRUB, a KIWI
/// description's image over the network with the whole ISO fetched by the initrd (and builds
/// leap15 through zypper without booting it: its root is the kickstart test's payload), remastered
/// ISOs (the Ubuntu 22.04 shape, GRUB's El Torito image and an appended EFI partition, from a
/// BIOS CD, a UEFI CD and a UEFI USB disk with Secure Boot), and the virtual server through
/// Redfish. (debian12 remastered with its seed embedded, booted to SSH, is r5: full matrix.)
pub const FULL_MATRIX_ONLY: &[&str] = &[
    "r1_ipxe_iso_remastered_still_boots_ipxe_bios_and_uefi",
    "r2_grub_rescue_iso_remastered_boots_a_kernel_with_the_argument",
    "r3_focal_shaped_iso_remastered_boots_bios_uefi_secure_boot_and_usb",
    "r5_debian12_as_an_upstream_iso_with_its_seed_embedded_boots_with_secure_boot_and_no_seed_medium",
    "b2_boots_uefi_from_cd",
    "b3_boots_as_a_usb_disk",
    "b4_boots_with_secure_boot_from_cd",
    "b7_the_copy_to_ram_entry_runs_without_its_medium",
    "f2_dracut_boots_with_secure_boot_from_cd",
    "k1_kickstart_image_boots_bios_from_cd_with_everything_applied",
    "k5_f37_gets_past_package_installation_with_a_mirror",
    "k6_f37_from_a_real_fedora_mirror_boots",
    "f1_dracut_boots_bios_from_cd",
    "w1_kiwi_description_boots_bios_from_cd",
    "w2_kiwi_description_boots_with_secure_boot_from_cd",
    "w5_leap_description_boots_with_secure_boot_from_cd",
    "f3_dracut_boots_as_a_usb_disk",
    "f4_dracut_boots_over_the_network_through_ipxe",
    "f5_dracut_copy_to_ram_entry_runs_without_its_medium_under_secure_boot",
    "p2_boots_bios_through_ipxe",
    "p3_boots_uefi_with_secure_boot_through_shim_and_grub",
    "p5_boots_uefi_through_ipxe_from_a_proxy_dhcp_beside_the_sites_dhcp_server",
];

/// The test binaries, in order.
/// (kiwi after kickstart: its Leap repository is made from the kickstart test's payload, kept
/// under `.cache/e2e`.)
const TESTS: &[&str] = &["debian12", "pxe", "dracut", "kickstart", "kiwi", "remaster", "vnode"];

fn test_command(bin: &Path, dir: &Path, test: &str, all: bool, filter: Option<&str>) -> Command {
    let mut cmd = cargo();
    cmd.args(["test", "--locked", "-p", "liveboot-e2e", "--test", test, "--", "--ignored", "--test-threads=1", "--nocapture"])
        .env("LIVEBOOT_BIN", bin)
        .env("LIVEBOOT_E2E_DIR", dir)
        .current_dir(root());
    if let Some(f) = filter {
        cmd.arg(f);
    }
    if !all {
        for t in FULL_MATRIX_ONLY {
            cmd.args(["--skip", t]);
        }
    }
    cmd
}

/// Runs the end-to-end tests: each test binary in turn, its output kept in a log and printed
/// when it ends, then a summary with the boot times.
pub fn e2e(filter: Option<String>, all: bool) -> Result<()> {
    crate::deps::install()?;
    let bin = crate::release_liveboot()?;
    run(cargo().args(["test", "--no-run", "--locked", "-p", "liveboot-e2e"]))?;
    let dir = root().join("target/e2e");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let start = Instant::now();
    let mut summary = Vec::new();
    let mut failed = Vec::new();
    for test in TESTS {
        let log = dir.join(format!("{test}.log"));
        eprintln!("xtask e2e: {test} (log: {}; {} free)", log.display(), free_space(&dir));
        let started = Instant::now();
        let out = std::fs::File::create(&log)?;
        let status = test_command(&bin, &dir, test, all || filter.is_some(), filter.as_deref())
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("running the {test} tests"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        println!("\n===== {test} ({}) =====\n{text}", log.display());
        let results: Vec<&str> = text.lines().filter(|l| l.starts_with("test result:") && !l.contains(" 0 passed; 0 failed")).collect();
        summary.push(format!(
            "{test:<10} {} in {:.0} s: {}",
            if status.success() { "passed" } else { "FAILED" },
            started.elapsed().as_secs_f64(),
            results.join(" | ")
        ));
        if !status.success() {
            failed.push(*test);
        }
        tidy(&dir)?;
    }
    println!("\n===== e2e summary ({}; {:.0} s) =====", if all { "full matrix" } else { "CI selection" }, start.elapsed().as_secs_f64());
    for line in &summary {
        println!("{line}");
    }
    for line in timings(&dir) {
        println!("  {line}");
    }
    if !failed.is_empty() {
        bail!("end-to-end tests failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Removes what a test binary left in the run's folder besides the logs and debian12's shared
/// cache and output (`cache`, `out`), which the later binaries reuse: every other folder there
/// is one binary's own (its recipes' caches, projects, virtual machines). The run's peak disk
/// use is then the largest binary's, not the sum of all (a CI run once filled the disk).
/// A folder with something still mounted under it is left alone (and named).
fn tidy(dir: &Path) -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let keep = name == "cache" || name == "out" || name.to_string_lossy().ends_with(".log");
        if !keep {
            let path = e.path();
            let prefix = format!("{}/", path.display());
            if mounts.lines().filter_map(|l| l.split(' ').nth(1)).any(|m| m == path.to_string_lossy() || m.starts_with(&prefix)) {
                eprintln!("xtask e2e: {} still has a mount under it: left in place", path.display());
                continue;
            }
            let removed = if e.file_type()?.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            removed.with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// The free space of the file system holding `dir`, as `df` shows it.
fn free_space(dir: &Path) -> String {
    Command::new("df")
        .args(["--output=avail", "-h"])
        .arg(dir)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().nth(1).map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// The boot times the tests printed ("time to SSH (...)").
fn timings(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for name in TESTS {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        out.extend(text.lines().filter(|l| l.starts_with("time to SSH")).map(|l| format!("{name}: {l}")));
    }
    out
}
