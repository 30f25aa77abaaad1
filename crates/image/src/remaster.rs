//! Remastering an ISO someone else built: its boot setup (El Torito BIOS and EFI images, MBR,
//! GPT with an appended EFI partition, isohybrid) replayed by xorriso, some files replaced or
//! added. Used by the `iso` stage of an upstream-ISO recipe and by `liveboot remaster`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use liveboot_recipe::menu::MenuSyntax;
use liveboot_runner::{Cmd, Runner};

/// What to write.
#[derive(Debug, Clone)]
pub struct Remaster {
    /// The ISO read.
    pub iso: PathBuf,
    /// The ISO written (through a temporary name beside it).
    pub out: PathBuf,
    /// A new volume ID; none keeps the original.
    pub volid: Option<String>,
    /// Files or folders put on the ISO (`(source, path on the ISO)`), replacing what is there.
    pub files: Vec<(PathBuf, String)>,
    /// Extra environment for xorriso (SOURCE_DATE_EPOCH).
    pub env: BTreeMap<String, String>,
}

/// Writes `r.out`: nothing is at that path unless xorriso finished.
pub fn remaster(r: &Remaster, runner: &Runner) -> Result<(), String> {
    let name = r.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out.iso".into());
    let tmp = r.out.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut cmd = Cmd::new("xorriso")
        .args(["-report_about", "SORRY", "-abort_on", "FAILURE", "-return_with", "FAILURE", "32"])
        .arg("-indev")
        .arg(&r.iso)
        .arg("-outdev")
        .arg(&tmp)
        .args(["-boot_image", "any", "replay"]);
    if let Some(v) = &r.volid {
        cmd = cmd.arg("-volid").arg(v);
    }
    for (src, dest) in &r.files {
        cmd = cmd.arg("-map").arg(src).arg(format!("/{}", dest.trim_start_matches('/')));
    }
    // Written even when nothing changed (a copy with another volume ID, or none).
    cmd = cmd.args(["-changes_pending", "yes"]);
    for (k, v) in &r.env {
        cmd = cmd.env(k, v);
    }
    let result = runner.run(&cmd).map(|_| ()).map_err(|e| format!("remastering {}: {e}", r.iso.display()));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &r.out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: {e}", r.out.display())
    })
}

/// Every file on an ISO (paths without the leading `/`).
pub fn list(iso: &Path, runner: &Runner) -> Result<Vec<String>, String> {
    is_iso9660(iso).map_err(|e| format!("{}: cannot read it as an ISO: {e}", iso.display()))?;
    let cmd = Cmd::new("xorriso").args(["-report_about", "SORRY", "-indev"]).arg(iso).args(["-find", "/", "-type", "f", "--"]);
    let out = runner.run(&cmd).map_err(|e| format!("{}: cannot read it as an ISO: {e}", iso.display()))?;
    // One quoted path a line: `'/boot/grub/grub.cfg'` (a quote inside as `'"'"'`).
    Ok(out.stdout_text().lines().filter_map(|l| l.strip_prefix("'/")?.strip_suffix('\'').map(|p| p.replace("'\"'\"'", "'"))).collect())
}

/// An ISO 9660 volume has its first volume descriptor (`CD001`) at byte 32769; xorriso would
/// take anything else for an empty image.
fn is_iso9660(path: &Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 5];
    f.seek(SeekFrom::Start(32769)).and_then(|_| f.read_exact(&mut magic)).map_err(|_| "too short to be one".to_string())?;
    if &magic != b"CD001" {
        return Err("no ISO 9660 volume descriptor".into());
    }
    Ok(())
}

/// Copies `paths` (on the ISO) into `dest` under the same relative paths.
pub fn extract(iso: &Path, paths: &[String], dest: &Path, runner: &Runner) -> Result<(), String> {
    if paths.is_empty() {
        return Ok(());
    }
    let cmd = Cmd::new("xorriso")
        // Directories of an ISO are read-only: xorriso opens each one for itself while it
        // writes into it (a user who is not root could not create the next file otherwise).
        .args(["-report_about", "SORRY", "-osirrox", "on:auto_chmod_on", "-indev"])
        .arg(iso)
        .args(["-extract_l", "/"])
        .arg(format!("{}/", dest.display()))
        .args(paths.iter().map(|p| format!("/{p}")))
        .arg("--");
    runner.run(&cmd).map_err(|e| format!("{}: cannot copy its files out: {e}", iso.display()))?;
    // xorriso gives them the ISO's modes (read-only); they are ours to edit.
    writable(dest).map_err(|e| format!("{}: {e}", dest.display()))
}

fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::symlink_metadata(path)?;
    if m.file_type().is_symlink() {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(m.permissions().mode() | 0o200))?;
    if m.is_dir() {
        for e in std::fs::read_dir(path)? {
            writable(&e?.path())?;
        }
    }
    Ok(())
}

/// The boot menus among an ISO's files: every `.cfg` a known loader reads.
pub fn menus(files: &[String]) -> Vec<(String, MenuSyntax)> {
    files.iter().filter_map(|f| MenuSyntax::of(f).map(|s| (f.clone(), s))).collect()
}

/// Replaces `find` by `replace` everywhere in `file`; fewer than `min` matches is an error
/// showing the kernel command lines the file has (what a menu rule usually aims at).
pub fn edit(file: &Path, shown: &str, find: &str, replace: &str, min: u32, help: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{shown}: {e} (is it on the ISO?)\n  help: {help}"))?;
    let n = text.matches(find).count();
    if n < min as usize {
        let syntax = MenuSyntax::of(shown);
        let lines = syntax
            .map(|s| s.kernel_lines(&text))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| text.lines().enumerate().take(30).map(|(i, l)| (i + 1, l.to_string())).collect());
        let what = if syntax.is_some() { "its kernel command lines" } else { "its first lines" };
        let shown_lines: String = lines.iter().map(|(i, l)| format!("\n    {shown}:{i}: {}", l.trim_end())).collect();
        return Err(format!("{shown}: {find:?} found {n} time(s), at least {min} expected; {what}:{shown_lines}\n  help: {help}"));
    }
    let new = text.replace(find, replace);
    let tmp = file.with_extension("edit-tmp");
    std::fs::write(&tmp, new).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, file).map_err(|e| format!("{}: {e}", file.display()))
}
