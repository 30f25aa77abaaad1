//! `liveboot try`: boot a built image in QEMU with a throwaway seed and key, wait for SSH,
//! check cloud-init and the host name, run commands, power off.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use liveboot_qemu::{Accel, Boot as TryBoot, Firmware, Medium};
use liveboot_runner::{Cmd, Output, RunError, Runner};
use liveboot_seed::{NodeFacts, SeedRenderer};

use crate::{tenths, Event, Progress, Project};

/// Which loader a network boot goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PxeLoader {
    /// BIOS: pxelinux, kernel and initrd over TFTP.
    Bios,
    /// BIOS: the iPXE script, kernel and initrd over HTTP.
    Ipxe,
    /// UEFI: the firmware's PXE, signed shim, signed network GRUB, kernel and initrd over TFTP.
    Uefi,
}

/// Where the machine boots from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryMedium {
    /// The ISO as a CD or USB stick.
    Image(Medium),
    /// The recipe's PXE bundle over QEMU's TFTP and `liveboot serve`.
    Pxe(PxeLoader),
}

impl TryMedium {
    /// Its name in results: cd, usb, pxe-bios, pxe-ipxe, pxe-uefi.
    pub fn name(self) -> String {
        match self {
            TryMedium::Image(Medium::Cd) => "cd".into(),
            TryMedium::Image(Medium::Usb) => "usb".into(),
            TryMedium::Pxe(PxeLoader::Bios) => "pxe-bios".into(),
            TryMedium::Pxe(PxeLoader::Ipxe) => "pxe-ipxe".into(),
            TryMedium::Pxe(PxeLoader::Uefi) => "pxe-uefi".into(),
        }
    }
}

/// What to boot and how.
pub struct TrySettings {
    /// A recipe (its built ISO or PXE bundle) or the path of an ISO image.
    pub image: String,
    /// Output folder the recipe's image is in [default: the project's].
    pub out: Option<PathBuf>,
    /// Firmware.
    pub firmware: Firmware,
    /// How the image is attached.
    pub medium: TryMedium,
    /// The NIC's MAC address for a network boot [default: one made from the run's folder].
    pub mac: Option<String>,
    /// Boot the menu's copy-to-RAM entry (typed on the serial console), take the medium away
    /// once SSH answers, and check the system still reads its whole root.
    pub to_ram: bool,
    /// KVM or TCG; `None` probes (once per host kernel and QEMU version).
    pub accel: Option<Accel>,
    /// How long to wait for SSH.
    pub timeout: Duration,
    /// Commands to run once SSH answers.
    pub exec: Vec<String>,
    /// Put the seed on the image itself (`liveboot remaster --seed`) and boot with no seed
    /// medium: the path of a BMC with a single virtual-media slot.
    pub embed_seed: bool,
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
    /// Medium: cd, usb, pxe-bios, pxe-ipxe or pxe-uefi.
    pub medium: String,
    /// Accelerator.
    pub accel: Accel,
    /// Seconds from QEMU's start until an SSH command worked.
    pub time_to_ssh_seconds: f64,
    /// Whether the copy-to-RAM entry was booted and the medium taken away after SSH answered.
    pub to_ram: bool,
    /// Where the seed was: `cd` (a second CD), `embedded` (on the image, no seed medium) or
    /// `network` (served by MAC).
    pub seed: &'static str,
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
    let out = s.out.clone().unwrap_or_else(|| project.out());
    let pxe = match s.medium {
        TryMedium::Pxe(l) => Some(l),
        TryMedium::Image(_) => None,
    };
    if let Some(l) = pxe {
        let uefi = s.firmware != Firmware::Bios;
        if uefi != (l == PxeLoader::Uefi) {
            return Err(format!(
                "--pxe {} boots {} firmware\n  help: --pxe bios or --pxe ipxe for BIOS; --pxe uefi (with --secure-boot or --uefi) for UEFI",
                TryMedium::Pxe(l).name().trim_start_matches("pxe-"),
                if uefi { "with BIOS" } else { "with UEFI" }
            ));
        }
    }
    let image = match pxe {
        Some(_) => out.join(&s.image).join("pxe"),
        None if s.image.ends_with(".iso") || s.image.contains('/') => PathBuf::from(&s.image),
        None => project.built_iso(&s.image, Some(&out)),
    };
    let built = if pxe.is_some() { image.join("bundle.json").is_file() } else { image.is_file() };
    if !built {
        return Err(format!("{} does not exist\n  help: build it first: liveboot build {}", image.display(), s.image));
    }
    let name = match pxe {
        Some(_) => s.image.clone(),
        None => image.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string(),
    };
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
    // A network boot finds its seed by MAC: the host name carries the MAC's end, so two boots
    // with two MACs show that each got its own.
    let mac = match &s.mac {
        Some(m) => {
            let m = crate::pxe::normal_mac(m);
            if !liveboot_inventory::is_mac(&m) {
                return Err(format!("--mac '{m}' is not a MAC address\n  help: write six hex bytes: 52:54:00:12:34:56"));
            }
            m
        }
        None => {
            let h = liveboot_digest::sha256(w.display().to_string().as_bytes());
            format!("52:54:00:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2])
        }
    };
    let mut hostname = format!("try-{}", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"));
    if pxe.is_some() {
        hostname = format!("{hostname}-{}", mac[12..].replace(':', ""));
    }
    let renderer = SeedRenderer::new(&project.templates()).map_err(|e| e.to_string())?;
    let facts = NodeFacts {
        name: "try".into(),
        hostname: hostname.clone(),
        fqdn: hostname.clone(),
        ssh_keys: vec![public.trim().to_string()],
        ..Default::default()
    };
    let seed = renderer.render(&facts).map_err(|e| e.to_string())?;

    let mut _server = None;
    let boot = match pxe {
        None if s.embed_seed => {
            let dir = w.join("seed");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for (name, text) in seed.files() {
                std::fs::write(dir.join(name), text).map_err(|e| format!("{}: {e}", dir.join(name).display()))?;
            }
            let embedded = w.join(format!("{name}-seeded.iso"));
            let req = crate::remaster::Request { iso: image.clone(), out: embedded.clone(), seed: Some(dir), ..Default::default() };
            let report = crate::remaster::remaster(&req, &runner)?;
            progress(Event::Note(format!("seed embedded in {} (read from {})", embedded.display(), report.seed_at.unwrap_or_default())));
            TryBoot::Image {
                path: embedded,
                medium: match s.medium {
                    TryMedium::Image(m) => m,
                    TryMedium::Pxe(_) => Medium::Cd,
                },
            }
        }
        None => {
            std::fs::write(w.join("seed.iso"), seed.to_iso()).map_err(|e| e.to_string())?;
            TryBoot::Image {
                path: image.clone(),
                medium: match s.medium {
                    TryMedium::Image(m) => m,
                    TryMedium::Pxe(_) => Medium::Cd,
                },
            }
        }
        Some(loader) => {
            // The bundle laid out as a TFTP + HTTP root; QEMU's user network reaches the host's
            // loopback as 10.0.2.2, where `liveboot serve` listens on a free port.
            let root = w.join("netboot");
            std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
            let server = liveboot_publish::serve(&root, "127.0.0.1:0", Default::default())
                .map_err(|e| format!("cannot serve {} on loopback: {e}", root.display()))?;
            let site = crate::pxe::Site { http_url: format!("http://10.0.2.2:{}", server.addr().port()), dhcp: None };
            let node = crate::pxe::SiteNode { seed, macs: vec![mac.clone()] };
            crate::pxe::lay_out(project, &image, &root, &site, &[node])?;
            progress(Event::Note(format!("serving {} at {} (as seen from the guest)", root.display(), site.http_url)));
            _server = Some(server);
            let bootfile = match loader {
                PxeLoader::Bios => "pxelinux.0",
                PxeLoader::Ipxe => "boot.ipxe",
                PxeLoader::Uefi => "bootx64.efi",
            };
            TryBoot::Network { tftp_root: root, bootfile: bootfile.into(), mac: mac.clone() }
        }
    };

    let accel = match s.accel {
        Some(a) => a,
        None => {
            let kernels: Vec<&str> = project.registry.schemes().iter().map(|s| s.kernel).collect();
            liveboot_qemu::detect_accel_cached(&runner, w, &cache.join("accel"), |dest| match &boot {
                TryBoot::Image { path, .. } => liveboot_qemu::kernel_from_iso(path, &kernels, dest),
                TryBoot::Network { tftp_root, .. } => {
                    std::fs::copy(tftp_root.join("vmlinuz"), dest).map(|_| ()).map_err(|e| format!("{}: {e}", tftp_root.display()))
                }
            })?
        }
    };
    let spec = liveboot_qemu::VmSpec {
        boot: boot.clone(),
        seed: if pxe.is_some() || s.embed_seed { None } else { Some(w.join("seed.iso")) },
        firmware: s.firmware,
        accel,
        memory_mib: 2048,
        work: w.to_path_buf(),
        dhcp_bootfile: None,
    };
    let booted = match &spec.boot {
        TryBoot::Image { path, .. } => path.clone(),
        TryBoot::Network { .. } => image.clone(),
    };
    progress(Event::Note(format!("booting {} ({:?}, {}, {:?})", booted.display(), spec.firmware, s.medium.name(), accel)));
    let mut vm = liveboot_qemu::start(&runner, &spec)?;
    let removable = match (&spec.boot, s.to_ram) {
        (TryBoot::Image { medium, .. }, true) => Some(*medium),
        (TryBoot::Network { .. }, true) => {
            return Err("--to-ram is for a CD or USB boot (a network boot copies the root to RAM anyway)".into())
        }
        (_, false) => None,
    };
    if removable.is_some() {
        // isolinux (BIOS) waits at its `boot:` prompt for a label; GRUB (UEFI) shows its menu,
        // where the copy-to-RAM entry is the second.
        let (shown, keys) = if s.firmware == Firmware::Bios { ("boot:", "toram\r") } else { ("copy to RAM", "\x1b[B\r") };
        vm.type_when(shown, keys, Duration::from_secs(300))
            .map_err(|e| format!("{e}\n  help: --to-ram needs the copy-to-RAM entry of liveboot's menus (not a remastered ISO's)"))?;
        progress(Event::Note(format!("chose the copy-to-RAM entry ({})", keys.escape_debug())));
    }
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
    let mut problems = Vec::new();
    if let Some(medium) = removable {
        vm.remove_medium(medium)?;
        progress(Event::Note("took the live medium away; reading the whole root".into()));
        // Every file of the root read after the medium went: a root still on the medium fails
        // here with I/O errors (squashfs errors in the kernel log).
        let read =
            remote("tar -cf - --one-file-system / 2>/dev/null | wc -c; dmesg | grep -ci -e 'squashfs error' -e 'i/o error' || true", 900);
        match read {
            Ok(o) => {
                let text = o.stdout_text();
                let mut lines = text.lines();
                let bytes: u64 = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
                let errors: u64 = lines.next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
                if bytes < 100 << 20 || errors > 0 {
                    problems.push(format!("after the medium went, the root read {bytes} bytes with {errors} I/O errors in the kernel log"));
                }
            }
            Err(e) => problems.push(format!("after the medium went, reading the root failed: {e}")),
        }
    }
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
        medium: s.medium.name(),
        accel,
        time_to_ssh_seconds: tenths(waited.as_secs_f64()),
        to_ram: removable.is_some(),
        seed: if pxe.is_some() {
            "network"
        } else if s.embed_seed {
            "embedded"
        } else {
            "cd"
        },
        hostname: got_hostname,
        cloud_init,
        commands,
        problems,
    })
}
