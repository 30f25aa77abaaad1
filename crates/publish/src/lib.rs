//! Publishing: BMCs mount images over HTTP and read them with Range requests for as long as a
//! node runs from them, so a published file must never change behind its URL. [`publish`] gives
//! each file a short, URL-safe, content-addressed name (no `?`, no `=`: some BMCs reject them),
//! writes it atomically and never rewrites it; [`serve`] is a small HTTP/1.1 file server with
//! Range, HEAD, ETag and Last-Modified for the files of one folder.

mod http;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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

/// SHA-256 of a file, as hex, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
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

/// Publishes `src` into `dir`: a hard link or a copy under a temporary name, renamed to its
/// content-addressed name. A name that exists already holds the same bytes and is left alone.
pub fn publish(src: &Path, dir: &Path) -> std::io::Result<Published> {
    let sha256 = sha256_file(src)?;
    let bytes = std::fs::metadata(src)?.len();
    let name = published_name(src, &sha256);
    let dest = dir.join(&name);
    std::fs::create_dir_all(dir)?;
    if dest.exists() {
        return Ok(Published { name, sha256, bytes, placed: false });
    }
    let tmp: PathBuf = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(src, &tmp).is_err() {
        std::fs::copy(src, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(&tmp, &dest)?;
    Ok(Published { name, sha256, bytes, placed: true })
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
    }
}
