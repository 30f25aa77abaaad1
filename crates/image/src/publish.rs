//! Putting a build's artifacts into `out/<recipe>/` with `SHA256SUMS` and `manifest.json`.
//! Every file is written under a temporary name and renamed, so no reader ever sees a partial
//! file at a final path. Large artifacts are hard links to the cached stage output (no copy);
//! liveboot never modifies a published file in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use liveboot_recipe::plan::{Input, Place, Plan};

use crate::{stage_dir, BuildError, BuildOptions, StageOutcome};

/// What was built, from what, with what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Recipe name.
    pub recipe: String,
    /// Recipe title.
    pub title: String,
    /// Hash of the resolved recipe and its files.
    pub recipe_hash: String,
    /// SOURCE_DATE_EPOCH of the build.
    pub source_date_epoch: u64,
    /// Every stage with its key, whether it ran, and its inputs.
    pub stages: Vec<ManifestStage>,
    /// Kernel version of the image.
    pub kernel: Option<String>,
    /// Installed packages (`name` -> `version`).
    pub packages: BTreeMap<String, String>,
    /// Versions of the host tools used.
    pub tools: BTreeMap<String, String>,
    /// Published files with their SHA-256 and size.
    pub artifacts: Vec<ManifestArtifact>,
}

/// A stage in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestStage {
    /// Name.
    pub name: String,
    /// Cache key.
    pub key: String,
    /// Whether it ran in this build.
    pub ran: bool,
    /// Its inputs.
    pub inputs: Vec<ManifestInput>,
}

/// A stage input in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestInput {
    /// What it is.
    pub name: String,
    /// Its hash.
    pub sha256: String,
}

impl From<&Input> for ManifestInput {
    fn from(i: &Input) -> Self {
        ManifestInput { name: i.name.clone(), sha256: i.sha256.clone() }
    }
}

/// A published file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestArtifact {
    /// Path under the recipe's output folder.
    pub name: String,
    /// SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Writes `bytes` at `dest` through a temporary file and a rename.
fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    liveboot_publish::write_batch(&[(dest.to_path_buf(), bytes.to_vec())]).map_err(|e| BuildError::io("cannot write", dest, e))
}

fn place(src: &Path, dest: &Path) -> Result<(), BuildError> {
    liveboot_publish::place(src, dest).map_err(|e| BuildError::io("cannot place", dest, e))
}

/// Files under `dir`, relative, sorted; the stage's own record left out.
fn files_under(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir.join(rel))? {
        let e = e?;
        let r = rel.join(e.file_name());
        if e.file_type()?.is_dir() {
            files_under(dir, &r, out)?;
        } else if e.file_name() != crate::RECORD {
            out.push(r);
        }
    }
    Ok(())
}

pub(crate) fn publish(plan: &Plan, opts: &BuildOptions, out: &Path, outcomes: &[StageOutcome]) -> Result<Manifest, BuildError> {
    std::fs::create_dir_all(out).map_err(|e| BuildError::io("cannot create", out, e))?;
    let mut artifacts: Vec<PathBuf> = Vec::new();
    for a in &plan.artifacts {
        let Place::Stage { stage, path } = &a.from else {
            return Err(BuildError::at(&a.name, format!("artifact {} comes from {}, not from a stage", a.name, a.from)));
        };
        let s = plan.stages.iter().find(|s| &s.name == stage).ok_or_else(|| BuildError::at(stage, "no such stage for an artifact"))?;
        let src = if path.is_empty() { stage_dir(&opts.cache, s) } else { stage_dir(&opts.cache, s).join(path) };
        let mut files = Vec::new();
        if src.is_dir() {
            files_under(&src, Path::new(""), &mut files).map_err(|e| BuildError::io("cannot read", &src, e))?;
            files.sort();
            for f in files {
                let name = Path::new(&a.name).join(&f);
                place(&src.join(&f), &out.join(&name))?;
                artifacts.push(name);
            }
        } else {
            place(&src, &out.join(&a.name))?;
            artifacts.push(PathBuf::from(&a.name));
        }
    }
    // Remove what an earlier build published in these folders and this one did not.
    for dir in plan.artifacts.iter().map(|a| PathBuf::from(&a.name)).filter(|n| out.join(n).is_dir()) {
        let mut old = Vec::new();
        let _ = files_under(&out.join(&dir), Path::new(""), &mut old);
        for o in old.into_iter().map(|o| dir.join(o)).filter(|o| !artifacts.contains(o)) {
            let _ = std::fs::remove_file(out.join(o));
        }
    }
    artifacts.sort();
    artifacts.dedup();
    let mut listed = Vec::new();
    let mut sums = String::new();
    for name in &artifacts {
        let path = out.join(name);
        let sha256 = liveboot_digest::sha256_file(&path).map_err(|e| BuildError::io("cannot read", &path, e))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        sums.push_str(&format!("{sha256}  {}\n", name.display()));
        listed.push(ManifestArtifact { name: name.display().to_string(), sha256, bytes });
    }
    let mut packages = BTreeMap::new();
    let mut kernel = None;
    for s in &plan.stages {
        let d = stage_dir(&opts.cache, s);
        if let Ok(text) = std::fs::read_to_string(d.join("packages.txt")) {
            packages.extend(text.lines().filter_map(|l| l.split_once('\t')).map(|(p, v)| (p.to_string(), v.to_string())));
        }
        if let Ok(v) = std::fs::read_to_string(d.join("kernel-version")) {
            kernel = Some(v.trim().to_string());
        }
    }
    let manifest = Manifest {
        recipe: plan.recipe.clone(),
        title: plan.title.clone(),
        recipe_hash: plan.recipe_hash.clone(),
        source_date_epoch: plan.source_date_epoch,
        stages: plan
            .stages
            .iter()
            .zip(outcomes)
            .map(|(s, o)| ManifestStage {
                name: s.name.clone(),
                key: s.key.clone(),
                ran: o.ran,
                inputs: s.inputs.iter().map(Into::into).collect(),
            })
            .collect(),
        kernel,
        packages,
        tools: plan.tools.clone(),
        artifacts: listed,
    };
    write_atomic(&out.join("SHA256SUMS"), sums.as_bytes())?;
    write_atomic(&out.join("manifest.json"), &serde_json::to_vec_pretty(&manifest).expect("serializes"))?;
    Ok(manifest)
}
