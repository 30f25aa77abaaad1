//! `cargo xtask bench squashfs`: the project's squashfs writer (mksquashfs through the runner,
//! with the squashfs stage's arguments) against plain mksquashfs and against backhand as
//! released, on the same tree with the same compressor and level. Each writer runs in its own
//! process so that its peak memory is its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The newest customized root filesystem in the project's stage cache.
pub fn default_tree() -> Result<PathBuf> {
    let stages = crate::root().join(".cache/liveboot/stages");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&stages)
        .with_context(|| format!("no stage cache at {}: build debian12 first (liveboot build debian12) or pass --tree", stages.display()))?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("customize-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path().join("rootfs"))))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).context("no customized root filesystem in the cache: build debian12 first or pass --tree")
}

/// Writes `tree` to `out` with `writer`, in this process; prints `{seconds, peak_kib}` as JSON.
pub fn child(writer: &str, tree: &Path, out: &Path, level: u32) -> Result<()> {
    let start = Instant::now();
    let peak = match writer {
        "mksquashfs" | "liveboot" => {
            let mut cmd = Command::new("mksquashfs");
            cmd.arg(tree).arg(out).args([
                "-noappend",
                "-no-progress",
                "-quiet",
                "-comp",
                "zstd",
                "-Xcompression-level",
                &level.to_string(),
            ]);
            if writer == "liveboot" {
                // Exactly the squashfs stage's arguments, through the project's runner.
                let argv: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
                let c = liveboot_runner::Cmd::new("mksquashfs").args(argv.iter().filter(|a| *a != "-quiet")).arg("-xattrs");
                liveboot_runner::Runner::new().run(&c).map_err(|e| anyhow::anyhow!("{e}"))?;
            } else if !cmd.status()?.success() {
                bail!("mksquashfs failed");
            }
            children_peak_kib()
        }
        "backhand" => {
            backhand_write(tree, out, level)?;
            self_peak_kib()
        }
        _ => bail!("unknown writer {writer}"),
    };
    println!("{}", serde_json::json!({ "seconds": start.elapsed().as_secs_f64(), "peak_kib": peak }));
    Ok(())
}

fn children_peak_kib() -> u64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    u.ru_maxrss as u64
}

fn self_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// backhand as released: walks the tree and writes it; hard links become separate files and
/// extended attributes are not carried (it has no API for them).
fn backhand_write(tree: &Path, out: &Path, level: u32) -> Result<()> {
    use backhand::compression::{CompressionOptions, Compressor, Zstd};
    use backhand::{FilesystemCompressor, FilesystemWriter, NodeHeader};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut fs = FilesystemWriter::default();
    fs.set_compressor(FilesystemCompressor::new(Compressor::Zstd, Some(CompressionOptions::Zstd(Zstd { compression_level: level })))?);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(tree.join(&rel))?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = rel.join(e.file_name());
            let full = tree.join(&path);
            let m = std::fs::symlink_metadata(&full)?;
            let h = NodeHeader::new((m.mode() & 0o7777) as u16, m.uid(), m.gid(), m.mtime() as u32);
            let ft = m.file_type();
            if ft.is_dir() {
                fs.push_dir(&path, h)?;
                stack.push(path);
            } else if ft.is_symlink() {
                fs.push_symlink(std::fs::read_link(&full)?, &path, h)?;
            } else if ft.is_file() {
                fs.push_file_from_path(full, &path, h)?;
            } else if ft.is_char_device() {
                fs.push_char_device(m.rdev() as u32, &path, h)?;
            } else if ft.is_block_device() {
                fs.push_block_device(m.rdev() as u32, &path, h)?;
            }
        }
    }
    let f = std::io::BufWriter::new(std::fs::File::create(out)?);
    fs.write(f)?;
    Ok(())
}

/// Does ping keep its file capability in the image? (The kernel reads it from an xattr.)
fn keeps_capability(image: &Path, work: &Path) -> bool {
    let dir = work.join("cap-check");
    let _ = std::fs::remove_dir_all(&dir);
    let ok = Command::new("unsquashfs")
        .args(["-no-progress", "-q", "-d"])
        .arg(&dir)
        .arg(image)
        .arg("usr/bin/ping")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let cap = Command::new("getcap")
        .arg(dir.join("usr/bin/ping"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("cap_net_raw"))
        .unwrap_or(false);
    let _ = std::fs::remove_dir_all(&dir);
    ok && cap
}

pub fn bench(tree: Option<PathBuf>, level: u32) -> Result<()> {
    let tree = match tree {
        Some(t) => t,
        None => default_tree()?,
    };
    let work = tempfile::tempdir_in(crate::root().join("target"))?;
    println!("tree: {} ; zstd level {level}; 2 cores", tree.display());
    println!("{:<34} {:>9} {:>12} {:>12} {:>10} {:>8}", "writer", "seconds", "bytes", "peak memory", "ping cap", "vs peer");
    // Read the whole tree once so that no writer pays for a cold page cache.
    let _ = Command::new("tar").arg("-cf").arg("/dev/null").arg("-C").arg(&tree).arg(".").status();
    let mut peer: Option<(f64, u64)> = None;
    for (writer, label) in [
        ("mksquashfs", "mksquashfs 4.5 (peer)"),
        ("liveboot", "liveboot (mksquashfs via runner)"),
        ("backhand", "backhand 0.25 in-process"),
    ] {
        let out = work.path().join(format!("{writer}.squashfs"));
        let me = std::env::current_exe()?;
        // Best of two runs, each in its own process.
        let mut best: Option<serde_json::Value> = None;
        for _ in 0..2 {
            let o = Command::new(&me).args(["bench-squashfs-child", writer]).arg(&tree).arg(&out).arg(level.to_string()).output()?;
            if !o.status.success() {
                bail!("{writer} failed: {}", String::from_utf8_lossy(&o.stderr));
            }
            let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
            if best.as_ref().is_none_or(|b| v["seconds"].as_f64() < b["seconds"].as_f64()) {
                best = Some(v);
            }
        }
        let v = best.expect("two runs");
        let secs = v["seconds"].as_f64().unwrap_or(0.0);
        let bytes = std::fs::metadata(&out)?.len();
        let (ps, pb) = *peer.get_or_insert((secs, bytes));
        println!(
            "{label:<34} {secs:>9.2} {bytes:>12} {:>9} MiB {:>10} {:>4.2}x/{:.3}x",
            v["peak_kib"].as_u64().unwrap_or(0) / 1024,
            if keeps_capability(&out, work.path()) { "kept" } else { "LOST" },
            secs / ps,
            bytes as f64 / pb as f64
        );
        std::fs::remove_file(&out)?;
    }
    println!("(best of two runs each, page cache warm; vs peer: wall time / size, relative to mksquashfs)");
    Ok(())
}
