//! The build plan: plain data saying which stages a recipe needs, what each stage reads, what it
//! does, and which cache key it has. The image builder executes exactly these actions; this
//! module only describes them, reading nothing but the recipe's own files (to hash them).
//!
//! Paths in actions are written with placeholders, never passed through a shell:
//! `{self}` is the stage's own output folder, `{NAME}` the output folder of stage NAME (which
//! must be listed in `after`), `{cache}` the builder's shared cache folder (package downloads).
//!
//! One distribution family = one backend module ([`debian`], [`fedora`], [`ubuntu`], [`suse`]);
//! each adds the stages that make a root image, kernel and initrd; the boot menus, EFI image,
//! ISO and PXE bundle are common ([`common`]).

mod common;
mod debian;
mod fedora;
mod suse;
mod ubuntu;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use liveboot_yaml::Diagnostic;

use crate::{Recipe, Source};

/// The host packages whose programs or files some stage uses; their versions are stage inputs.
pub const TOOL_PACKAGES: &[&str] = &[
    "mmdebstrap",
    "squashfs-tools",
    "xorriso",
    "isolinux",
    "syslinux-common",
    "grub-common",
    "grub-efi-amd64-bin",
    "dosfstools",
    "mtools",
];

/// Settings that come from outside the recipe.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Folder holding the templates (`templates/` of the project).
    pub templates: PathBuf,
    /// SOURCE_DATE_EPOCH to pin; `None` takes the distribution release's day, a fact of the
    /// recipe (stable across edits and commits, so it does not invalidate the cache; never the
    /// clock).
    pub source_date_epoch: Option<u64>,
    /// Versions of the host packages whose programs and files the stages use (`xorriso` ->
    /// `1.5.4-4`); a stage's key covers the versions of its tools. Missing ones read "unknown".
    pub tools: BTreeMap<String, String>,
}

/// A whole build.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Recipe name.
    pub recipe: String,
    /// Recipe title.
    pub title: String,
    /// Recipe file.
    pub file: String,
    /// Fragments it extends.
    pub extends: Vec<String>,
    /// `family release`.
    pub distro: String,
    /// Source kind.
    pub source: String,
    /// Hash of the resolved recipe and every file it names.
    pub recipe_hash: String,
    /// SOURCE_DATE_EPOCH of the build.
    pub source_date_epoch: u64,
    /// Stages, in an order that respects `after`.
    pub stages: Vec<Stage>,
    /// Files the build leaves in the output folder, and the stage folder each comes from.
    pub artifacts: Vec<Artifact>,
    /// Versions of the host packages the stages use.
    pub tools: BTreeMap<String, String>,
}

/// One file or folder of the build's output.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// Name in the output folder.
    pub name: String,
    /// Where it is made: `{stage}/path`.
    pub from: String,
}

/// One cached step of a build.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Stage name, unique in the plan.
    pub name: String,
    /// What it does, in a few words.
    pub summary: String,
    /// Stages whose outputs it reads.
    pub after: Vec<String>,
    /// Everything its result depends on, hashed.
    pub inputs: Vec<Input>,
    /// What it does, in order.
    pub actions: Vec<Action>,
    /// Cache key: hash of the name, the actions, the inputs and the keys of the stages it
    /// comes after.
    pub key: String,
}

/// One input of a stage.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Input {
    /// What it is: `recipe:<part>`, `file:<path>`, `template:<name>`, `epoch`.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// One thing a stage does. Paths use the placeholders described in the module docs.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run a program through the runner (never a shell), with extra environment.
    Run { argv: Vec<String>, env: BTreeMap<String, String> },
    /// Render a template with these variables.
    Render { template: String, dest: String, vars: serde_json::Value },
    /// Hard-link a file of an earlier stage into this one (no copy for big images; neither side
    /// is ever modified in place).
    Link { src: String, dest: String },
    /// Copy a file, replacing the destination (never writing through a hard link).
    Copy { src: String, dest: String, mode: Option<String> },
    /// Write a file, replacing the destination (never writing through a hard link).
    Write { dest: String, content: String, mode: Option<String> },
    /// Create a folder (and its parents) if missing.
    MakeDir { path: String },
    /// Remove files or folders; the last path component may hold `*` wildcards.
    Remove { paths: Vec<String> },
    /// Make `dest` a tree of hard links to `src` (cheap copy of a cached tree; files are only
    /// ever replaced in it, never modified in place).
    LinkTree { src: String, dest: String },
    /// Copy the kernel and initrd that the root filesystem's /vmlinuz and /initrd.img point to.
    BootFiles { rootfs: String, dest: String },
    /// List the installed packages of a Debian root filesystem into a file.
    Packages { rootfs: String, dest: String },
    /// Set the modification time of everything under a folder to SOURCE_DATE_EPOCH.
    PinTimes { dir: String },
    /// Download and verify.
    Fetch { url: String, checksum: String, dest: String },
    /// Find/replace in a text file.
    Edit { file: String, find: String, replace: String, min_matches: u32 },
}

impl Action {
    /// Runs a program with no extra environment.
    pub fn run<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Action::Run { argv: argv.into_iter().map(Into::into).collect(), env: BTreeMap::new() }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Action::Run { argv, env } => {
                let env: String = env.iter().map(|(k, v)| format!("{k}={} ", shell_quote(v))).collect();
                format!("run    {env}{}", argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "))
            }
            Action::Render { template, dest, .. } => format!("render {template} -> {dest}"),
            Action::Copy { src, dest, mode } => match mode {
                Some(m) => format!("copy   {src} -> {dest} (mode {m})"),
                None => format!("copy   {src} -> {dest}"),
            },
            Action::Write { dest, content, .. } => {
                let first = content.lines().next().unwrap_or_default();
                let more = if content.lines().count() > 1 { " ..." } else { "" };
                format!("write  {dest}: {first:?}{more}")
            }
            Action::MakeDir { path } => format!("mkdir  {path}"),
            Action::Remove { paths } => format!("remove {}", paths.join(" ")),
            Action::LinkTree { src, dest } => format!("link   {src} -> {dest} (hard links)"),
            Action::Link { src, dest } => format!("link   {src} -> {dest}"),
            Action::BootFiles { rootfs, dest } => {
                format!("boot   {rootfs}/{{vmlinuz,initrd.img}} -> {dest}/")
            }
            Action::Packages { rootfs, dest } => format!("list   packages of {rootfs} -> {dest}"),
            Action::PinTimes { dir } => format!("pin    times under {dir} to SOURCE_DATE_EPOCH"),
            Action::Fetch { url, checksum, dest } => format!("fetch  {url} -> {dest} (verify {checksum})"),
            Action::Edit { file, find, replace, min_matches } => {
                format!("edit   {file}: {find:?} -> {replace:?} (at least {min_matches}x)")
            }
        }
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,{}@+%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// SHA-256 as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_hash<T: Serialize>(v: &T) -> String {
    sha256_hex(&serde_json::to_vec(v).expect("plain data serializes"))
}

/// Collects stages; computes keys as they are added.
pub(crate) struct Builder<'a> {
    pub(crate) recipe: &'a Recipe,
    opts: &'a PlanOptions,
    epoch: u64,
    stages: Vec<Stage>,
}

impl Builder<'_> {
    /// An input made of part of the recipe.
    pub(crate) fn part<T: Serialize>(&self, name: &str, v: &T) -> Input {
        Input { name: format!("recipe:{name}"), sha256: json_hash(v) }
    }

    /// SOURCE_DATE_EPOCH as an input, for stages whose output embeds times.
    pub(crate) fn epoch(&self) -> Option<Input> {
        Some(Input { name: "epoch".into(), sha256: sha256_hex(self.epoch.to_string().as_bytes()) })
    }

    /// The environment a time-embedding program gets.
    pub(crate) fn epoch_env(&self) -> BTreeMap<String, String> {
        [("SOURCE_DATE_EPOCH".to_string(), self.epoch.to_string())].into_iter().collect()
    }

    /// The version of a host package, as an input.
    pub(crate) fn tool(&self, package: &str) -> Input {
        let v = self.opts.tools.get(package).map(String::as_str).unwrap_or("unknown");
        Input { name: format!("tool:{package}"), sha256: sha256_hex(v.as_bytes()) }
    }

    /// A file or folder the recipe names at `at`, as an absolute path: stage keys then do not
    /// depend on the folder liveboot was started from.
    pub(crate) fn source_path(&self, at: &[liveboot_yaml::PathSeg], written: &str) -> PathBuf {
        let p = self.recipe.resolve(at, written);
        p.canonicalize().unwrap_or(p)
    }

    /// An input made of a file's bytes.
    pub(crate) fn file(&self, path: &Path) -> Result<Input, Diagnostic> {
        let bytes = std::fs::read(path).map_err(|e| {
            Diagnostic::nowhere(format!("cannot read {}: {e}", path.display())).with_help("check that the file exists and is readable")
        })?;
        Ok(Input { name: format!("file:{}", path.display()), sha256: sha256_hex(&bytes) })
    }

    /// An input made of every file under a folder (names and bytes).
    pub(crate) fn dir(&self, path: &Path) -> Result<Input, Diagnostic> {
        let mut files = Vec::new();
        collect_files(path, path, &mut files).map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", path.display())))?;
        files.sort();
        let mut h = Sha256::new();
        for rel in files {
            let full = path.join(&rel);
            let bytes = std::fs::read(&full).map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", full.display())))?;
            h.update(rel.as_bytes());
            h.update([0]);
            h.update(sha256_hex(&bytes));
        }
        Ok(Input { name: format!("dir:{}", path.display()), sha256: hex(&h.finalize()) })
    }

    /// An input made of a template's bytes.
    pub(crate) fn template(&self, name: &str) -> Result<Input, Diagnostic> {
        let path = self.opts.templates.join(name);
        if !path.is_file() {
            return Err(Diagnostic::nowhere(format!("template '{name}' not found ({} does not exist)", path.display()))
                .with_help("run from the project root or pass -C DIR"));
        }
        let mut input = self.file(&path)?;
        input.name = format!("template:{name}");
        Ok(input)
    }

    /// Adds a stage; its key covers its name, actions, inputs and the keys it comes after.
    pub(crate) fn add(&mut self, name: &str, summary: &str, after: &[&str], inputs: Vec<Input>, actions: Vec<Action>) {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(json_hash(&actions));
        for i in &inputs {
            h.update(format!("\n{}={}", i.name, i.sha256));
        }
        for a in after {
            let key = &self.stages.iter().find(|s| s.name == *a).expect("stages are added after their dependencies").key;
            h.update(format!("\nafter:{a}={key}"));
        }
        self.stages.push(Stage {
            name: name.to_string(),
            summary: summary.to_string(),
            after: after.iter().map(|s| s.to_string()).collect(),
            inputs,
            actions,
            key: hex(&h.finalize()),
        });
    }

    /// The key of a stage added before.
    pub(crate) fn key_of(&self, name: &str) -> &str {
        &self.stages.iter().find(|s| s.name == name).expect("known stage").key
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// What a backend leaves for the common stages: where the kernel, initrd and root image are,
/// and where they go inside the ISO.
pub(crate) struct Root {
    /// Stages the common stages come after.
    pub(crate) after: Vec<&'static str>,
    /// Kernel, as `{stage}/path`.
    pub(crate) kernel: String,
    /// Initrd, as `{stage}/path`.
    pub(crate) initrd: String,
    /// Root filesystem image, as `{stage}/path`.
    pub(crate) rootimg: String,
    /// Paths of the three inside the ISO (e.g. `live/vmlinuz`).
    pub(crate) iso_paths: [&'static str; 3],
    /// The kernel argument that fetches the root image over HTTP when netbooting, with `{url}`.
    pub(crate) netboot_arg: &'static str,
    /// Set when the backend produces a finished ISO to remaster rather than a tree to assemble.
    pub(crate) remaster: Option<Remaster>,
}

/// A finished ISO that the `iso` stage remasters, keeping its own boot setup.
pub(crate) struct Remaster {
    /// The ISO, as `{stage}/path`.
    pub(crate) iso: String,
    /// A folder whose files replace the ISO's (patched menus), as `{stage}/path`.
    pub(crate) overlay: Option<String>,
}

/// The kernel command line of the live system: the recipe's arguments, then the serial console.
pub fn kernel_cmdline(recipe: &Recipe) -> String {
    let mut args = recipe.spec.boot.kernel_args.clone();
    args.extend(serial_args(recipe));
    args.join(" ")
}

/// The console arguments the serial console setting adds.
pub fn serial_args(recipe: &Recipe) -> Vec<String> {
    match &recipe.spec.boot.serial {
        Some(s) => vec!["console=tty0".to_string(), format!("console={},{}n8", s.port, s.speed)],
        None => Vec::new(),
    }
}

/// Resolves a recipe into its plan. Reads the recipe's own files (to hash them), nothing else.
pub fn plan(recipe: &Recipe, opts: &PlanOptions) -> Result<Plan, Diagnostic> {
    let spec = &recipe.spec;
    let released = crate::release_info(spec.distro.family, &spec.distro.release).expect("validated").released;
    let epoch = opts.source_date_epoch.unwrap_or(released);
    let mut b = Builder { recipe, opts, epoch, stages: Vec::new() };
    let root = match &spec.source {
        Source::Bootstrap(bs) => debian::stages(&mut b, bs)?,
        Source::Kickstart(ks) => fedora::stages(&mut b, ks)?,
        Source::UpstreamIso(u) => ubuntu::stages(&mut b, u)?,
        Source::Kiwi(k) => suse::stages(&mut b, k)?,
    };
    let mut artifacts = common::stages(&mut b, &root)?;
    artifacts.sort_by(|a, b| a.name.cmp(&b.name));

    let mut all_inputs: Vec<&Input> = b.stages.iter().flat_map(|s| s.inputs.iter()).collect();
    all_inputs.sort_by(|a, b| a.name.cmp(&b.name));
    all_inputs.dedup_by(|a, b| a.name == b.name);
    let recipe_hash = json_hash(&(spec, &all_inputs));
    Ok(Plan {
        recipe: spec.name.clone(),
        title: spec.title.clone(),
        file: recipe.file.display().to_string(),
        extends: recipe.extends.iter().map(|p| p.display().to_string()).collect(),
        distro: format!("{} {}", spec.distro.family.as_str(), spec.distro.release),
        source: spec.source.kind().to_string(),
        recipe_hash,
        source_date_epoch: epoch,
        stages: b.stages,
        artifacts,
        tools: opts.tools.clone(),
    })
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "recipe  {} — {} ({}, from {})", self.recipe, self.title, self.distro, self.source)?;
        writeln!(f, "file    {}", self.file)?;
        for e in &self.extends {
            writeln!(f, "extends {e}")?;
        }
        writeln!(f, "hash    {}", &self.recipe_hash[..16])?;
        writeln!(f, "SOURCE_DATE_EPOCH {}", self.source_date_epoch)?;
        for (i, s) in self.stages.iter().enumerate() {
            writeln!(f)?;
            let after = if s.after.is_empty() { String::new() } else { format!(" (after {})", s.after.join(", ")) };
            writeln!(f, "{}. {} [{}]{after}", i + 1, s.name, &s.key[..12])?;
            writeln!(f, "   {}", s.summary)?;
            for a in &s.actions {
                writeln!(f, "   - {}", a.describe())?;
            }
            writeln!(f, "   inputs: {}", s.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "))?;
        }
        writeln!(f)?;
        let mut names: Vec<&str> = self.artifacts.iter().map(|a| a.name.as_str()).collect();
        names.dedup();
        write!(f, "artifacts: {}", names.join(", "))
    }
}
