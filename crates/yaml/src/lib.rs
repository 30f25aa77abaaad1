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
pub use node::{merge, parse_str, Node, NodeKind, PathSeg, Span};

/// Reads and parses one YAML file.
pub fn load_file(path: &std::path::Path) -> Result<Node, Diagnostic> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::file(path, format!("cannot read file: {e}")).with_help("check the path and the file's permissions"))?;
    parse_str(&text, path)
}
