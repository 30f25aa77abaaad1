//! Planning and building a recipe.

use std::collections::BTreeMap;
use std::path::PathBuf;
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

/// Loads a recipe and plans it with this host's tool versions.
pub fn plan_recipe(project: &Project, name: &str, source_date_epoch: Option<u64>) -> Result<(Recipe, Plan), String> {
    let recipe = project.recipe(name)?;
    let p = plan(&recipe, &plan_options(project, source_date_epoch, tool_versions(project))).map_err(|d| d.to_string())?;
    Ok((recipe, p))
}

/// Whether this host can build the recipe now: its family builds it, and we are root.
pub fn can_build(recipe: &Recipe) -> Result<(), String> {
    recipe.family.buildable(recipe)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("building needs root: the root filesystem holds files of other owners, device nodes and file capabilities\n  help: run it with sudo".into());
    }
    Ok(())
}

/// Where a build reads and writes.
pub struct BuildSettings {
    /// Stage cache [default: the project's].
    pub cache: Option<PathBuf>,
    /// Output folder [default: the project's].
    pub out: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH to pin.
    pub source_date_epoch: Option<u64>,
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
    let recipe = project.recipe(name).map_err(failed)?;
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
        .with_lines(Arc::new(move |line: &str| lines(Event::Output(line.to_string()))));
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
