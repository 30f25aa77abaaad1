//! The inventory: which nodes exist, how to reach their BMCs, which slice (group of users
//! sharing SSH keys) each node belongs to, and where images are published.
//!
//! Passwords are never written in the inventory: a BMC names an environment variable or a file
//! that holds its password, and only the boot driver reads it, at the moment it needs it.

mod model;
mod sshkey;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use liveboot_yaml::{from_node, load_file, merge, Diagnostic, Diagnostics, Node, NodeKind, PathSeg};

pub use model::*;
pub use sshkey::{parse_public_key, SshKey};
pub use validate::{is_mac, parse_fingerprint};

/// A loaded, valid inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The file it was read from.
    pub file: PathBuf,
    /// Where images and seeds are published.
    pub publish: Publish,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeSpec>,
    /// Slices by name, with their keys parsed.
    pub slices: BTreeMap<String, Slice>,
}

/// A slice with its keys read and checked.
#[derive(Debug, Clone)]
pub struct Slice {
    /// Name.
    pub name: String,
    /// Every key of the slice (inline ones first, then those from key files).
    pub keys: Vec<SshKey>,
    /// Member nodes.
    pub nodes: Vec<String>,
    /// Extra packages for the slice's nodes.
    pub packages: Vec<String>,
}

impl Inventory {
    /// The slice a node belongs to, if any.
    pub fn slice_of(&self, node: &str) -> Option<&Slice> {
        self.slices.values().find(|s| s.nodes.iter().any(|n| n == node))
    }

    /// The node's host name.
    pub fn hostname<'a>(&'a self, node: &'a str) -> &'a str {
        self.nodes[node].hostname.as_deref().unwrap_or(node)
    }

    /// Where the node's SSH answers: its `ssh:` setting, else its first static address, else its
    /// FQDN; port 22 unless one is given.
    pub fn ssh_address(&self, node: &str) -> String {
        let spec = &self.nodes[node];
        let host = match &spec.ssh {
            Some(s) => return if has_port(s) { s.clone() } else { format!("{s}:22") },
            None => spec
                .network
                .iter()
                .flat_map(|i| i.addresses.iter())
                .next()
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .unwrap_or_else(|| self.fqdn(node)),
        };
        if host.contains(':') {
            format!("[{host}]:22")
        } else {
            format!("{host}:22")
        }
    }

    /// Reads a node's BMC password from where the inventory says it is kept. The error names
    /// the variable or file, never a value.
    pub fn bmc_password(&self, node: &str) -> Result<String, String> {
        let bmc = &self.nodes[node].bmc;
        if let Some(var) = &bmc.password_env {
            return std::env::var(var).map_err(|_| {
                format!("{}: node '{node}': environment variable {var} (its BMC password) is not set; export it", self.file.display())
            });
        }
        if let Some(f) = &bmc.password_file {
            let path = self.file.parent().unwrap_or(Path::new(".")).join(f);
            let text = liveboot_yaml::read_bounded(&path, 64 << 10).map_err(|e| {
                format!("{}: node '{node}': cannot read BMC password file {}: {}", self.file.display(), path.display(), e.message)
            })?;
            let first = text.lines().next().unwrap_or("").to_string();
            if first.is_empty() {
                return Err(format!(
                    "{}: the first line of {} is empty; write the BMC password there",
                    self.file.display(),
                    path.display()
                ));
            }
            return Ok(first);
        }
        Err(format!("{}: node '{node}' names no BMC password source", self.file.display()))
    }

    /// The folder a relative path in the inventory is relative to.
    pub fn base_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    /// The node's fully qualified name: its own `fqdn`, else hostname + domain, else hostname.
    pub fn fqdn(&self, node: &str) -> String {
        let spec = &self.nodes[node];
        match (&spec.fqdn, &spec.domain) {
            (Some(f), _) => f.clone(),
            (None, Some(d)) => format!("{}.{d}", self.hostname(node)),
            (None, None) => self.hostname(node).to_string(),
        }
    }
}

fn has_port(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.contains("]:");
    }
    s.matches(':').count() == 1
}

/// Reads and checks an inventory file.
pub fn load(path: &Path) -> Result<Inventory, Diagnostics> {
    let mut tree = load_file(path)?;
    apply_node_defaults(&mut tree);
    let raw: InventoryFile = from_node(&tree)?;
    validate::validate(path, &tree, raw)
}

/// Merges `defaults:` beneath every node so that each value keeps the place it was written.
fn apply_node_defaults(tree: &mut Node) {
    let Some(defaults) = tree.get("defaults").cloned() else {
        return;
    };
    if let Some(Node { kind: NodeKind::Map(nodes), .. }) = tree.get_mut("nodes") {
        {
            for (_, node) in nodes.iter_mut() {
                if matches!(node.kind, NodeKind::Map(_)) {
                    let mut base = defaults.clone();
                    // A credential reference is one setting: a node naming its own password
                    // source replaces the default's, whichever kind either of them uses.
                    if ["password_env", "password_file"].iter().any(|k| node.get("bmc").and_then(|b| b.get(k)).is_some()) {
                        if let Some(bmc) = base.get_mut("bmc") {
                            bmc.remove("password_env");
                            bmc.remove("password_file");
                        }
                    }
                    let own = std::mem::replace(node, Node { kind: NodeKind::Seq(Vec::new()), span: base.span.clone() });
                    *node = merge(base, own);
                }
            }
        }
    }
}

pub(crate) fn at(tree: &Node, path: &[PathSeg], message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    Diagnostic::at(&tree.locate(path).span, message).with_help(help)
}
