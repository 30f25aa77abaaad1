//! `liveboot try`: boot a built image in QEMU with a throwaway seed and key, wait for SSH,
//! check cloud-init and the host name, run commands, power off.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use liveboot_qemu::{Accel, Firmware, Medium};
use liveboot_runner::{Cmd, Output, RunError, Runner};
use liveboot_seed::{NodeFacts, SeedRenderer};

use crate::{tenths, Event, Progress, Project};

/// What to boot and how.
pub struct TrySettings {
    /// A recipe (its built ISO) or the path of an ISO image.
    pub image: String,
    /// Output folder the recipe's image is in [default: the project's].
    pub out: Option<PathBuf>,
    /// Firmware.
    pub firmware: Firmware,
    /// How the image is attached.
    pub medium: Medium,
    /// KVM or TCG; `None` probes (once per host kernel and QEMU version).
    pub accel: Option<Accel>,
    /// How long to wait for SSH.
    pub timeout: Duration,
    /// Commands to run once SSH answers.
    pub exec: Vec<String>,
    /// Set by the front end when the user interrupts.
    pub interrupt: Arc<AtomicBool>,
}

/// How the boot went.
#[derive(Debug, Clone, Serialize)]
pub struct TryResult {
    /// The ISO booted.
    pub image: String,
    /// Firmware.
    pub firmware: Firmware,
    /// Medium.
    pub medium: Medium,
    /// Accelerator.
    pub accel: Accel,
    /// Seconds from QEMU's start until an SSH command worked.
    pub time_to_ssh_seconds: f64,
    /// The guest's host name (the seed's, when cloud-init worked).
    pub hostname: String,
    /// `status: done`, or what cloud-init said.
    pub cloud_init: String,
    /// The commands run and what they printed.
    pub commands: Vec<TryCommand>,
    /// Problems found (empty when all is well).
    #[serde(skip)]
    pub problems: Vec<String>,
}

/// One `--exec` command.
#[derive(Debug, Clone, Serialize)]
pub struct TryCommand {
    /// The command.
    pub command: String,
    /// Whether it exited 0.
    pub ok: bool,
    /// Its output (or error).
    pub output: String,
}

/// Boots the image, waits for SSH, checks, runs the commands, powers off. An `Err` is a boot
/// that never reached SSH (or could not start); a finished boot with problems is an `Ok` whose
/// [`TryResult::problems`] say what was wrong.
pub fn try_image(project: &Project, s: &TrySettings, progress: Progress) -> Result<TryResult, String> {
    let image = if s.image.ends_with(".iso") || s.image.contains('/') {
        PathBuf::from(&s.image)
    } else {
        project.built_iso(&s.image, s.out.as_deref())
    };
    if !image.is_file() {
        return Err(format!("{} does not exist\n  help: build it first: liveboot build {}", image.display(), s.image));
    }
    let name = image.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string();
    let cache = project.cache();
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let work = tempfile::Builder::new().prefix("try-").tempdir_in(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let w = work.path();
    let runner = Runner::new().with_interrupt(s.interrupt.clone());

    // A throwaway key and a seed that puts it on root.
    let key = w.join("key");
    runner
        .run(&Cmd::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "liveboot-try", "-f"]).arg(&key))
        .map_err(|e| e.to_string())?;
    let public = std::fs::read_to_string(w.join("key.pub")).map_err(|e| e.to_string())?;
    let hostname = format!("try-{}", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"));
    let renderer = SeedRenderer::new(&project.templates()).map_err(|e| e.to_string())?;
    let facts = NodeFacts {
        name: "try".into(),
        hostname: hostname.clone(),
        fqdn: hostname.clone(),
        ssh_keys: vec![public.trim().to_string()],
        ..Default::default()
    };
    let seed = renderer.render(&facts).map_err(|e| e.to_string())?;
    std::fs::write(w.join("seed.iso"), seed.to_iso()).map_err(|e| e.to_string())?;

    let accel = match s.accel {
        Some(a) => a,
        None => {
            let kernels: Vec<&str> = project.registry.schemes().iter().map(|s| s.kernel).collect();
            liveboot_qemu::detect_accel_cached(&runner, &image, &kernels, w, &cache.join("accel"))?
        }
    };
    let spec = liveboot_qemu::VmSpec {
        image: image.clone(),
        seed: Some(w.join("seed.iso")),
        firmware: s.firmware,
        medium: s.medium,
        accel,
        memory_mib: 2048,
        work: w.to_path_buf(),
    };
    progress(Event::Note(format!("booting {} ({:?}, {:?}, {:?})", image.display(), spec.firmware, spec.medium, accel)));
    let mut vm = liveboot_qemu::start(&runner, &spec)?;
    let ssh = liveboot_qemu::Ssh { key, user: "root".into(), port: vm.ssh_port };
    let waited = match vm.wait_for_ssh(&runner, &ssh, s.timeout) {
        Ok(t) => t,
        Err(e) => {
            let kept = work.keep();
            return Err(format!("{e}\n  the serial log and QEMU's log are kept in {}", kept.display()));
        }
    };
    progress(Event::Note(format!("SSH answered after {:.1} s", waited.as_secs_f64())));
    let remote = |cmd: &str, secs: u64| runner.run(&ssh.command(cmd, Duration::from_secs(secs)));
    // `status --long` says which module failed; it exits non-zero then, and its output is kept.
    let cloud_init = match remote("cloud-init status --wait --long", 900) {
        Ok(Output { stdout, .. }) | Err(RunError::Failed { stdout, .. }) => {
            let text = String::from_utf8_lossy(&stdout);
            let status = text.lines().find_map(|l| l.trim().strip_prefix("status: ")).unwrap_or("unknown").to_string();
            if status == "done" {
                "status: done".to_string()
            } else {
                format!("status: {status}: {}", text.lines().filter(|l| !l.starts_with("status:")).collect::<Vec<_>>().join(" | "))
            }
        }
        Err(e) => format!("failed: {e}"),
    };
    let got_hostname = remote("hostname", 30).map(|o| o.stdout_text().trim().to_string()).unwrap_or_default();
    let mut commands = Vec::new();
    for c in &s.exec {
        let (ok, output) = match remote(c, 300) {
            Ok(o) => (true, o.stdout_text()),
            Err(e) => (false, e.to_string()),
        };
        commands.push(TryCommand { command: c.clone(), ok, output });
    }
    vm.shutdown(&runner, &ssh, Duration::from_secs(60));
    let mut problems = Vec::new();
    if cloud_init != "status: done" {
        problems.push(format!("cloud-init did not finish cleanly ({cloud_init})"));
    }
    if got_hostname != hostname {
        problems.push(format!("the host name is '{got_hostname}', not the seed's '{hostname}'"));
    }
    if commands.iter().any(|c| !c.ok) {
        problems.push("a command failed".to_string());
    }
    Ok(TryResult {
        image: image.display().to_string(),
        firmware: spec.firmware,
        medium: spec.medium,
        accel,
        time_to_ssh_seconds: tenths(waited.as_secs_f64()),
        hostname: got_hostname,
        cloud_init,
        commands,
        problems,
    })
}
