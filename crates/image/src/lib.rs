//! Executing a build plan.
//!
//! Each stage's output lives in `<cache>/stages/<name>-<key>/`. A stage that has such a folder
//! is reused; otherwise it runs in `<cache>/stages/.tmp-<name>-<key>-<pid>/`, which is renamed
//! to its final name only when every action succeeded. An interrupted or killed build therefore
//! leaves only a temporary folder, which the next build removes, and never a half-made stage.
//! Artifacts reach the output folder the same way: written under a temporary name, renamed.

mod actions;
mod fetch;
mod publish;
mod reach;
pub mod remaster;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use liveboot_recipe::plan::{Plan, Stage};
use liveboot_runner::Runner;

pub use actions::render_template;
pub use publish::Manifest;

/// Where a build reads and writes.
#[derive(Clone)]
pub struct BuildOptions {
    /// Stage cache (`.cache/liveboot` of the project by default).
    pub cache: PathBuf,
    /// Output folder; artifacts go to `<out>/<recipe>/`.
    pub out: PathBuf,
    /// The project folder (`{project}` places: recipes, overlays, kickstarts).
    pub project: PathBuf,
    /// Templates folder.
    pub templates: PathBuf,
    /// Runs the external programs.
    pub runner: Runner,
    /// Set when the user interrupts; checked between actions.
    pub interrupt: Arc<AtomicBool>,
    /// Told about each stage as it starts and ends.
    pub progress: Arc<dyn Fn(Event) + Send + Sync>,
}

/// What the builder reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// A stage starts running.
    Started { index: usize, total: usize, stage: String },
    /// A stage was found complete in the cache.
    Reused { index: usize, total: usize, stage: String },
    /// A stage ran to the end.
    Finished { index: usize, total: usize, stage: String, elapsed: Duration },
}

/// Why a build failed.
#[derive(Debug)]
pub struct BuildError {
    /// The stage that failed, if any.
    pub stage: Option<String>,
    /// What happened.
    pub message: String,
    /// True when the user interrupted the build.
    pub interrupted: bool,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.stage {
            Some(s) => write!(f, "stage '{s}' failed: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    fn at(stage: &str, message: impl ToString) -> Self {
        BuildError { stage: Some(stage.to_string()), message: message.to_string(), interrupted: false }
    }

    fn io(what: &str, path: &Path, e: std::io::Error) -> Self {
        BuildError { stage: None, message: format!("{what} {}: {e}", path.display()), interrupted: false }
    }
}

/// How each stage went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageOutcome {
    /// Stage name.
    pub name: String,
    /// Its key.
    pub key: String,
    /// Whether it ran in this build (false: reused from the cache).
    pub ran: bool,
    /// Seconds it took when it ran (0 when reused).
    pub seconds: f64,
}

/// The result of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Per stage, in plan order.
    pub stages: Vec<StageOutcome>,
    /// The output folder of the recipe.
    pub out: PathBuf,
    /// The manifest written there.
    pub manifest: Manifest,
}

/// Metadata kept inside each finished stage folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StageRecord {
    pub(crate) name: String,
    pub(crate) key: String,
    pub(crate) seconds: f64,
}

const RECORD: &str = ".stage.json";

/// The folder of a finished stage.
pub fn stage_dir(cache: &Path, stage: &Stage) -> PathBuf {
    cache.join("stages").join(format!("{}-{}", stage.name, &stage.key[..16]))
}

/// Removes temporary stage folders left by builds that are no longer running.
fn clean_stale(cache: &Path) -> Result<(), BuildError> {
    let stages = cache.join("stages");
    let Ok(entries) = std::fs::read_dir(&stages) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(".tmp-") else {
            continue;
        };
        let pid: i32 = rest.rsplit('-').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
        if !alive {
            actions::remove_all(&e.path()).map_err(|err| BuildError::io("cannot remove the stale", &e.path(), err))?;
        }
    }
    Ok(())
}

/// Runs the plan: every stage whose folder is missing, in order; then publishes the artifacts.
pub fn build(plan: &Plan, opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    let epoch = plan.source_date_epoch;
    std::fs::create_dir_all(opts.cache.join("stages")).map_err(|e| BuildError::io("cannot create", &opts.cache, e))?;
    clean_stale(&opts.cache)?;
    let total = plan.stages.len();
    let mut outcomes = Vec::new();
    for (index, stage) in plan.stages.iter().enumerate() {
        let dir = stage_dir(&opts.cache, stage);
        if dir.join(RECORD).is_file() {
            (opts.progress)(Event::Reused { index, total, stage: stage.name.clone() });
            outcomes.push(StageOutcome { name: stage.name.clone(), key: stage.key.clone(), ran: false, seconds: 0.0 });
            continue;
        }
        (opts.progress)(Event::Started { index, total, stage: stage.name.clone() });
        let start = Instant::now();
        let tmp = opts.cache.join("stages").join(format!(".tmp-{}-{}-{}", stage.name, &stage.key[..16], std::process::id()));
        if tmp.exists() {
            actions::remove_all(&tmp).map_err(|e| BuildError::io("cannot remove", &tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| BuildError::io("cannot create", &tmp, e))?;
        let ctx = actions::Context {
            plan,
            own: &tmp,
            cache: &opts.cache,
            project: &opts.project,
            templates: &opts.templates,
            runner: &opts.runner,
            epoch,
        };
        for action in &stage.actions {
            if opts.interrupt.load(Ordering::SeqCst) {
                let _ = actions::remove_all(&tmp);
                return Err(BuildError { stage: Some(stage.name.clone()), message: "interrupted".into(), interrupted: true });
            }
            if let Err(e) = actions::execute(&ctx, action) {
                let _ = actions::remove_all(&tmp);
                let interrupted = opts.interrupt.load(Ordering::SeqCst);
                return Err(BuildError { stage: Some(stage.name.clone()), message: e, interrupted });
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let record = StageRecord { name: stage.name.clone(), key: stage.key.clone(), seconds };
        std::fs::write(tmp.join(RECORD), serde_json::to_vec_pretty(&record).expect("serializes"))
            .map_err(|e| BuildError::io("cannot write", &tmp, e))?;
        if dir.exists() {
            // A concurrent build finished the same stage first; its result is as good.
            let _ = actions::remove_all(&tmp);
        } else {
            std::fs::rename(&tmp, &dir).map_err(|e| BuildError::io("cannot finish", &dir, e))?;
        }
        (opts.progress)(Event::Finished { index, total, stage: stage.name.clone(), elapsed: start.elapsed() });
        outcomes.push(StageOutcome { name: stage.name.clone(), key: stage.key.clone(), ran: true, seconds });
    }
    let out = opts.out.join(&plan.recipe);
    let manifest = publish::publish(plan, opts, &out, &outcomes)?;
    Ok(BuildReport { stages: outcomes, out, manifest })
}

/// What [`prune`] removed or kept.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// Stage folders removed (or that would be, on a dry run).
    pub removed: Vec<String>,
    /// Stage folders kept because a manifest names them.
    pub kept: Vec<String>,
    /// Bytes freed (or that would be), about: shared files count by their share.
    pub bytes: u64,
}

/// Bytes under `path`, each file weighted by its link count: link-tree stages share most of
/// their files with the stage they copy, and removing one frees only its share.
fn size_of(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(path) else { return 0 };
    if !m.is_dir() {
        return m.len() / m.nlink().max(1);
    }
    std::fs::read_dir(path).into_iter().flatten().flatten().map(|e| size_of(&e.path())).sum()
}

/// Removes the stage folders that no `manifest.json` under `out` (one per published recipe)
/// refers to, and the temporary folders of builds that are no longer running.
pub fn prune(cache: &Path, out: &Path, dry_run: bool) -> Result<PruneReport, BuildError> {
    if !dry_run {
        clean_stale(cache)?;
    }
    let mut wanted = std::collections::BTreeSet::new();
    let mut manifests = 0;
    for e in std::fs::read_dir(out).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("manifest.json")) else { continue };
        manifests += 1;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|err| BuildError::io("cannot read", &e.path().join("manifest.json"), std::io::Error::other(err)))?;
        // A manifest edited by hand may hold anything: a key too short or not hex names no
        // stage folder.
        wanted.extend(m.stages.iter().filter_map(|s| Some(format!("{}-{}", s.name, s.key.get(..16)?))));
    }
    let mut report = PruneReport { removed: Vec::new(), kept: Vec::new(), bytes: 0 };
    let mut entries: Vec<_> = std::fs::read_dir(cache.join("stages")).into_iter().flatten().flatten().collect();
    // No manifest at all is far likelier a mistyped --out than a wish to empty the cache.
    if manifests == 0 && entries.iter().any(|e| !e.file_name().to_string_lossy().starts_with('.')) {
        return Err(BuildError {
            stage: None,
            message: format!(
                "no build's manifest.json under {}, so every cached stage would go; nothing removed\n  help: point --out at the folder your builds write to (it holds <recipe>/manifest.json); to empty the cache, remove {}",
                out.display(),
                cache.display()
            ),
            interrupted: false,
        });
    }
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if wanted.contains(&name) {
            report.kept.push(name);
            continue;
        }
        report.bytes += size_of(&e.path());
        if !dry_run {
            actions::remove_all(&e.path()).map_err(|err| BuildError::io("cannot remove", &e.path(), err))?;
        }
        report.removed.push(name);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_what_a_manifest_names_and_live_temporary_folders() {
        let d = std::env::temp_dir().join(format!("lb-prune-{}", std::process::id()));
        let (cache, out) = (d.join("cache"), d.join("out"));
        let keep = "1111111111111111aaaa";
        for name in [
            format!("rootfs-{}", &keep[..16]),
            "rootfs-2222222222222222".into(),
            format!(".tmp-iso-3333333333333333-{}", std::process::id()),
        ] {
            std::fs::create_dir_all(cache.join("stages").join(name).join("x")).unwrap();
        }
        std::fs::write(cache.join("stages/rootfs-2222222222222222/x/f"), vec![0u8; 1000]).unwrap();
        std::fs::create_dir_all(out.join("r")).unwrap();
        let manifest = serde_json::json!({
            "recipe": "r", "title": "t", "recipe_hash": "h", "source_date_epoch": 0, "kernel": null,
            "packages": {}, "tools": {}, "artifacts": [],
            "stages": [{ "name": "rootfs", "key": keep, "ran": true, "inputs": [] }],
        });
        std::fs::write(out.join("r/manifest.json"), manifest.to_string()).unwrap();

        // A hand-edited manifest with a short or non-ASCII key names nothing, and does not panic.
        std::fs::create_dir_all(out.join("odd")).unwrap();
        let odd = serde_json::json!({
            "recipe": "odd", "title": "t", "recipe_hash": "h", "source_date_epoch": 0, "kernel": null,
            "packages": {}, "tools": {}, "artifacts": [],
            "stages": [{ "name": "rootfs", "key": "ab", "ran": true, "inputs": [] }, { "name": "iso", "key": "ééééééééé", "ran": true, "inputs": [] }],
        });
        std::fs::write(out.join("odd/manifest.json"), odd.to_string()).unwrap();
        // A mistyped --out (no manifest there) removes nothing and says so.
        let e = prune(&cache, &d.join("ou"), false).unwrap_err();
        assert!(e.message.contains("no build's manifest.json under") && e.message.contains("help:"), "{e}");
        assert!(cache.join("stages/rootfs-2222222222222222").exists());
        let dry = prune(&cache, &out, true).unwrap();
        assert_eq!(dry.removed, ["rootfs-2222222222222222"]);
        assert!(cache.join("stages/rootfs-2222222222222222").exists(), "a dry run removed something");
        assert_eq!(dry.bytes, 1000);

        let r = prune(&cache, &out, false).unwrap();
        assert_eq!((r.removed.len(), r.kept, r.bytes), (1, vec![format!("rootfs-{}", &keep[..16])], 1000));
        assert!(!cache.join("stages/rootfs-2222222222222222").exists());
        // The temporary folder belongs to a running build (this process): it stays.
        assert!(cache.join(format!("stages/.tmp-iso-3333333333333333-{}", std::process::id())).exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
