//! Strict YAML for liveboot's configuration files.
//!
//! Files are parsed into a [`Node`] tree whose every node remembers the file, line and column it
//! came from. The tree is then deserialized into typed models through serde with a deserializer
//! that is strict (no implicit coercions beyond YAML 1.2's core schema, unknown keys rejected when
//! the model says `deny_unknown_fields`) and that attaches the location of the offending node to
//! every error. The result is a [`Diagnostic`]: `file:line:column: what is wrong` plus a `help:`
//! line saying how to fix it.
//!
//! Why our own tree instead of a ready serde YAML crate: recipes `extends:` other recipes, and a
//! merged value must keep pointing at the file it was written in, both for error messages and to
//! resolve relative paths against the right directory.

mod de;
mod diag;
pub mod fixture;
mod node;

pub use de::{closest, from_node};
pub use diag::{Diagnostic, Diagnostics};
pub use node::{merge, parse_str, Node, NodeKind, PathSeg, Span, MAX_VALUES};

use std::path::Path;

/// Reads and parses one YAML file.
pub fn load_file(path: &Path) -> Result<Node, Diagnostic> {
    let text = read_bounded(path, MAX_FILE_BYTES)?;
    parse_str(&text, path)
}

/// The largest configuration file liveboot reads (an inventory of thousands of nodes is a few
/// MiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The environment variable that lets recipes and inventories name files outside their project
/// (a recipe or inventory from elsewhere could otherwise put `/etc/shadow` into a published
/// image or seed).
pub const ALLOW_OUTSIDE: &str = "LIVEBOOT_ALLOW_OUTSIDE_PROJECT";

/// When `path` (which exists) lies outside `root` after following symbolic links, the problem
/// and its fix; none when it lies inside, or when the user allowed it ([`ALLOW_OUTSIDE`]` =1`,
/// which the command line announces on every run).
pub fn outside(path: &Path, root: &Path, what: &str) -> Option<(String, String)> {
    let real = path.canonicalize().ok()?;
    if real.starts_with(root.canonicalize().unwrap_or_else(|_| root.to_path_buf()))
        || std::env::var_os(ALLOW_OUTSIDE).is_some_and(|v| v == "1")
    {
        return None;
    }
    Some((
        format!("{what} {} lies outside {}, where the files it names must lie (links followed)", real.display(), root.display()),
        format!("copy it into {}; or, if you mean it, run with {ALLOW_OUTSIDE}=1", root.display()),
    ))
}

/// Reads a regular text file of at most `max` bytes. A FIFO, a device or a folder is refused
/// before it is opened (reading `/dev/zero` or a FIFO would never end), a larger file is refused
/// without reading more than `max + 1` bytes.
pub fn read_bounded(path: &Path, max: u64) -> Result<String, Diagnostic> {
    use std::io::Read;
    let fail = |m: String| Diagnostic::file(path, m);
    let meta = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot read file: {e}")).with_help("check the path and the file's permissions"))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()).with_help("name a regular file (not a folder, a device or a FIFO)"));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_string(&mut text))
        .map_err(|e| fail(format!("cannot read file: {e}")).with_help("check the file's permissions; it must be UTF-8 text"))?;
    if text.len() as u64 > max {
        return Err(
            fail(format!("the file is larger than {} MiB", max >> 20)).with_help("this is not a liveboot configuration file, or split it")
        );
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let d = std::env::temp_dir().join(format!("lb-bounded-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let e = load_file(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let fifo = d.join("fifo.yaml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = load_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let big = d.join("big.yaml");
        std::fs::write(&big, vec![b'#'; 20 << 20]).unwrap();
        let e = load_file(&big).unwrap_err().to_string();
        assert!(e.contains("larger than 16 MiB"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    extern "C" {
        #[link_name = "mkfifo"]
        fn libc_mkfifo(path: *const std::os::raw::c_char, mode: u32) -> i32;
    }
}
