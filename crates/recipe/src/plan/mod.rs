//! The build plan: plain data saying which stages a recipe needs, what each stage reads, what it
//! does, and which cache key it has. The image builder executes exactly these actions; this
//! module only describes them, reading nothing but the recipe's own files (to hash them).
//!
//! Paths in actions are typed [`Place`]s inside [`Text`]s, never passed through a shell: a
//! stage's own folder (`{self}`), a declared output of an earlier stage (`{NAME}/output`), the
//! builder's shared cache (`{cache}`), the project (`{project}`) or the host. A stage declares
//! its outputs; [`Builder::add`] refuses a reference to a stage that does not exist (yet) or to
//! an output it does not declare, and a stage comes after exactly the stages it refers to.
//!
//! The recipe's [`Family`](crate::family::Family) adds the stages that make a root image,
//! kernel and initrd; then each output the recipe asks for ([`crate::output`]) adds its own.

mod place;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use liveboot_yaml::{Diagnostic, PathSeg, Span};

pub use place::{Piece, Place, Text};

use crate::family::{LiveScheme, Release};
use crate::output::{self, OutputKind};
use crate::Recipe;

/// Settings that come from outside the recipe.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The project folder: files under it are named relative to it (`{project}/...`,
    /// `file:recipes/...`), so that keys and manifests do not depend on where it lies.
    pub project: PathBuf,
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

impl PlanOptions {
    /// Options for a project folder (templates in its `templates/`), no epoch, no tool versions.
    pub fn for_project(project: &Path) -> PlanOptions {
        PlanOptions {
            project: project.to_path_buf(),
            templates: project.join("templates"),
            source_date_epoch: None,
            tools: BTreeMap::new(),
        }
    }
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
    /// What the description says that the build does not do (a kickstart command with no
    /// effect on a live image), each naming the file and line.
    pub warnings: Vec<String>,
}

/// One file or folder of the build's output.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// Name in the output folder.
    pub name: String,
    /// Where it is made: a stage's output, or the whole stage folder.
    pub from: Place,
}

/// One cached step of a build.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Stage name, unique in the plan.
    pub name: String,
    /// What it does, in a few words.
    pub summary: String,
    /// Stages whose outputs it reads (exactly those its actions refer to, in plan order).
    pub after: Vec<String>,
    /// Everything its result depends on, hashed.
    pub inputs: Vec<Input>,
    /// What it does, in order.
    pub actions: Vec<Action>,
    /// The files and folders at the top of its folder that later stages may refer to.
    pub outputs: Vec<String>,
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

/// One thing a stage does.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run a program through the runner (never a shell), with extra environment.
    Run { argv: Vec<Text>, env: BTreeMap<String, String> },
    /// Render a template with these variables.
    Render { template: String, dest: Text, vars: serde_json::Value },
    /// Hard-link a file of an earlier stage into this one (no copy for big images; neither side
    /// is ever modified in place).
    Link { src: Text, dest: Text },
    /// Copy a file, replacing the destination (never writing through a hard link).
    Copy { src: Text, dest: Text, mode: Option<String> },
    /// Write a file, replacing the destination (never writing through a hard link).
    Write { dest: Text, content: String, mode: Option<String> },
    /// Create a folder (and its parents) if missing.
    MakeDir { path: Text },
    /// Remove files or folders; the last path component may hold `*` wildcards.
    Remove { paths: Vec<Text> },
    /// Make `dest` a tree of hard links to `src` (cheap copy of a cached tree; files are only
    /// ever replaced in it, never modified in place).
    LinkTree { src: Text, dest: Text },
    /// Copy the kernel and initrd that the root filesystem's /vmlinuz and /initrd.img point to.
    BootFiles { rootfs: Text, dest: Text },
    /// List the installed packages of a root filesystem into a file (`name<TAB>version` lines).
    Packages {
        rootfs: Text,
        dest: Text,
        /// Whose package database: dpkg's, or rpm's at a path inside the root.
        #[serde(default, skip_serializing_if = "PackageDb::is_dpkg")]
        db: PackageDb,
    },
    /// Run a script (body written to a file, run by its interpreter with `args`) with /proc,
    /// /sys, /dev, /run and the host's resolv.conf set up in the root filesystem `root`: inside
    /// it (`chroot`) or beside it on the host with INSTALL_ROOT and LIVE_ROOT set, in a mount
    /// namespace of its own. A failure stops the build when `error_on_fail`, else it is
    /// reported and the build goes on (kickstart's %post semantics).
    Script {
        root: Text,
        chroot: bool,
        interpreter: String,
        body: String,
        args: Vec<String>,
        /// A file inside the root the output is appended to.
        log: Option<String>,
        error_on_fail: bool,
        /// What it is, for messages (`%post at f37.ks:40`).
        what: String,
    },
    /// Fail within seconds, naming the repository and `help`, unless every URL answers
    /// (`name`, `url` pairs; a package repository's base URL is asked for its
    /// `repodata/repomd.xml`). The help is a message, not an input: it names the recipe, and two
    /// recipes installing the same packages share their root (it is left out of the key).
    Reachable {
        repos: Vec<(String, String)>,
        #[serde(skip)]
        help: String,
    },
    /// Set the modification time of everything under a folder to SOURCE_DATE_EPOCH.
    PinTimes { dir: Text },
    /// Download once into the cache by SHA-256 (resuming an interrupted download), verified
    /// against the pinned `sha256` or the entry of the URL's file name in `sums` (a
    /// `SHA256SUMS` URL; its detached signature `<sums>.gpg` checked with `keyring` when set),
    /// and link it at `dest`. `help` says how to point the build elsewhere when the server
    /// cannot be reached (a message, not an input).
    Fetch {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sums: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyring: Option<Text>,
        dest: Text,
        #[serde(skip)]
        help: String,
    },
    /// Replace every `find` in a text file by `replace`; fail, showing the file's kernel
    /// command lines, when it occurs fewer than `min_matches` times. `help` names the rule in
    /// the recipe (a message, not an input).
    Edit {
        file: Text,
        find: String,
        replace: String,
        min_matches: u32,
        #[serde(skip)]
        help: String,
    },
    /// Copy files of the ISO `iso` (paths on it) into the folder `dest` under the same paths,
    /// writable (xorriso would give them the ISO's read-only modes).
    Extract { iso: Text, paths: Vec<String>, dest: Text },
    /// Write `out` from the ISO `iso` with its boot setup replayed (El Torito, MBR/GPT,
    /// isohybrid: `xorriso -boot_image any replay`), the files of `files` (`(source, path on
    /// the ISO)`) added or replacing the ISO's, and the volume ID `volid` when set.
    Remaster {
        iso: Text,
        out: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        volid: Option<String>,
        files: Vec<(Text, String)>,
    },
}

impl Action {
    /// Runs a program with no extra environment.
    pub fn run<S: Into<Text>>(argv: impl IntoIterator<Item = S>) -> Self {
        Action::run_env(argv, BTreeMap::new())
    }

    /// Runs a program with extra environment.
    pub fn run_env<S: Into<Text>>(argv: impl IntoIterator<Item = S>, env: BTreeMap<String, String>) -> Self {
        Action::Run { argv: argv.into_iter().map(Into::into).collect(), env }
    }

    /// Every text of the action that may hold places.
    pub fn texts(&self) -> Vec<&Text> {
        match self {
            Action::Run { argv, .. } => argv.iter().collect(),
            Action::Render { dest, .. } | Action::Write { dest, .. } => vec![dest],
            Action::Fetch { dest, keyring, .. } => keyring.iter().chain(Some(dest)).collect(),
            Action::Extract { iso, dest, .. } => vec![iso, dest],
            Action::Remaster { iso, out, files, .. } => [iso, out].into_iter().chain(files.iter().map(|(f, _)| f)).collect(),
            Action::Link { src, dest } | Action::Copy { src, dest, .. } | Action::LinkTree { src, dest } => vec![src, dest],
            Action::MakeDir { path } => vec![path],
            Action::Remove { paths } => paths.iter().collect(),
            Action::BootFiles { rootfs, dest } | Action::Packages { rootfs, dest, .. } => vec![rootfs, dest],
            Action::Script { root, .. } => vec![root],
            Action::Reachable { .. } => Vec::new(),
            Action::PinTimes { dir } => vec![dir],
            Action::Edit { file, .. } => vec![file],
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Action::Run { argv, env } => {
                let env: String = env.iter().map(|(k, v)| format!("{k}={} ", shell_quote(v))).collect();
                format!("run    {env}{}", argv.iter().map(|a| shell_quote(&a.to_string())).collect::<Vec<_>>().join(" "))
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
            Action::Remove { paths } => format!("remove {}", paths.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")),
            Action::LinkTree { src, dest } => format!("link   {src} -> {dest} (hard links)"),
            Action::Link { src, dest } => format!("link   {src} -> {dest}"),
            Action::BootFiles { rootfs, dest } => {
                format!("boot   {rootfs}/{{vmlinuz,initrd.img}} -> {dest}/")
            }
            Action::Packages { rootfs, dest, db } => format!("list   {db} packages of {rootfs} -> {dest}"),
            Action::Script { root, chroot, interpreter, args, what, error_on_fail, .. } => {
                let place = if *chroot { format!("in {root}") } else { format!("beside {root}") };
                let args: String = args.iter().map(|a| format!(" {}", shell_quote(a))).collect();
                let fail = if *error_on_fail { "" } else { " (a failure is reported, the build goes on)" };
                format!("script {what}: {interpreter}{args} {place}{fail}")
            }
            Action::Reachable { repos, .. } => {
                format!("check  {} answer(s)", repos.iter().map(|(n, u)| format!("{n} ({u})")).collect::<Vec<_>>().join(", "))
            }
            Action::PinTimes { dir } => format!("pin    times under {dir} to SOURCE_DATE_EPOCH"),
            Action::Fetch { url, sha256, sums, keyring, dest, .. } => {
                let verify = match (sha256, sums) {
                    (Some(h), _) => format!("sha256 {h}"),
                    (None, Some(s)) => format!("its entry in {s}"),
                    (None, None) => "nothing".into(),
                };
                let signed = keyring.as_ref().map(|k| format!(", signed by a key of {k}")).unwrap_or_default();
                format!("fetch  {url} -> {dest} (verify {verify}{signed})")
            }
            Action::Edit { file, find, replace, min_matches, .. } => {
                format!("edit   {file}: {find:?} -> {replace:?} (at least {min_matches}x)")
            }
            Action::Extract { iso, paths, dest } => format!("extract {} of {iso} -> {dest}", paths.join(" ")),
            Action::Remaster { iso, out, volid, files } => {
                let files: String = files.iter().map(|(f, p)| format!(" {f}={p}")).collect();
                let volid = volid.as_ref().map(|v| format!(" volid {v}")).unwrap_or_default();
                format!("remaster {iso} -> {out} (boot setup replayed){volid}{files}")
            }
        }
    }
}

/// A package database.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PackageDb {
    /// dpkg's (`var/lib/dpkg`).
    #[default]
    Dpkg,
    /// rpm's, at this path inside the root (`/usr/lib/sysimage/rpm`, `/var/lib/rpm`).
    Rpm(String),
}

impl PackageDb {
    fn is_dpkg(&self) -> bool {
        *self == PackageDb::Dpkg
    }
}

impl std::fmt::Display for PackageDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackageDb::Dpkg => f.write_str("dpkg"),
            PackageDb::Rpm(path) => write!(f, "rpm ({path})"),
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

pub use liveboot_digest::sha256_hex;

fn json_hash<T: Serialize>(v: &T) -> String {
    sha256_hex(&serde_json::to_vec(v).expect("plain data serializes"))
}

/// What a family leaves for the outputs: where the kernel, initrd and root image are, and how
/// the medium boots them.
#[derive(Debug, Clone)]
pub struct Root {
    /// Kernel.
    pub kernel: Place,
    /// Initrd.
    pub initrd: Place,
    /// Root filesystem image.
    pub image: Place,
    /// Where the three go on the medium and how a netboot fetches the root.
    pub scheme: &'static LiveScheme,
    /// Set when the family produces a finished ISO to remaster rather than a tree to assemble.
    pub remaster: Option<Remaster>,
    /// The signed UEFI loaders from the root filesystem itself (its distribution's shim and
    /// GRUB, which trust its kernel); none: the build host's (Debian's).
    pub loaders: Option<SignedLoaders>,
}

/// A distribution's signed UEFI loaders for Secure Boot.
#[derive(Debug, Clone)]
pub struct SignedLoaders {
    /// shim (first stage, signed by Microsoft's UEFI CA).
    pub shim: Place,
    /// GRUB built for CDs, signed by the distribution.
    pub grub: Place,
    /// MokManager.
    pub mok_manager: Place,
}

/// A finished ISO that the `iso` stage remasters, keeping its own boot setup.
#[derive(Debug, Clone)]
pub struct Remaster {
    /// The ISO.
    pub iso: Place,
    /// Files that replace the ISO's (patched menus), with their paths on the ISO.
    pub files: Vec<(Place, String)>,
}

/// Collects stages; checks their references and computes their keys as they are added. Family
/// and output modules get one to add their stages.
pub struct Builder<'a> {
    /// The recipe being planned.
    pub recipe: &'a Recipe,
    opts: &'a PlanOptions,
    epoch: u64,
    stages: Vec<Stage>,
    /// Where in the recipe the module adding stages now was chosen (for errors).
    origin: Span,
    warnings: Vec<String>,
}

impl<'a> Builder<'a> {
    /// Says where in the recipe the module about to add stages was chosen (for errors).
    pub(crate) fn set_origin(&mut self, at: Span) {
        self.origin = at;
    }

    /// Notes something the description says that the build does not do.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// Where a project or host place is on this machine, for reading it while planning.
    pub fn local_path(&self, place: &Place) -> PathBuf {
        self.host_path(place)
    }

    /// A file as plans and their messages name it: relative to the project when under it.
    pub fn shown(&self, file: &Path) -> String {
        project_relative(&self.opts.project, file)
    }

    /// The release entry of the recipe's family (validated when the recipe was loaded).
    pub fn release(&self) -> &'static Release {
        self.recipe.release()
    }

    /// An input made of part of the recipe.
    pub fn part<T: Serialize>(&self, name: &str, v: &T) -> Input {
        Input { name: format!("recipe:{name}"), sha256: json_hash(v) }
    }

    /// SOURCE_DATE_EPOCH as an input, for stages whose output embeds times.
    pub fn epoch(&self) -> Option<Input> {
        Some(Input { name: "epoch".into(), sha256: sha256_hex(self.epoch.to_string().as_bytes()) })
    }

    /// The environment a time-embedding program gets.
    pub fn epoch_env(&self) -> BTreeMap<String, String> {
        [("SOURCE_DATE_EPOCH".to_string(), self.epoch.to_string())].into_iter().collect()
    }

    /// The version of a host package, as an input.
    pub fn tool(&self, package: &str) -> Input {
        let v = self.opts.tools.get(package).map(String::as_str).unwrap_or("unknown");
        Input { name: format!("tool:{package}"), sha256: sha256_hex(v.as_bytes()) }
    }

    /// A file or folder the recipe names at `at`: under the project it is a project place
    /// (named relative to the project), elsewhere the absolute host path.
    pub fn source_path(&self, at: &[PathSeg], written: &str) -> Place {
        let p = self.recipe.resolve(at, written);
        let p = p.canonicalize().unwrap_or(p);
        let project = self.opts.project.canonicalize().unwrap_or_else(|_| self.opts.project.clone());
        match p.strip_prefix(&project) {
            Ok(rel) => Place::Project(rel.to_string_lossy().into_owned()),
            Err(_) => Place::Host(p.to_string_lossy().into_owned()),
        }
    }

    /// Where a project or host place is on this machine (for reading it while planning).
    fn host_path(&self, place: &Place) -> PathBuf {
        match place {
            Place::Project(rel) => self.opts.project.join(rel),
            other => PathBuf::from(other.to_string()),
        }
    }

    /// How an input names a project or host place: relative to the project when under it.
    fn input_name(place: &Place) -> String {
        match place {
            Place::Project(rel) => rel.clone(),
            other => other.to_string(),
        }
    }

    /// An input made of a file's bytes.
    pub fn file(&self, place: &Place) -> Result<Input, Diagnostic> {
        let path = self.host_path(place);
        let bytes = std::fs::read(&path).map_err(|e| {
            Diagnostic::nowhere(format!("cannot read {}: {e}", path.display())).with_help("check that the file exists and is readable")
        })?;
        Ok(Input { name: format!("file:{}", Self::input_name(place)), sha256: sha256_hex(&bytes) })
    }

    /// An input made of every file under a folder (names and bytes).
    pub fn dir(&self, place: &Place) -> Result<Input, Diagnostic> {
        let path = self.host_path(place);
        let mut files = Vec::new();
        collect_files(&path, &path, &mut files).map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", path.display())))?;
        files.sort();
        let mut listing = String::new();
        for rel in files {
            let full = path.join(&rel);
            let bytes = std::fs::read(&full).map_err(|e| Diagnostic::nowhere(format!("cannot read {}: {e}", full.display())))?;
            listing.push_str(&rel);
            listing.push('\0');
            listing.push_str(&sha256_hex(&bytes));
        }
        Ok(Input { name: format!("dir:{}", Self::input_name(place)), sha256: sha256_hex(listing.as_bytes()) })
    }

    /// An input made of a template's bytes.
    pub fn template(&self, name: &str) -> Result<Input, Diagnostic> {
        let path = self.opts.templates.join(name);
        let bytes = std::fs::read(&path).map_err(|_| {
            Diagnostic::nowhere(format!("template '{name}' not found ({} does not exist)", path.display()))
                .with_help("run from the project root or pass -C DIR")
        })?;
        Ok(Input { name: format!("template:{name}"), sha256: sha256_hex(&bytes) })
    }

    /// The declared outputs of a stage added before.
    fn outputs_of(&self, stage: &str) -> Option<&[String]> {
        self.stages.iter().find(|s| s.name == stage).map(|s| s.outputs.as_slice())
    }

    /// Checks that `place` names a stage added before and one of its declared outputs.
    fn check_place(&self, stage: &str, place: &Place) -> Result<(), Diagnostic> {
        let Place::Stage { stage: other, path } = place else { return Ok(()) };
        let fail = |what: String, help: String| {
            Err(Diagnostic::at(&self.origin, format!("stage '{stage}' refers to {place}: {what}")).with_help(help))
        };
        let Some(outputs) = self.outputs_of(other) else {
            let known: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
            return fail(
                format!("no stage '{other}' comes before it"),
                format!(
                    "refer to one of the stages added before it ({}); this is a bug in the module that plans '{stage}'",
                    known.join(", ")
                ),
            );
        };
        let first = path.split('/').next().unwrap_or_default();
        if !first.is_empty() && !outputs.iter().any(|o| o == first) {
            return fail(
                format!("stage '{other}' declares no output '{first}'"),
                format!("'{other}' declares {}; this is a bug in the module that plans '{stage}'", outputs.join(", ")),
            );
        }
        Ok(())
    }

    /// Adds a stage that declares `outputs` (the names at the top of its folder that later
    /// stages may refer to). It comes after exactly the stages its actions refer to; each such
    /// reference must name an earlier stage and one of its declared outputs. Its key covers its
    /// name, actions, inputs and the keys of the stages it comes after.
    pub fn add(&mut self, name: &str, summary: &str, outputs: &[&str], inputs: Vec<Input>, actions: Vec<Action>) -> Result<(), Diagnostic> {
        if self.stages.iter().any(|s| s.name == name) {
            return Err(Diagnostic::at(&self.origin, format!("two stages are named '{name}'"))
                .with_help("give each stage its own name; this is a bug in the module that plans it"));
        }
        let mut referred = Vec::new();
        for place in actions.iter().flat_map(Action::texts).flat_map(Text::places) {
            self.check_place(name, place)?;
            if let Some(s) = place.stage_name() {
                referred.push(s.to_string());
            }
        }
        let after: Vec<String> = self.stages.iter().map(|s| s.name.clone()).filter(|s| referred.contains(s)).collect();
        let mut h = String::new();
        h.push_str(name);
        h.push_str(&json_hash(&actions));
        for i in &inputs {
            h.push_str(&format!("\n{}={}", i.name, i.sha256));
        }
        for a in &after {
            h.push_str(&format!("\nafter:{a}={}", self.key_of(a)));
        }
        self.stages.push(Stage {
            name: name.to_string(),
            summary: summary.to_string(),
            after,
            inputs,
            actions,
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            key: sha256_hex(h.as_bytes()),
        });
        Ok(())
    }

    /// The key of a stage added before.
    pub fn key_of(&self, name: &str) -> &str {
        &self.stages.iter().find(|s| s.name == name).expect("checked: a known stage").key
    }

    /// The stages (added before) these places belong to, in plan order, each once.
    pub fn stages_of(&self, places: &[&Place]) -> Vec<String> {
        let referred: Vec<&str> = places.iter().filter_map(|p| p.stage_name()).collect();
        self.stages.iter().map(|s| s.name.clone()).filter(|s| referred.contains(&s.as_str())).collect()
    }

    /// An artifact from a place of a stage added before (checked like a reference).
    pub fn artifact(&self, name: &str, from: Place) -> Result<Artifact, Diagnostic> {
        self.check_place(&format!("artifact {name}"), &from)?;
        Ok(Artifact { name: name.to_string(), from })
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

/// `file` relative to `project` when it lies under it (links followed), else as given: so that
/// a plan does not depend on where the project lies.
fn project_relative(project: &Path, file: &Path) -> String {
    let project = project.canonicalize().unwrap_or_else(|_| project.to_path_buf());
    let full = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    full.strip_prefix(&project).map(Path::to_path_buf).unwrap_or_else(|_| file.to_path_buf()).display().to_string()
}

/// The kernel arguments of the live system, one by one: the recipe's, then the serial console.
pub fn kernel_args(recipe: &Recipe) -> Vec<String> {
    let mut args = recipe.spec.boot.kernel_args.clone();
    args.extend(serial_args(recipe));
    args
}

/// The kernel command line of the live system ([`kernel_args`] joined).
pub fn kernel_cmdline(recipe: &Recipe) -> String {
    kernel_args(recipe).join(" ")
}

/// The console arguments the serial console setting adds.
pub fn serial_args(recipe: &Recipe) -> Vec<String> {
    match &recipe.spec.boot.serial {
        Some(s) => vec!["console=tty0".to_string(), format!("console={},{}n8", s.port, s.speed)],
        None => Vec::new(),
    }
}

/// Resolves a recipe into its plan: its family's stages, then those of each output it asks
/// for. Reads the recipe's own files (to hash them), nothing else.
pub fn plan(recipe: &Recipe, opts: &PlanOptions) -> Result<Plan, Diagnostic> {
    let spec = &recipe.spec;
    let epoch = opts.source_date_epoch.unwrap_or(recipe.release().released);
    let family_at = recipe.tree.locate(&["distro".into(), "family".into()]).span.clone();
    let mut b = Builder { recipe, opts, epoch, stages: Vec::new(), origin: family_at, warnings: Vec::new() };
    let root = recipe.family.stages(&mut b)?;
    let outputs: Vec<(&dyn OutputKind, Span)> = recipe
        .outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.as_ref(), recipe.tree.locate(&["outputs".into(), i.into()]).span.clone()))
        .collect();
    let mut artifacts = output::plan_outputs(&mut b, &root, &outputs)?;
    artifacts.sort_by(|a, b| a.name.cmp(&b.name));

    let mut all_inputs: Vec<&Input> = b.stages.iter().flat_map(|s| s.inputs.iter()).collect();
    all_inputs.sort_by(|a, b| a.name.cmp(&b.name));
    all_inputs.dedup_by(|a, b| a.name == b.name);
    let recipe_hash = json_hash(&(spec, &all_inputs));
    let shown = |p: &Path| project_relative(&opts.project, p);
    Ok(Plan {
        recipe: spec.name.clone(),
        title: spec.title.clone(),
        file: shown(&recipe.file),
        extends: recipe.extends.iter().map(|p| shown(p)).collect(),
        distro: format!("{} {}", spec.distro.family, spec.distro.release),
        source: spec.source.kind().to_string(),
        recipe_hash,
        source_date_epoch: epoch,
        stages: b.stages,
        artifacts,
        tools: opts.tools.clone(),
        warnings: b.warnings,
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
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        let mut names: Vec<&str> = self.artifacts.iter().map(|a| a.name.as_str()).collect();
        names.dedup();
        write!(f, "artifacts: {}", names.join(", "))
    }
}
