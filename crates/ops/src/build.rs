//! Planning and building a recipe.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use liveboot_image::{BuildOptions, BuildReport};
use liveboot_recipe::plan::{plan, Plan, PlanOptions};
use liveboot_recipe::Recipe;
use liveboot_runner::{Cmd, RunError, Runner};

use crate::{Event, Progress, Project};

/// Versions of the host packages the project's families and outputs use, from dpkg (empty
/// when dpkg is not there to ask); they are inputs of the stages that use them.
pub fn tool_versions(project: &Project) -> BTreeMap<String, String> {
    let cmd = Cmd::new("dpkg-query").args(["-W", "-f=${Package} ${Version}\\n"]).args(project.registry.host_packages());
    // dpkg-query exits 1 when some package is not installed but still lists the others.
    let out = match Runner::new().run(&cmd) {
        Ok(o) => o.stdout_text(),
        Err(RunError::Failed { stdout, .. }) => String::from_utf8_lossy(&stdout).into_owned(),
        Err(_) => String::new(),
    };
    out.lines().filter_map(|l| l.split_once(' ')).filter(|(_, v)| !v.is_empty()).map(|(p, v)| (p.to_string(), v.to_string())).collect()
}

/// The options a plan of this project is made with.
pub fn plan_options(project: &Project, source_date_epoch: Option<u64>, tools: BTreeMap<String, String>) -> PlanOptions {
    PlanOptions { project: project.dir(), templates: project.templates(), source_date_epoch, tools }
}

/// Where a build takes its sources from instead of the recipe's (`--mirror`, `--iso`).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Mirrors replacing the recipe's package sources (`URL` or `NAME=URL`), or the folder an
    /// upstream ISO and its SHA256SUMS are downloaded from.
    pub mirrors: Vec<String>,
    /// A local copy of an upstream ISO (verified against SHA256SUMS beside it, or the
    /// recipe's pinned sum).
    pub iso: Option<PathBuf>,
}

impl Sources {
    /// Points the recipe at these sources.
    pub fn apply(&self, recipe: &mut Recipe) -> Result<(), String> {
        apply_mirrors(recipe, &self.mirrors)?;
        if let Some(iso) = &self.iso {
            apply_local_iso(recipe, iso)?;
        }
        Ok(())
    }
}

/// `--iso FILE`: the upstream ISO from a file, checked against the release's SHA256SUMS lying
/// beside it (as downloaded with it) or the sum the recipe pins; nothing unverified is built.
fn apply_local_iso(recipe: &mut Recipe, iso: &Path) -> Result<(), String> {
    let liveboot_recipe::Source::UpstreamIso(u) = &mut recipe.spec.source else {
        return Err(format!("--iso {}: recipe '{}' is not built from an upstream ISO", iso.display(), recipe.spec.name));
    };
    let file = std::path::absolute(iso).map_err(|e| format!("--iso {}: {e}", iso.display()))?;
    if !file.is_file() {
        return Err(format!("--iso {}: no such file", iso.display()));
    }
    let sums = file.with_file_name("SHA256SUMS");
    if sums.is_file() {
        u.sha256sums = Some(format!("file://{}", sums.display()));
    } else if u.sha256.is_none() {
        return Err(format!(
            "--iso {}: nothing to verify it against: no SHA256SUMS beside it, and the recipe pins no sha256\n  help: put the release's SHA256SUMS{} next to the ISO",
            iso.display(),
            if u.keyring.is_some() { " and SHA256SUMS.gpg" } else { "" }
        ));
    } else {
        u.sha256sums = None;
    }
    u.url = format!("file://{}", file.display());
    Ok(())
}

/// Loads a recipe and plans it with this host's tool versions.
pub fn plan_recipe(project: &Project, name: &str, source_date_epoch: Option<u64>, sources: &Sources) -> Result<(Recipe, Plan), String> {
    let mut recipe = project.recipe(name)?;
    sources.apply(&mut recipe)?;
    let p = plan(&recipe, &plan_options(project, source_date_epoch, tool_versions(project))).map_err(|d| d.to_string())?;
    Ok((recipe, p))
}

/// Points the recipe's source at mirrors given as `URL` or `NAME=URL` (`--mirror`): Debian's
/// bootstrap mirror, a kickstart's `url` source, or one of its repositories by name.
pub fn apply_mirrors(recipe: &mut Recipe, mirrors: &[String]) -> Result<(), String> {
    for m in mirrors {
        // NAME= only when what comes before the first '=' cannot be part of a URL's start.
        let (name, url) = match m.split_once('=') {
            Some((n, u)) if !n.is_empty() && !n.contains([':', '/']) => (Some(n), u),
            _ => (None, m.as_str()),
        };
        let is_url = ["http://", "https://", "ftp://", "file:/"].iter().any(|s| url.starts_with(s))
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !is_url {
            return Err(format!(
                "--mirror {m}: '{url}' is not a URL\n  help: write --mirror URL or --mirror NAME=URL (http://, https:// or file:/)"
            ));
        }
        recipe.spec.source.set_mirror(name, url).map_err(|e| format!("--mirror {m}: {e}"))?;
    }
    Ok(())
}

/// Whether this host can build the recipe now: its family builds it, and we are root when it
/// needs root.
pub fn can_build(recipe: &Recipe) -> Result<(), String> {
    recipe.family.buildable(recipe)?;
    // SAFETY: geteuid has no preconditions.
    if recipe.family.needs_root(recipe) && unsafe { libc::geteuid() } != 0 {
        return Err("building needs root: the root filesystem holds files of other owners, device nodes and file capabilities\n  help: run it with sudo".into());
    }
    Ok(())
}

/// How build steps (liveboot's notes, the scripts it runs in a root) mark a line of their
/// output as a warning.
pub const WARNING: &str = "liveboot warning: ";

/// Where a build reads and writes.
pub struct BuildSettings {
    /// Stage cache [default: the project's].
    pub cache: Option<PathBuf>,
    /// Output folder [default: the project's].
    pub out: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH to pin.
    pub source_date_epoch: Option<u64>,
    /// Mirrors and local copies replacing the recipe's sources.
    pub sources: Sources,
    /// Set by the front end when the user interrupts.
    pub interrupt: Arc<AtomicBool>,
}

/// Why a build did not happen or did not finish.
#[derive(Debug)]
pub struct BuildFailure {
    /// What went wrong, with the log's place when there is one.
    pub message: String,
    /// True when the user interrupted it (nothing was left at a final path).
    pub interrupted: bool,
}

impl std::fmt::Display for BuildFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn failed(message: impl Into<String>) -> BuildFailure {
    BuildFailure { message: message.into(), interrupted: false }
}

/// Builds a recipe: plans it, checks the host can build it, runs the stages (programs' output
/// goes to the log in the cache and, line by line, to `progress`), publishes the artifacts.
pub fn build(project: &Project, name: &str, settings: &BuildSettings, progress: Progress) -> Result<BuildReport, BuildFailure> {
    let mut recipe = project.recipe(name).map_err(failed)?;
    settings.sources.apply(&mut recipe).map_err(failed)?;
    can_build(&recipe).map_err(failed)?;
    let p = plan(&recipe, &plan_options(project, settings.source_date_epoch, tool_versions(project))).map_err(|d| failed(d.to_string()))?;
    let cache = settings.cache.clone().unwrap_or_else(|| project.cache());
    let out = settings.out.clone().unwrap_or_else(|| project.out());
    std::fs::create_dir_all(&cache).map_err(|e| failed(format!("{}: cannot create the cache folder: {e}", cache.display())))?;
    let log_path = cache.join(format!("build-{}.log", p.recipe));
    let log = std::fs::File::create(&log_path).map_err(|e| failed(format!("{}: {e}", log_path.display())))?;
    let lines = progress.clone();
    let runner = Runner::new()
        .with_log(log)
        .with_interrupt(settings.interrupt.clone())
        // A line of the build's own (a failed script's note, a command the root could not
        // apply) is a warning the user sees, not only a passing status line.
        .with_lines(Arc::new(move |line: &str| match line.strip_prefix(WARNING) {
            Some(w) => lines(Event::Warning(w.to_string())),
            None => lines(Event::Output(line.to_string())),
        }));
    for w in &p.warnings {
        progress(Event::Warning(w.clone()));
    }
    let stages = progress.clone();
    let opts = BuildOptions {
        cache,
        out,
        project: project.dir(),
        templates: project.templates(),
        runner,
        interrupt: settings.interrupt.clone(),
        progress: Arc::new(move |e| stages(Event::Stage(e))),
    };
    liveboot_image::build(&p, &opts).map_err(|e| BuildFailure {
        message: if e.interrupted {
            format!("{e}; nothing was left at a final path (log: {})", log_path.display())
        } else {
            format!("{e}\n  log: {}", log_path.display())
        },
        interrupted: e.interrupted,
    })
}
