//! `cargo xtask fuzz --seconds N [TARGET]`: each fuzz target of `crates/fuzz` (recipe and
//! inventory YAML, kickstarts, SSH keys, the ISO reader, `liveboot serve`'s request handling, the Redfish
//! client) in its own process for N seconds, then a table. A target whose process dies (memory
//! is limited to 4 GiB there) or that reports a panic or a slow input fails the run; the
//! input is kept under `target/fuzz/` (`target/release/liveboot-fuzz TARGET --replay FILE`).

use std::process::Command;

use anyhow::{bail, Result};

use crate::{cargo, root, run};

/// Runs the targets (all, or those whose names contain `only`) for `seconds` each.
pub fn fuzz(seconds: u64, only: Option<&str>) -> Result<()> {
    run(cargo().args(["build", "--release", "--locked", "-p", "liveboot-fuzz"]))?;
    let bin = root().join("target/release/liveboot-fuzz");
    // The targets, in the order they run: the fuzz binary's own list.
    let list = Command::new(&bin).arg("--list").output()?;
    let targets: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::to_string).collect();
    if targets.is_empty() {
        bail!("{} --list named no targets", bin.display());
    }
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for t in targets.iter().filter(|t| only.is_none_or(|o| t.contains(o))) {
        eprintln!("xtask fuzz: {t} for {seconds} s");
        let out = Command::new(&bin).args([t, "--seconds", &seconds.to_string()]).current_dir(root()).output()?;
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) if out.status.success() => rows.push(format!(
                "{t:<10} {:>9} {:>8} {:>9} {:>8} {:>8}",
                v["execs"].to_string(),
                v["execs_per_second"].to_string(),
                v["outcomes"].to_string(),
                v["corpus"].to_string(),
                v["slowest_ms"].to_string()
            )),
            Ok(v) => {
                rows.push(format!("{t:<10} FAILED: {}", v["failures"]));
                failed.push(t.as_str());
            }
            Err(_) => {
                let current = root().join(format!("target/fuzz/{t}-current.bin"));
                rows.push(format!(
                    "{t:<10} FAILED: the process ended ({}) {}; its last input is {} (--replay it)",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default(),
                    current.display()
                ));
                failed.push(t.as_str());
            }
        }
    }
    println!("\n{:<10} {:>9} {:>8} {:>9} {:>8} {:>8}", "target", "execs", "exec/s", "outcomes", "corpus", "slowest ms");
    for r in &rows {
        println!("{r}");
    }
    if !failed.is_empty() {
        bail!("fuzz targets failed: {}", failed.join(", "));
    }
    Ok(())
}
