//! The one list of families and output kinds a recipe may name.

use std::sync::Arc;

use crate::family::{self, Family, LiveScheme};
use crate::output::{self, OutputKind};

/// The families and output kinds recipes may name. [`Registry::builtin`] holds liveboot's
/// own; more may be added (plugins, tests) without touching the crate.
#[derive(Clone, Debug)]
pub struct Registry {
    families: Vec<Arc<dyn Family>>,
    outputs: Vec<Arc<dyn OutputKind>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// liveboot's families and outputs.
    pub fn builtin() -> Registry {
        Registry { families: family::builtin(), outputs: output::builtin() }
    }

    /// Adds (or replaces, by name) a family.
    pub fn with_family(mut self, f: Arc<dyn Family>) -> Registry {
        self.families.retain(|x| x.name() != f.name());
        self.families.push(f);
        self
    }

    /// Adds (or replaces, by name) an output kind.
    pub fn with_output(mut self, o: Arc<dyn OutputKind>) -> Registry {
        self.outputs.retain(|x| x.name() != o.name());
        self.outputs.push(o);
        self
    }

    /// The family of this name.
    pub fn family(&self, name: &str) -> Option<&Arc<dyn Family>> {
        self.families.iter().find(|f| f.name() == name)
    }

    /// The output kind of this name.
    pub fn output(&self, name: &str) -> Option<&Arc<dyn OutputKind>> {
        self.outputs.iter().find(|o| o.name() == name)
    }

    /// The families' names.
    pub fn family_names(&self) -> Vec<&'static str> {
        self.families.iter().map(|f| f.name()).collect()
    }

    /// The output kinds' names.
    pub fn output_names(&self) -> Vec<&'static str> {
        self.outputs.iter().map(|o| o.name()).collect()
    }

    /// Every host package some family or output uses, sorted: the versions to ask the host's
    /// package manager for before planning.
    pub fn host_packages(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .families
            .iter()
            .flat_map(|f| f.facts().host_packages.iter().copied())
            .chain(self.outputs.iter().flat_map(|o| o.host_packages().iter().copied()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Every live-root scheme some family's media use (where to look for a kernel in any ISO).
    pub fn schemes(&self) -> Vec<&'static LiveScheme> {
        let mut v: Vec<&'static LiveScheme> = Vec::new();
        for s in self.families.iter().flat_map(|f| f.facts().schemes.iter().copied()) {
            if !v.iter().any(|x| x.name == s.name) {
                v.push(s);
            }
        }
        v
    }
}
