//! `cargo xtask bench remaster`: `liveboot remaster IN OUT --kernel-args …` against xorriso by
//! hand (`-boot_image any replay` with the patched menu mapped in, the menu edited beforehand
//! and not timed) on one ISO of about 300 MB: isolinux and an EFI image, isohybrid, a GRUB and
//! a syslinux menu, an incompressible root image. Rounds alternate who goes first; each starts
//! with the previous output gone and written back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

const MENU: &str =
    "menuentry \"Try or Install Ubuntu Server\" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n";

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Deterministic bytes that do not compress (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn input(work: &Path, size_mib: usize) -> Result<PathBuf> {
    let tree = work.join("tree");
    for d in ["isolinux", "boot/grub", "casper"] {
        std::fs::create_dir_all(tree.join(d))?;
    }
    std::fs::copy("/usr/lib/ISOLINUX/isolinux.bin", tree.join("isolinux/isolinux.bin"))?;
    std::fs::copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", tree.join("isolinux/ldlinux.c32"))?;
    std::fs::write(
        tree.join("isolinux/isolinux.cfg"),
        "default live\nlabel live\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet  ---\n",
    )?;
    std::fs::write(tree.join("boot/grub/grub.cfg"), MENU)?;
    std::fs::write(tree.join("casper/vmlinuz"), noise(12 << 20))?;
    std::fs::write(tree.join("casper/initrd"), noise(60 << 20))?;
    std::fs::write(tree.join("casper/filesystem.squashfs"), noise(size_mib.saturating_sub(80) << 20))?;
    let esp = tree.join("boot/grub/efi.img");
    run(Command::new("mkfs.fat").args(["-C", "-n", "ESP"]).arg(&esp).arg("8192"))?;
    let e = esp.to_str().context("path")?;
    run(Command::new("mmd").env("MTOOLS_SKIP_CHECK", "1").args(["-i", e, "::/EFI", "::/EFI/boot"]))?;
    run(Command::new("mcopy").env("MTOOLS_SKIP_CHECK", "1").args([
        "-i",
        e,
        "/usr/lib/shim/shimx64.efi.signed",
        "::/EFI/boot/bootx64.efi",
    ]))?;
    let iso = work.join("in.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "BENCH"])
        .args(["-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args(["-eltorito-alt-boot", "-e", "boot/grub/efi.img", "-no-emul-boot", "-isohybrid-gpt-basdat", "-o"])
        .arg(&iso)
        .arg(&tree))?;
    std::fs::remove_dir_all(&tree)?;
    Ok(iso)
}

fn timed(out: &Path, cmd: &mut Command) -> Result<Duration> {
    let _ = std::fs::remove_file(out);
    let _ = Command::new("sync").status();
    let started = Instant::now();
    run(cmd)?;
    let took = started.elapsed();
    if !out.is_file() {
        bail!("{cmd:?} wrote no {}", out.display());
    }
    Ok(took)
}

pub fn bench(size_mib: usize, rounds: usize) -> Result<()> {
    let liveboot = crate::release_liveboot()?;
    let work = crate::root().join("target/bench-remaster");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let iso = input(&work, size_mib)?;
    let size = std::fs::metadata(&iso)?.len();
    // By hand: the menus edited first (not timed), then one xorriso run.
    let patched_grub = work.join("grub.cfg");
    std::fs::write(&patched_grub, MENU.replace("  ---", "  console=ttyS0,115200n8 ---"))?;
    let patched_isolinux = work.join("isolinux.cfg");
    std::fs::write(
        &patched_isolinux,
        "default live\nlabel live\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet console=ttyS0,115200n8 ---\n",
    )?;
    let out = work.join("out.iso");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let liveboot_cmd = || {
        let mut c = Command::new(&liveboot);
        c.arg("remaster").arg(&iso).arg(&out).args(["--kernel-args", "console=ttyS0,115200n8"]);
        c
    };
    let by_hand = || {
        let mut c = Command::new("xorriso");
        c.args(["-report_about", "SORRY", "-indev"]).arg(&iso).arg("-outdev").arg(&out).args(["-boot_image", "any", "replay"]);
        c.arg("-map").arg(&patched_grub).arg("/boot/grub/grub.cfg");
        c.arg("-map").arg(&patched_isolinux).arg("/isolinux/isolinux.cfg");
        c
    };
    // One round each unmeasured: the input in the page cache for both.
    timed(&out, &mut liveboot_cmd())?;
    timed(&out, &mut by_hand())?;
    for round in 0..rounds {
        if round % 2 == 0 {
            ours.push(timed(&out, &mut liveboot_cmd())?);
            theirs.push(timed(&out, &mut by_hand())?);
        } else {
            theirs.push(timed(&out, &mut by_hand())?);
            ours.push(timed(&out, &mut liveboot_cmd())?);
        }
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (v[0].as_secs_f64(), v[v.len() / 2].as_secs_f64())
    };
    let (ob, om) = stats(&mut ours);
    let (tb, tm) = stats(&mut theirs);
    println!("remastering a {} MiB ISO (isolinux + EFI image, isohybrid; two menus), {rounds} rounds alternating:", size >> 20);
    println!("| tool | best s | median s | vs xorriso (median) |");
    println!("| --- | --- | --- | --- |");
    println!("| xorriso -boot_image any replay -map (menus edited beforehand, untimed) | {tb:.2} | {tm:.2} | 1.00x |");
    println!("| liveboot remaster --kernel-args (finds, extracts and patches the menus) | {ob:.2} | {om:.2} | {:.2}x |", om / tm);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
