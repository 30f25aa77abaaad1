//! `liveboot remaster`: any bootable Linux ISO with kernel arguments added to every kernel
//! command line of its menus, a NoCloud seed embedded, files added; its boot setup replayed
//! (the livefs-editor use case). The same machinery remasters upstream ISOs in builds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use liveboot_image::remaster::{self, Remaster};
use liveboot_recipe::family::scheme_of;
use liveboot_runner::Runner;

/// What to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The ISO read.
    pub iso: PathBuf,
    /// The ISO written.
    pub out: PathBuf,
    /// Kernel arguments added to every kernel command line.
    pub kernel_args: Vec<String>,
    /// A NoCloud seed folder (user-data, meta-data, ...) to embed as `/nocloud/`.
    pub seed: Option<PathBuf>,
    /// Files or folders to put on the ISO (`(source, path on the ISO)`).
    pub add: Vec<(PathBuf, String)>,
    /// A new volume ID.
    pub volid: Option<String>,
}

/// What was done.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The ISO written.
    pub out: PathBuf,
    /// Each menu changed and how many kernel command lines in it.
    pub menus: Vec<MenuChange>,
    /// The arguments added, as written in a syslinux menu (GRUB's are quoted where needed).
    pub kernel_args: Vec<String>,
    /// Where the live system reads the embedded seed from, if one was embedded.
    pub seed_at: Option<String>,
    /// Size of the written ISO.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// One menu file and the kernel lines it got the arguments on.
#[derive(Debug, Clone, Serialize)]
pub struct MenuChange {
    /// Path on the ISO.
    pub path: String,
    /// `grub` or `syslinux`.
    pub loader: &'static str,
    /// Kernel command lines changed.
    pub lines: usize,
}

/// Parses `SRC:DEST` (DEST a path on the ISO).
pub fn parse_add(s: &str) -> Result<(PathBuf, String), String> {
    match s.rsplit_once(':') {
        Some((src, dest)) if !src.is_empty() && !dest.is_empty() && !dest.split('/').any(|p| p == "..") => {
            Ok((PathBuf::from(src), dest.trim_start_matches('/').to_string()))
        }
        _ => Err(format!("--add {s}: write SRC:DEST, DEST a path on the ISO like /extra/file")),
    }
}

/// Remasters `req.iso` into `req.out`.
pub fn remaster(req: &Request, runner: &Runner) -> Result<Report, String> {
    let started = Instant::now();
    let meta = std::fs::metadata(&req.iso).map_err(|e| format!("{}: {e}", req.iso.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a file", req.iso.display()));
    }
    if same_file(&req.iso, &req.out) {
        return Err(format!(
            "{}: the output would overwrite the input\n  help: write the remastered ISO to another path",
            req.out.display()
        ));
    }
    for (src, dest) in &req.add {
        if !src.exists() {
            return Err(format!("--add {}:{dest}: {} does not exist", src.display(), src.display()));
        }
    }
    if let Some(seed) = &req.seed {
        check_seed(seed)?;
    }
    let files = remaster::list(&req.iso, runner)?;
    let mut args = req.kernel_args.clone();
    let mut seed_at = None;
    if req.seed.is_some() {
        let scheme = scheme_of(|p| files.iter().any(|f| f == p)).ok_or_else(|| {
            format!(
                "{}: cannot tell where its live system finds its boot medium (no casper/, live/, LiveOS/ or KIWI kernel)\n  help: add the seed yourself: --add DIR:/nocloud --kernel-args 'ds=nocloud;s=<where the medium is mounted>/nocloud/'",
                req.iso.display()
            )
        })?;
        let at = format!("{}/nocloud/", scheme.medium_mount);
        args.push(format!("ds=nocloud;s={at}"));
        seed_at = Some(at);
    }
    // Files added with --add, by their path on the ISO (folders walked): they replace the
    // ISO's, and a menu among them gets the kernel arguments too.
    let mut added: Vec<(String, PathBuf)> = Vec::new();
    for (src, dest) in &req.add {
        walk(src, dest.trim_matches('/'), &mut added).map_err(|e| format!("--add {}: {e}", src.display()))?;
    }
    let mut menus = remaster::menus(&files);
    for (path, syntax) in remaster::menus(&added.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()) {
        if !menus.iter().any(|(p, _)| *p == path) {
            menus.push((path, syntax));
        }
    }
    let work = req.out.with_file_name(format!(".{}.remaster-{}", file_name(&req.out), std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = (|| {
        let mut changes = Vec::new();
        let mut mapped: Vec<(PathBuf, String)> = Vec::new();
        if let Some(seed) = &req.seed {
            mapped.push((seed.clone(), "nocloud".into()));
        }
        mapped.extend(req.add.iter().cloned());
        if !args.is_empty() {
            let from_iso: Vec<String> = menus.iter().map(|(p, _)| p.clone()).filter(|p| !added.iter().any(|(a, _)| a == p)).collect();
            remaster::extract(&req.iso, &from_iso, &work, runner)?;
            for (path, syntax) in &menus {
                let file = work.join(path);
                if let Some((_, src)) = added.iter().find(|(a, _)| a == path) {
                    std::fs::create_dir_all(file.parent().unwrap_or(&work)).map_err(|e| format!("{}: {e}", work.display()))?;
                    std::fs::copy(src, &file).map_err(|e| format!("{}: {e}", src.display()))?;
                }
                let text = std::fs::read_to_string(&file).map_err(|e| format!("{path} on {}: {e}", req.iso.display()))?;
                let quoted = syntax.quote(&args).map_err(|e| format!("kernel argument {:?}: {}", e.arg, e.why))?;
                let (new, n) = syntax.add_args(&text, &quoted);
                if n > 0 {
                    std::fs::write(&file, new).map_err(|e| format!("{}: {e}", file.display()))?;
                    // After the --add files: the patched menu wins over an added one.
                    mapped.push((file, path.clone()));
                    changes.push(MenuChange { path: path.clone(), loader: syntax.name(), lines: n });
                }
            }
            if changes.is_empty() {
                let looked: Vec<&str> = menus.iter().map(|(p, _)| p.as_str()).collect();
                return Err(format!(
                    "{}: no kernel command line found to add the arguments to (menus looked at: {})\n  help: liveboot reads GRUB's linux/linuxefi lines and syslinux's append lines",
                    req.iso.display(),
                    if looked.is_empty() { "none".to_string() } else { looked.join(", ") }
                ));
            }
        }
        let env = std::env::var("SOURCE_DATE_EPOCH").ok().map(|e| ("SOURCE_DATE_EPOCH".to_string(), e)).into_iter().collect();
        remaster::remaster(&Remaster { iso: req.iso.clone(), out: req.out.clone(), volid: req.volid.clone(), files: mapped, env }, runner)?;
        Ok(changes)
    })();
    let _ = std::fs::remove_dir_all(&work);
    let menus = result?;
    let bytes = std::fs::metadata(&req.out).map(|m| m.len()).unwrap_or(0);
    Ok(Report { out: req.out.clone(), menus, kernel_args: args, seed_at, bytes, seconds: started.elapsed().as_secs_f64() })
}

/// Every file under `src` (or `src` itself) with its path on the ISO under `dest`.
fn walk(src: &Path, dest: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    if src.is_dir() {
        for e in std::fs::read_dir(src)? {
            let e = e?;
            walk(&e.path(), &format!("{dest}/{}", e.file_name().to_string_lossy()), out)?;
        }
    } else {
        out.push((dest.trim_start_matches('/').to_string(), src.to_path_buf()));
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out.iso".into())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// A NoCloud seed folder holds `meta-data` and `user-data` (cloud-init reads nothing without both).
fn check_seed(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("--seed {}: not a folder\n  help: give the folder holding user-data and meta-data (a seed image's files: xorriso -osirrox on -indev cidata-NODE.iso -extract / DIR)", dir.display()));
    }
    for f in ["meta-data", "user-data"] {
        if !dir.join(f).is_file() {
            return Err(format!("--seed {}: no {f} in it (a NoCloud seed needs user-data and meta-data)", dir.display()));
        }
    }
    Ok(())
}
