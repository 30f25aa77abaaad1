//! The kickstart language as pykickstart reads it, for liveboot's Fedora and Rocky builds and
//! for `liveboot kickstart check|flatten`.
//!
//! [`read`] follows `%include` (relative to the including file) and `%ksappend` (anaconda's
//! preprocessing), splits lines as Python's `shlex` does, checks every command and option
//! against pykickstart's own tables for the version ([`syntax`]), merges `%packages` and keeps
//! scripts byte for byte. Every problem names `file:line` and the `%include` lines that led
//! there; reading goes on after a problem, so one run reports them all.

mod flatten;
pub mod lex;
mod model;
mod parse;
mod read;
pub mod syntax;

use std::path::Path;

pub use liveboot_yaml::Diagnostic;
pub use model::{Command, Group, GroupInclude, Kickstart, Packages, Script, ScriptKind, Section};
pub use parse::Parsed;
pub use read::Origin;

/// How to read a kickstart.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The pykickstart version to read it as (one of [`syntax::VERSIONS`]).
    pub version: &'static str,
    /// The folder every included file must lie in (links followed); none: anywhere.
    pub confine: Option<&'a Path>,
}

/// Reads the kickstart `path`; `Err` only when the file itself cannot be read.
pub fn read(path: &Path, options: Options<'_>) -> Result<Parsed, Diagnostic> {
    let reader = read::Reader::open(path, options.confine)?;
    Ok(parse::parse(reader, options.version))
}
