//! What liveboot's commands do, for any front end.
//!
//! The command line (`crates/cli`) parses arguments and prints; everything it runs is here:
//! preparing and running builds ([`build`]), booting an image in QEMU ([`tryboot`]), checking
//! recipes and inventories ([`check`]), writing seeds ([`seeds`]), and the node commands over an
//! inventory with a worker pool ([`nodes`]). Results are typed (serializable for `--json`);
//! progress goes to a [`Progress`] callback, so a web UI, a daemon or a test can drive the same
//! operations and show them its own way.

pub mod build;
pub mod check;
pub mod nodes;
pub mod probe;
pub mod pxe;
pub mod remaster;
pub mod seeds;
pub mod tryboot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use liveboot_recipe::Registry;

/// Something worth telling the user while an operation runs.
#[derive(Debug, Clone)]
pub enum Event {
    /// A build stage started, was reused or finished.
    Stage(liveboot_image::Event),
    /// A line a build program printed (for a live status line).
    Output(String),
    /// A sentence about what is happening ("booting ...", "w1: waiting for SSH ...").
    Note(String),
    /// A warning the user should see even when output is scripted.
    Warning(String),
    /// A node command finished on one node.
    NodeFinished(nodes::NodeOutcome),
}

/// Where progress goes. Called from worker threads too.
pub type Progress = Arc<dyn Fn(Event) + Send + Sync>;

/// A project folder: `recipes/`, `templates/`, the cache and the output folder.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder (`""` for the current one, so that messages show short relative paths).
    pub root: PathBuf,
    /// The families and outputs its recipes may use.
    pub registry: Registry,
}

impl Project {
    /// The project at `root` with liveboot's own families and outputs.
    pub fn new(root: &Path) -> Project {
        Project { root: root.to_path_buf(), registry: Registry::builtin() }
    }

    /// The folder as an absolute path (plans name project files relative to it).
    pub fn dir(&self) -> PathBuf {
        let root = if self.root.as_os_str().is_empty() { Path::new(".") } else { &self.root };
        root.canonicalize().or_else(|_| std::path::absolute(root)).unwrap_or_else(|_| root.to_path_buf())
    }

    /// `recipes/`.
    pub fn recipes(&self) -> PathBuf {
        self.root.join("recipes")
    }

    /// `templates/`.
    pub fn templates(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// The default stage cache, `.cache/liveboot`.
    pub fn cache(&self) -> PathBuf {
        self.root.join(".cache/liveboot")
    }

    /// The default output folder, `out`.
    pub fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// The ISO a recipe's build leaves in `out` (or the default output folder).
    pub fn built_iso(&self, recipe: &str, out: Option<&Path>) -> PathBuf {
        out.map(Path::to_path_buf).unwrap_or_else(|| self.out()).join(recipe).join(format!("{recipe}.iso"))
    }

    /// Loads a recipe by name or path.
    pub fn recipe(&self, name: &str) -> Result<liveboot_recipe::Recipe, String> {
        liveboot_recipe::load_by_name_with(&self.recipes(), name, &self.registry).map_err(|d| d.to_string())
    }
}

/// Rounds seconds to tenths, for reports.
pub(crate) fn tenths(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}
