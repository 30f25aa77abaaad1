//! What a kickstart says, after parsing: its commands, its one `%packages`, its scripts and the
//! sections liveboot keeps without reading.

use serde::Serialize;

use crate::read::Origin;

/// A parsed kickstart.
#[derive(Debug, Clone, Serialize)]
pub struct Kickstart {
    /// The pykickstart version it was read as (`F37`, `RHEL9`).
    pub version: &'static str,
    /// The `#platform=` comment, the one comment pykickstart keeps.
    pub platform: Option<String>,
    /// Command lines in the order written. A command used once may still be written several
    /// times: pykickstart reads each line onto the one command (how a later line combines with
    /// an earlier one differs from command to command), so every line is kept.
    pub commands: Vec<Command>,
    /// `%packages`, all sections merged as pykickstart merges them.
    pub packages: Packages,
    /// `%pre`, `%pre-install`, `%post`, `%onerror`, `%traceback`, in order.
    pub scripts: Vec<Script>,
    /// Sections kept as written (`%addon`, `%anaconda`, `%certificate`, unknown ones).
    pub sections: Vec<Section>,
}

/// One command line.
#[derive(Debug, Clone, Serialize)]
pub struct Command {
    /// The command's name as written (`part`, `partition`).
    pub name: String,
    /// Its words after the name, unquoted.
    pub args: Vec<String>,
    /// The line as written, without its newline and surrounding space.
    pub text: String,
    /// Where.
    #[serde(skip)]
    pub at: Origin,
}

impl Command {
    /// The value of option `dest` (as pykickstart names the attribute), by any of its spellings:
    /// `Some(None)` for a flag, `Some(Some(v))` for a value. The last occurrence counts.
    pub fn option(&self, version: &str, dest: &str) -> Option<Option<String>> {
        let def = crate::syntax::command(version, &self.name)?;
        let mut found = None;
        let mut words = self.args.iter();
        while let Some(w) = words.next() {
            if !w.starts_with('-') || w == "-" {
                continue;
            }
            let (name, inline) = match w.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (w.as_str(), None),
            };
            let Ok(Some(opt)) = def.option(name) else { continue };
            let value = match (opt.takes, inline) {
                (crate::syntax::Takes::Nothing, _) => None,
                (_, Some(v)) => Some(v),
                (crate::syntax::Takes::Value, None) => words.next().cloned(),
                (crate::syntax::Takes::Optional, None) => None,
            };
            if opt.dest == dest {
                found = Some(value);
            }
        }
        found
    }

    /// The positional arguments (words that are neither options nor their values).
    pub fn positional(&self, version: &str) -> Vec<String> {
        let Some(def) = crate::syntax::command(version, &self.name) else { return self.args.clone() };
        let mut out = Vec::new();
        let mut words = self.args.iter();
        while let Some(w) = words.next() {
            if w.starts_with("--") {
                if let Ok(Some(opt)) = def.option(w.split('=').next().unwrap_or(w)) {
                    if opt.takes == crate::syntax::Takes::Value && !w.contains('=') {
                        words.next();
                    }
                }
                continue;
            }
            out.push(w.clone());
        }
        out
    }
}

/// How much of a group is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupInclude {
    /// Mandatory and default packages (`@group`).
    Default,
    /// Mandatory packages only (`@group --nodefaults`).
    Required,
    /// Mandatory, default and optional packages (`@group --optional`).
    All,
}

/// A comps group in `%packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Its id or name.
    pub name: String,
    /// How much of it.
    pub include: GroupInclude,
}

/// The merged `%packages` sections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Packages {
    /// Whether any `%packages` section was written.
    pub seen: bool,
    /// `@^environment`.
    pub environment: Option<String>,
    /// `@group` lines, in order, each once.
    pub groups: Vec<Group>,
    /// Package names and globs, sorted.
    pub packages: Vec<String>,
    /// `-package` exclusions, sorted.
    pub excluded: Vec<String>,
    /// `-@group` exclusions, in order.
    pub excluded_groups: Vec<String>,
    /// `--default`.
    pub default: bool,
    /// `--nocore`.
    pub nocore: bool,
    /// `--excludedocs`.
    pub excludedocs: bool,
    /// `--inst-langs` / `--instLangs`.
    pub inst_langs: Option<String>,
    /// `--multilib`.
    pub multilib: bool,
    /// `--exclude-weakdeps` / `--excludeWeakdeps`.
    pub exclude_weakdeps: bool,
    /// `--ignoremissing`.
    pub ignore_missing: bool,
    /// `--ignorebroken`.
    pub ignore_broken: bool,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--retries`.
    pub retries: Option<String>,
}

/// When a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScriptKind {
    /// `%pre`: before anything, on the installer.
    #[serde(rename = "%pre")]
    Pre,
    /// `%pre-install`: after partitioning, before packages.
    #[serde(rename = "%pre-install")]
    PreInstall,
    /// `%post`: after packages, in the root (or outside it with `--nochroot`).
    #[serde(rename = "%post")]
    Post,
    /// `%onerror`: when the installation fails.
    #[serde(rename = "%onerror")]
    OnError,
    /// `%traceback` (deprecated for `%onerror`).
    #[serde(rename = "%traceback")]
    Traceback,
}

impl ScriptKind {
    /// The section's name.
    pub fn section(self) -> &'static str {
        match self {
            ScriptKind::Pre => "%pre",
            ScriptKind::PreInstall => "%pre-install",
            ScriptKind::Post => "%post",
            ScriptKind::OnError => "%onerror",
            ScriptKind::Traceback => "%traceback",
        }
    }

    /// The kind a section name opens.
    pub fn from_section(name: &str) -> Option<ScriptKind> {
        Some(match name {
            "%pre" => ScriptKind::Pre,
            "%pre-install" => ScriptKind::PreInstall,
            "%post" => ScriptKind::Post,
            "%onerror" => ScriptKind::OnError,
            "%traceback" => ScriptKind::Traceback,
            _ => return None,
        })
    }
}

/// A script section.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    /// When it runs.
    pub kind: ScriptKind,
    /// `--interpreter` (default `/bin/sh`).
    pub interpreter: String,
    /// Runs inside the root (`%post` without `--nochroot`).
    pub chroot: bool,
    /// `--erroronfail`: a failure stops the build.
    pub error_on_fail: bool,
    /// `--log`/`--logfile`.
    pub log: Option<String>,
    /// The body, byte for byte.
    pub body: String,
    /// Where its header is.
    #[serde(skip)]
    pub at: Origin,
}

/// A section kept as written.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// Its header line.
    pub header: String,
    /// Its body, byte for byte.
    pub body: String,
    /// Where its header is.
    #[serde(skip)]
    pub at: Origin,
}
