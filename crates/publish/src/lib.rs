//! Publishing: BMCs mount images over HTTP and read them with Range requests for as long as a
//! node runs from them, so a published file must never change behind its URL. [`publish`] gives
//! each file a short, URL-safe, content-addressed name (no `?`, no `=`: some BMCs reject them),
//! writes it atomically and never rewrites it; [`serve`] is a small HTTP/1.1 file server with
//! Range, HEAD, ETag and Last-Modified for the files of one folder.

mod http;

use std::path::{Path, PathBuf};

use liveboot_digest::sha256_file;

pub use http::{serve, ServeOptions, Server};

/// A file made available under its immutable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Name in the publishing folder: `<stem>-<16 hex digits of SHA-256>.<extension>`.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Whether this call placed it (false: the same content was already published).
    pub placed: bool,
}

/// Keeps names URL-safe: letters, digits, `-`, `_`, `.`; anything else becomes `-`.
fn url_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect()
}

/// The immutable name of `src` with this content hash.
pub fn published_name(src: &Path, sha256: &str) -> String {
    let stem = url_safe(&src.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into()));
    match src.extension() {
        Some(ext) => format!("{stem}-{}.{}", &sha256[..16], url_safe(&ext.to_string_lossy())),
        None => format!("{stem}-{}", &sha256[..16]),
    }
}

/// Publishes `src` into `dir` under its content-addressed name. The published file is liveboot's
/// own read-only copy (a reflink where the file system shares blocks, else a copy), never a link
/// to the caller's file: editing the source in place, or `cp new.iso src.iso`, must not change
/// what a BMC reads behind a URL named by the old content. The name comes from the bytes that
/// were copied. A name that exists already must be a regular file holding exactly those bytes;
/// anything else there (a link, other bytes) is an error, never taken as published.
pub fn publish(src: &Path, dir: &Path) -> std::io::Result<Published> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(src)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::create_dir_all(dir)?;
    remove_stale_temporaries(dir);
    // A private temporary file of unpredictable name, created exclusively (no link to follow).
    let tmp = tempfile::Builder::new().prefix(TMP_PREFIX).tempfile_in(dir)?;
    copy_or_reflink(src, tmp.as_file())?;
    let sha256 = sha256_file(tmp.path())?;
    let bytes = tmp.as_file().metadata()?.len();
    let name = published_name(src, &sha256);
    let dest = dir.join(&name);
    match std::fs::symlink_metadata(&dest) {
        Ok(m) if m.is_file() && m.len() == bytes && sha256_file(&dest)? == sha256 => {
            return Ok(Published { name, sha256, bytes, placed: false });
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists but does not hold these bytes (a link, or other content); remove it", dest.display()),
            ))
        }
        Err(_) => {}
    }
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o444))?;
    tmp.as_file().sync_all()?;
    // No overwrite: if another publisher got there first, its file must hold these bytes too.
    match tmp.persist_noclobber(&dest) {
        Ok(_) => Ok(Published { name, sha256, bytes, placed: true }),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists && sha256_file(&dest)? == sha256 => {
            Ok(Published { name, sha256, bytes, placed: false })
        }
        Err(e) => Err(e.error),
    }
}

/// How publish's temporary files start (hidden: `serve` never serves them).
const TMP_PREFIX: &str = ".liveboot-publish-";

/// A temporary file untouched this long belongs to a publish that was killed (a running copy
/// writes to its file all the time; a reflink is done at once).
const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files of killed publishes (regular files only, named by this module,
/// untouched for an hour), so that a publish folder does not fill up with them.
fn remove_stale_temporaries(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let stale = e.file_name().to_string_lossy().starts_with(TMP_PREFIX)
            && e.metadata()
                .ok()
                .filter(|m| m.is_file())
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE);
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Fills `to` with the bytes of `from`: a reflink (FICLONE: no data copied, blocks shared
/// copy-on-write, so later writes to the source do not reach it) where the file system can,
/// else a copy.
fn copy_or_reflink(from: &Path, to: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let src = std::fs::File::open(from)?;
    const FICLONE: libc::c_ulong = 0x4004_9409;
    // SAFETY: both descriptors are open files owned by this function's callers for the call.
    if unsafe { libc::ioctl(to.as_raw_fd(), FICLONE, src.as_raw_fd()) } == 0 {
        return Ok(());
    }
    let mut to = to;
    std::io::copy(&mut std::io::BufReader::with_capacity(1 << 20, src), &mut to)?;
    Ok(())
}

/// Places `src` at `dest` for others to read: a hard link when both are on one file system and
/// the source is readable by all (no copy), else a copy flushed to disk and made 0644;
/// always through a temporary name renamed over `dest`, so a reader never sees half a file.
/// Nothing to do when `dest` already is `src`.
pub fn place(src: &Path, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if let (Ok(a), Ok(b)) = (std::fs::metadata(src), std::fs::metadata(dest)) {
        if a.dev() == b.dev() && a.ino() == b.ino() {
            return Ok(());
        }
    }
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    // The temporary name is unpredictable and created exclusively (a link or copy never goes
    // through something another user put there in a shared folder). A hard link shares the
    // source's permissions: only link what everyone may read already, copy the rest (never
    // chmod the caller's file).
    let readable = std::fs::metadata(src)?.mode() & 0o044 == 0o044;
    let linked =
        if readable { tempfile::Builder::new().prefix(".tmp-").make_in(parent, |p| std::fs::hard_link(src, p)).ok() } else { None };
    let tmp = match linked {
        Some(t) => t.into_temp_path(),
        None => {
            let mut t = tempfile::Builder::new().prefix(".tmp-").tempfile_in(parent)?;
            std::io::copy(&mut std::fs::File::open(src)?, t.as_file_mut())?;
            t.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
            t.as_file().sync_all()?;
            t.into_temp_path()
        }
    };
    tmp.persist(dest).map_err(|e| e.error)
}

/// Writes files atomically as one batch: every file goes to a temporary file beside its final
/// path, the file systems are flushed once (syncfs), then each temporary file is renamed over its
/// final path. A reader never sees half a file, a crash or kill leaves no partial file at a
/// final path, and a batch of a thousand seeds costs one flush instead of a thousand fsyncs.
pub fn write_batch(files: &[(PathBuf, Vec<u8>)]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new().prefix(".liveboot-").tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        // Temporary files are private (0600); published files are for web servers and BMCs.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
        staged.push((tmp, path));
    }
    let mut flushed: Vec<u64> = Vec::new();
    for (tmp, _) in &staged {
        use std::os::unix::fs::MetadataExt;
        let dev = tmp.as_file().metadata()?.dev();
        if !flushed.contains(&dev) {
            // SAFETY: syncfs only reads the descriptor, which the open temporary file owns.
            if unsafe { libc::syncfs(tmp.as_file().as_raw_fd()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            flushed.push(dev);
        }
    }
    for (tmp, path) in staged {
        tmp.persist(path).map_err(|e| e.error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_content_addressed_url_safe_and_never_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("debian 12?=.iso");
        std::fs::write(&src, b"one").unwrap();
        let out = d.path().join("pub");
        let a = publish(&src, &out).unwrap();
        assert!(a.placed && a.name.starts_with("debian-12---") && a.name.ends_with(".iso"), "{a:?}");
        assert!(!a.name.contains(['?', '=', ' ']));
        // New content, new name; the old name keeps its bytes.
        std::fs::remove_file(&src).unwrap();
        std::fs::write(&src, b"two").unwrap();
        let b = publish(&src, &out).unwrap();
        assert_ne!(a.name, b.name);
        assert_eq!(std::fs::read(out.join(&a.name)).unwrap(), b"one");
        // Publishing the same bytes again is a no-op.
        assert!(!publish(&src, &out).unwrap().placed);
        // A private source is copied, and the copy is readable; the source keeps its mode.
        use std::os::unix::fs::PermissionsExt;
        let private = d.path().join("private.iso");
        std::fs::write(&private, b"three").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = publish(&private, &out).unwrap();
        assert_eq!(std::fs::metadata(out.join(&c.name)).unwrap().permissions().mode() & 0o777, 0o444, "world-readable, read-only");
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[cfg(test)]
mod stale {
    use super::*;

    #[test]
    fn a_killed_publishs_temporary_file_goes_and_a_running_ones_stays() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("pub");
        std::fs::create_dir_all(&out).unwrap();
        let (old, new) = (out.join(".liveboot-publish-dead1"), out.join(".liveboot-publish-busy2"));
        for f in [&old, &new] {
            std::fs::write(f, b"half an iso").unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(two_hours_ago).unwrap();
        let other = out.join(".htpasswd");
        std::fs::write(&other, b"x").unwrap();
        std::fs::File::options().write(true).open(&other).unwrap().set_modified(two_hours_ago).unwrap();
        let src = d.path().join("a.iso");
        std::fs::write(&src, b"iso").unwrap();
        publish(&src, &out).unwrap();
        assert!(!old.exists(), "the stale temporary file is still there");
        assert!(new.exists() && other.exists(), "a running publish's file or another file was removed");
    }
}

#[cfg(test)]
mod immutable {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn editing_the_source_never_changes_a_published_url() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("live.iso");
        std::fs::write(&src, b"version one").unwrap();
        // World-readable, on the same file system: the case that was hard-linked before.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = d.path().join("pub");
        let p = publish(&src, &out).unwrap();
        let url_file = out.join(&p.name);
        // Edited in place (same inode), then replaced by cp over it (same inode again).
        std::fs::OpenOptions::new().write(true).open(&src).unwrap().write_all_at(b"VERSION", 0).unwrap();
        let other = d.path().join("other.iso");
        std::fs::write(&other, b"version two, longer").unwrap();
        assert!(std::process::Command::new("cp").arg(&other).arg(&src).status().unwrap().success());
        assert_eq!(std::fs::read(&url_file).unwrap(), b"version one");
        assert_eq!(sha256_file(&url_file).unwrap(), p.sha256);
        assert_eq!(std::fs::metadata(&url_file).unwrap().permissions().mode() & 0o777, 0o444, "published files are read-only");
        // The edited source gets a name of its own.
        let q = publish(&src, &out).unwrap();
        assert_ne!(q.name, p.name);
        assert_eq!(std::fs::read(out.join(&q.name)).unwrap(), b"version two, longer");
    }

    #[test]
    fn what_already_sits_at_the_name_must_hold_the_bytes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("seed.iso");
        std::fs::write(&src, b"seed bytes").unwrap();
        let out = d.path().join("pub");
        std::fs::create_dir_all(&out).unwrap();
        let name = published_name(&src, &sha256_file(&src).unwrap());
        // A link to another file at the name: refused, not "already published".
        std::fs::write(d.path().join("secret"), b"not the seed").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), out.join(&name)).unwrap();
        let e = publish(&src, &out).unwrap_err();
        assert!(e.to_string().contains("does not hold these bytes"), "{e}");
        // Other bytes at the name: refused too.
        std::fs::remove_file(out.join(&name)).unwrap();
        std::fs::write(out.join(&name), b"tampered").unwrap();
        assert!(publish(&src, &out).is_err());
        // The right bytes: already published.
        std::fs::remove_file(out.join(&name)).unwrap();
        assert!(publish(&src, &out).unwrap().placed);
        assert!(!publish(&src, &out).unwrap().placed);
        // No temporary file is left behind.
        let left: Vec<_> =
            std::fs::read_dir(&out).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
