//! `cargo xtask bench kiwi`: the Debian KIWI description (`kiwi/debian12`) built by liveboot
//! and by kiwi-ng itself (11.1.6 from PyPI, in the test venv, with Debian's kiwi-systemdeps),
//! same machine, same run: a cold build, then a rebuild with one package added. kiwi-ng keeps
//! no stage cache, so its rebuild is a whole build again; liveboot's reruns what the new
//! package changes. Both download from the description's Debian mirror (each keeps its own
//! package cache between its two builds).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The package the rebuild adds.
const ADDED: &str = "htop";

/// Debian packages only this benchmark needs: kiwi-ng's host tools.
const PEER_PACKAGES: &[(&str, &str)] = &[
    ("kiwi-systemdeps-iso-media", "the host tools kiwi-ng builds a live ISO with (the peer of `bench kiwi`)"),
    ("debootstrap", "kiwi-ng bootstraps apt descriptions with it (the peer of `bench kiwi`)"),
];

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let ok = Command::new("cp").arg("-a").arg(from).arg(to).status()?.success();
    if !ok {
        bail!("cp -a {} {} failed", from.display(), to.display());
    }
    Ok(())
}

fn timed(what: &str, cmd: &mut Command, log: &Path) -> Result<Duration> {
    eprintln!("bench kiwi: {what} (log: {})", log.display());
    let file = std::fs::File::create(log)?;
    let started = Instant::now();
    let status = cmd.stdout(file.try_clone()?).stderr(file).status().with_context(|| format!("{what}: cannot start {cmd:?}"))?;
    let took = started.elapsed();
    if !status.success() {
        bail!("{what} failed ({status}); see {}", log.display());
    }
    Ok(took)
}

fn size_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map(|m| m.len() as f64 / 1048576.0).unwrap_or(f64::NAN)
}

pub fn bench() -> Result<()> {
    crate::deps::apt_packages(PEER_PACKAGES)?;
    let root = crate::root();
    let liveboot = crate::release_liveboot()?;
    let kiwi_ng = crate::deps::venv().join("bin/kiwi-ng");
    // Inside the project: liveboot keeps the files a recipe names in its project.
    let work = root.join("target/bench-kiwi");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("recipes"))?;

    // One description for both. kiwi-ng's live ISO boots with its own dracut module (kiwi-live,
    // dracut-kiwi-live, which Debian does not package) unless flags="dmsquash" names dracut's
    // dmsquash-live, the module liveboot's recipe boots it with.
    let desc = work.join("desc");
    copy_tree(&root.join("kiwi/debian12"), &desc)?;
    let config = desc.join("config.kiwi");
    let text = std::fs::read_to_string(&config)?;
    let text = text.replacen("<type image=\"iso\"", "<type image=\"iso\" flags=\"dmsquash\"", 1);
    // kiwi-ng's apt checks the archive's signature with the keys the source names; liveboot's
    // mmdebstrap takes the host's keyring (debian-archive-keyring) by itself.
    let text = text.replacen(
        "<source path=\"http://deb.debian.org/debian\"/>",
        "<source path=\"http://deb.debian.org/debian\"><signing key=\"file:///usr/share/keyrings/debian-archive-keyring.gpg\"/></source>",
        1,
    );
    // dracut's postinst builds an initrd as soon as it is installed: without network-legacy,
    // dracut-network's modules want a D-Bus the root does not have and the postinst fails.
    // liveboot writes its dracut.conf before the packages go in; kiwi-ng gets the same through
    // a bootstrap archive (unpacked before the image packages install).
    let conf = work.join("dracut-conf");
    std::fs::create_dir_all(conf.join("etc/dracut.conf.d"))?;
    std::fs::write(conf.join("etc/dracut.conf.d/10-bench.conf"), "hostonly=\"no\"\nadd_dracutmodules+=\" network-legacy \"\n")?;
    crate::run(Command::new("tar").arg("-C").arg(&conf).arg("-cf").arg(desc.join("dracut-conf.tar")).arg("etc"))?;
    let text =
        text.replacen("<packages type=\"bootstrap\">", "<packages type=\"bootstrap\">\n        <archive name=\"dracut-conf.tar\"/>", 1);
    // kiwi-ng sets the locale up with systemd-firstboot, which wants it compiled (locales-all);
    // liveboot leaves locales to the image's packages. The bench's copy names none.
    let text = text.replacen("<locale>en_US</locale>", "", 1);
    // kiwi-ng makes the ISO's loaders from GRUB and shim inside the image (BIOS and UEFI with
    // Secure Boot); liveboot takes them from the host's packages. Both get them installed.
    let loaders: String = ["grub-pc-bin", "grub-efi-amd64-bin", "grub-efi-amd64-signed", "shim-signed"]
        .iter()
        .map(|p| format!("\n        <package name=\"{p}\"/>"))
        .collect();
    let text = text.replacen("<packages type=\"image\">", &format!("<packages type=\"image\">{loaders}"), 1);
    std::fs::write(&config, &text)?;
    std::fs::write(
        work.join("recipes/bench-kiwi.yaml"),
        format!(
            "extends: {}\nname: bench-kiwi\nsource:\n  kiwi:\n    description: ../desc\n    profile: live\n",
            root.join("recipes/debian12-kiwi.yaml").display()
        ),
    )?;
    let recipe = work.join("recipes/bench-kiwi.yaml");
    let lb = |log: &str| -> Result<Duration> {
        let mut cmd = Command::new(&liveboot);
        cmd.arg("-C").arg(&root).arg("build").arg(&recipe).arg("--cache").arg(work.join("lb-cache")).arg("--out").arg(work.join("lb-out"));
        timed("liveboot build", &mut cmd, &work.join(log))
    };
    let kiwi = |target: &str, log: &str| -> Result<Duration> {
        let mut cmd = Command::new(&kiwi_ng);
        cmd.args(["--profile", "live", "--type", "iso", "system", "build", "--description"])
            .arg(&desc)
            .arg("--target-dir")
            .arg(work.join(target));
        timed("kiwi-ng system build", &mut cmd, &work.join(log))
    };
    let iso_of = |dir: &Path| -> Option<std::path::PathBuf> {
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "iso"))
    };

    // kiwi-ng first: what it refuses shows before liveboot's minutes are spent.
    let kiwi_cold = kiwi("kiwi-cold", "kiwi-cold.log")?;
    let lb_cold = lb("liveboot-cold.log")?;
    let lb_iso = size_mib(&work.join("lb-out/bench-kiwi/bench-kiwi.iso"));
    let kiwi_iso = iso_of(&work.join("kiwi-cold")).map(|p| size_mib(&p)).unwrap_or(f64::NAN);

    // One package more.
    let added = text.replacen("<packages type=\"image\">", &format!("<packages type=\"image\">\n        <package name=\"{ADDED}\"/>"), 1);
    std::fs::write(&config, added)?;
    let lb_again = lb("liveboot-rebuild.log")?;
    let kiwi_again = kiwi("kiwi-rebuild", "kiwi-rebuild.log")?;

    let row = |what: &str, ours: Duration, peer: Duration| {
        println!(
            "| {what:<28} | {:>9.1} s | {:>9.1} s | {:>6.2}× |",
            ours.as_secs_f64(),
            peer.as_secs_f64(),
            ours.as_secs_f64() / peer.as_secs_f64()
        );
    };
    println!("\nkiwi/debian12 (profile live, type iso), liveboot against kiwi-ng 11.1.6, same machine, one run\n");
    println!("| {:<28} | {:>11} | {:>11} | {:>7} |", "build", "liveboot", "kiwi-ng", "ratio");
    println!("|{:-<30}|{:->13}|{:->13}|{:->9}|", "", "", "", "");
    row("cold", lb_cold, kiwi_cold);
    row(&format!("rebuild, {ADDED} added"), lb_again, kiwi_again);
    println!("\nISO: liveboot {lb_iso:.0} MiB (squashfs zstd), kiwi-ng {kiwi_iso:.0} MiB (its default: xz)");
    let json = serde_json::json!({
        "bench": "kiwi",
        "liveboot": { "cold_s": lb_cold.as_secs_f64(), "rebuild_s": lb_again.as_secs_f64(), "iso_mib": lb_iso },
        "kiwi-ng": { "cold_s": kiwi_cold.as_secs_f64(), "rebuild_s": kiwi_again.as_secs_f64(), "iso_mib": kiwi_iso },
    });
    std::fs::write(work.join("results.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    println!("(results: {})", work.join("results.json").display());
    Ok(())
}
