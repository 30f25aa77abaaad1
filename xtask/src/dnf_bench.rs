//! `cargo xtask bench dnf`: the package step of a kickstart build against `dnf --installroot`
//! typed by hand, on the same local repository (the kickstart test's, served by `liveboot
//! serve`), with the same packages and a warm package cache: what liveboot's orchestration
//! (the repository check, its dnf configuration, the contained run, the clean-up) costs over
//! dnf's own work.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use liveboot_recipe::plan::{Action, Plan, PlanOptions};

/// The kickstart both tools install: the test repository's payload, a group, an exclusion.
const KICKSTART: &str = "lang en_US.UTF-8\nurl --url=@URL@\n%packages\n@core\n@liveboot-extras\n-liveboot-unwanted\n%end\n";

pub fn bench(rounds: usize) -> Result<()> {
    let repo = liveboot_e2e::rpmrepo::ensure();
    let server = liveboot_publish::serve(&repo, "127.0.0.1:0", Default::default())?;
    let url = format!("http://{}/", server.addr());
    let work = crate::root().join("target/bench-dnf");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("recipes"))?;
    std::fs::write(work.join("bench.ks"), KICKSTART.replace("@URL@", &url))?;
    std::fs::write(
        work.join("recipes/bench.yaml"),
        format!(
            "extends: {}\nname: bench\ntitle: dnf bench\nlabel: BENCH\ndistro:\n  family: fedora\n  release: 37\nsource:\n  kickstart:\n    file: ../bench.ks\n",
            crate::root().join("recipes/_fedora.yaml").display()
        ),
    )?;
    let recipe = liveboot_recipe::load(&work.join("recipes/bench.yaml")).map_err(|d| anyhow!("{d}"))?;
    let opts = PlanOptions { templates: crate::root().join("templates"), ..PlanOptions::for_project(&work) };
    let plan = liveboot_recipe::plan::plan(&recipe, &opts).map_err(|d| anyhow!("{d}"))?;
    // Only the package step: the plan's first stage.
    let rootfs = Plan { stages: vec![plan.stages[0].clone()], artifacts: Vec::new(), ..plan };
    let dnf_argv: Vec<String> = rootfs.stages[0]
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Run { argv, .. } if argv.iter().any(|t| t.to_string() == "dnf") => Some(argv.iter().map(ToString::to_string).collect()),
            _ => None,
        })
        .context("the plan's rootfs stage runs no dnf")?;
    let specs: Vec<&String> = dnf_argv.iter().skip_while(|a| *a != "install").skip(1).collect();
    let excludes: Vec<&String> = dnf_argv.iter().filter(|a| a.starts_with("--exclude=")).collect();
    let cache = work.join("cache");
    let dnf_cache = cache.join("dnf/fedora-37");
    std::fs::create_dir_all(&dnf_cache)?;

    // By hand: what a person types for the same packages, with Debian's rpm told where the
    // root's database goes.
    let home = work.join("home");
    std::fs::create_dir_all(&home)?;
    std::fs::write(home.join(".rpmmacros"), "%_dbpath /usr/lib/sysimage/rpm\n")?;
    // Each run starts from the same state: the previous root gone and written back (a run right
    // after another would pay for its write-back), the package cache warm.
    let settle = || {
        let _ = Command::new("sync").status();
    };
    let by_hand = |root: &Path| -> Result<Duration> {
        let _ = std::fs::remove_dir_all(root);
        settle();
        let started = Instant::now();
        let status = Command::new("dnf")
            .env("HOME", &home)
            .args(["-y", "-q", "--noplugins", "--releasever=37", "--setopt=reposdir=/nonexistent", "--setopt=keepcache=True"])
            .arg(format!("--installroot={}", root.display()))
            .arg(format!("--repofrompath=bench,{url}"))
            .args(["--setopt=bench.gpgcheck=False"])
            .arg(format!("--setopt=cachedir={}", dnf_cache.display()))
            .args(&excludes)
            .arg("install")
            .args(&specs)
            .status()?;
        if !status.success() {
            bail!("dnf by hand failed: {status}");
        }
        Ok(started.elapsed())
    };
    let liveboot = || -> Result<Duration> {
        let _ = std::fs::remove_dir_all(cache.join("stages"));
        settle();
        let opts = liveboot_image::BuildOptions {
            cache: cache.clone(),
            out: work.join("out"),
            project: work.clone(),
            templates: crate::root().join("templates"),
            runner: liveboot_runner::Runner::new(),
            interrupt: Default::default(),
            progress: std::sync::Arc::new(|_| {}),
        };
        let started = Instant::now();
        liveboot_image::build(&rootfs, &opts).map_err(|e| anyhow!("liveboot's rootfs stage failed: {}", e.message))?;
        Ok(started.elapsed())
    };
    let peer_root = work.join("by-hand");
    eprintln!("xtask bench dnf: warming the package cache ({} packages and groups)", specs.len());
    by_hand(&peer_root)?;
    liveboot()?;
    let (mut peer, mut ours) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        eprintln!("xtask bench dnf: round {}/{rounds}", round + 1);
        // Alternating which goes first.
        if round % 2 == 0 {
            peer.push(by_hand(&peer_root)?);
            ours.push(liveboot()?);
        } else {
            ours.push(liveboot()?);
            peer.push(by_hand(&peer_root)?);
        }
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let stage_root = std::fs::read_dir(cache.join("stages"))?
        .flatten()
        .map(|e| e.path().join("rootfs"))
        .find(|p| p.is_dir())
        .context("no rootfs stage")?;
    let packages = |root: &Path| -> Result<usize> {
        let out = Command::new("rpm").arg(format!("--root={}", root.display())).args(["--dbpath=/usr/lib/sysimage/rpm", "-qa"]).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).lines().count())
    };
    println!("\npackage step, same repository ({url}), same {} package and group names, warm package cache; {rounds} rounds", specs.len());
    println!("{:<28} {:>9} {:>9} {:>9}", "tool", "best s", "median s", "packages");
    println!(
        "{:<28} {:>9.2} {:>9.2} {:>9}",
        "dnf --installroot by hand",
        best(&peer).as_secs_f64(),
        median(&peer).as_secs_f64(),
        packages(&peer_root)?
    );
    println!(
        "{:<28} {:>9.2} {:>9.2} {:>9}",
        "liveboot rootfs stage",
        best(&ours).as_secs_f64(),
        median(&ours).as_secs_f64(),
        packages(&stage_root)?
    );
    let over = median(&ours).as_secs_f64() - median(&peer).as_secs_f64();
    println!("liveboot's orchestration: {over:+.2} s on the median ({:+.0} %)", 100.0 * over / median(&peer).as_secs_f64());
    drop(server);
    Ok(())
}
