//! `cargo xtask e2e`: the end-to-end tests, in two groups run side by side (two QEMU boots at a
//! time fit these 2-core machines): debian12 (builds, boots, cache, reproducibility, kills), and
//! debian12-dracut then the virtual server through Redfish. Without `--all`, the boots that only
//! repeat a medium another test covers are left out (CI); `--all` (and the nightly) runs the
//! whole matrix.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{cargo, root, run};

/// Boots left out of the CI selection: each repeats a firmware, medium and family that another
/// test boots (BIOS CD, UEFI CD, Secure Boot USB and the refused unsigned loader for live-boot;
/// Secure Boot CD for dracut; the virtual server through Redfish).
pub const FULL_MATRIX_ONLY: &[&str] =
    &["b3_boots_as_a_usb_disk", "b4_boots_with_secure_boot_from_cd", "f1_dracut_boots_bios_from_cd", "f3_dracut_boots_as_a_usb_disk"];

/// The groups run side by side; each is test binaries run one after the other.
const GROUPS: &[(&str, &[&str])] = &[("debian12", &["debian12"]), ("dracut-and-vnode", &["dracut", "vnode"])];

fn test_command(dir: &Path, test: &str, all: bool, filter: Option<&str>) -> Command {
    let mut cmd = cargo();
    cmd.args(["test", "--locked", "-p", "liveboot-e2e", "--test", test, "--", "--ignored", "--test-threads=1", "--nocapture"])
        .env("LIVEBOOT_BIN", root().join("target/release/liveboot"))
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

/// One group running: its tests one after the other, output into its log.
struct Group {
    name: &'static str,
    log: PathBuf,
    child: Child,
    rest: Vec<&'static str>,
    started: Instant,
}

fn spawn(dir: &Path, name: &'static str, test: &str, log: &Path, all: bool) -> Result<Child> {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    test_command(dir, test, all, None)
        .stdout(out.try_clone()?)
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting the {name} tests"))
}

/// Runs the end-to-end tests: one filter sequentially, else the groups side by side.
pub fn e2e(filter: Option<String>, all: bool) -> Result<()> {
    crate::deps::install()?;
    run(cargo().args(["build", "--release", "--locked", "-p", "liveboot"]))?;
    run(cargo().args(["test", "--no-run", "--locked", "-p", "liveboot-e2e"]))?;
    let dir = root().join("target/e2e");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    if let Some(f) = filter {
        for (_, tests) in GROUPS {
            for t in *tests {
                run(&mut test_command(&dir, t, true, Some(&f)))?;
            }
        }
        return Ok(());
    }
    let start = Instant::now();
    let mut groups = Vec::new();
    for (name, tests) in GROUPS {
        let log = dir.join(format!("{name}.log"));
        eprintln!("xtask e2e: {name}: {} (log: {})", tests.join(", then "), log.display());
        let child = spawn(&dir, name, tests[0], &log, all)?;
        groups.push(Group { name, log, child, rest: tests[1..].to_vec(), started: Instant::now() });
    }
    let mut failed = Vec::new();
    let mut summary = Vec::new();
    while !groups.is_empty() {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let mut i = 0;
        while i < groups.len() {
            let g = &mut groups[i];
            let Some(status) = g.child.try_wait()? else {
                i += 1;
                continue;
            };
            if status.success() && !g.rest.is_empty() {
                let next = g.rest.remove(0);
                g.child = spawn(&dir, g.name, next, &g.log, all)?;
                continue;
            }
            let g = groups.remove(i);
            let text = std::fs::read_to_string(&g.log).unwrap_or_default();
            println!("\n===== {} ({}) =====\n{text}", g.name, g.log.display());
            let results: Vec<&str> = text.lines().filter(|l| l.starts_with("test result:")).collect();
            summary.push(format!(
                "{:<18} {} in {:.0} s: {}",
                g.name,
                if status.success() { "passed" } else { "FAILED" },
                g.started.elapsed().as_secs_f64(),
                results.iter().filter(|r| !r.contains(" 0 passed; 0 failed")).copied().collect::<Vec<_>>().join(" | ")
            ));
            if !status.success() {
                failed.push(g.name);
            }
        }
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

/// The boot times the tests printed ("time to SSH (...)").
fn timings(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in GROUPS {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        out.extend(text.lines().filter(|l| l.starts_with("time to SSH")).map(|l| format!("{name}: {l}")));
    }
    out
}
