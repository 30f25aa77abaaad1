//! Booting images in QEMU the way a server boots them: from a virtual CD or a USB stick, with
//! BIOS or UEFI firmware, a NoCloud seed as a second CD, and SSH forwarded to a loopback port.
//!
//! KVM is used only when it really works: on nested hosts /dev/kvm can exist and yet hang or
//! abort guests, so [`detect_accel`] boots the image's own kernel without a root filesystem
//! under KVM and accepts KVM only if the kernel gets as far as its expected panic.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use liveboot_iso::IsoReader;
use liveboot_runner::{Cmd, Retry, RunError, Runner, Running};

/// Firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS.
    Bios,
    /// OVMF.
    Uefi,
    /// OVMF with Secure Boot enforced: Microsoft's keys enrolled (as on servers from the
    /// factory), SMM, fresh variables for every boot.
    #[serde(rename = "uefi-secure-boot")]
    UefiSecureBoot,
}

/// How the image is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Medium {
    /// A CD drive (El Torito).
    Cd,
    /// A USB stick (the ISO's MBR/GPT).
    Usb,
}

/// What the machine boots from.
#[derive(Debug, Clone)]
pub enum Boot {
    /// A live image attached as a CD or USB stick.
    Image {
        /// The image.
        path: PathBuf,
        /// How it is attached.
        medium: Medium,
    },
    /// The network: QEMU's user network answers DHCP and serves `tftp_root` by TFTP, handing out
    /// `bootfile`. Under BIOS the NIC's own iPXE ROM does the PXE boot; under UEFI the NIC has no
    /// ROM and the firmware's own PXE does it (as on a server; shim loaded by iPXE fails).
    Network {
        /// The TFTP root.
        tftp_root: PathBuf,
        /// The file DHCP names.
        bootfile: String,
        /// The NIC's MAC address.
        mac: String,
    },
}

/// QEMU accelerators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl Accel {
    /// Its QEMU name: kvm or tcg.
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_CODE_SECURE: &str = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd";
const OVMF_VARS_SECURE: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// Copies the kernel out of an ISO image: the first file found at one of `kernel_paths` (where
/// the families' live media keep it; the caller knows them).
pub fn kernel_from_iso(iso: &Path, kernel_paths: &[&str], dest: &Path) -> Result<(), String> {
    let f = std::fs::File::open(iso).map_err(|e| format!("cannot open {}: {e}", iso.display()))?;
    let mut r = IsoReader::open(f).map_err(|e| format!("{}: {e}", iso.display()))?;
    let entries = r.entries().map_err(|e| format!("{}: {e}", iso.display()))?;
    let e = entries
        .iter()
        .find(|e| kernel_paths.contains(&e.path.as_str()))
        .ok_or_else(|| format!("{}: no kernel at {}", iso.display(), kernel_paths.join(", ")))?;
    let bytes = r.read(e).map_err(|e| e.to_string())?;
    std::fs::write(dest, bytes).map_err(|e| format!("cannot write {}: {e}", dest.display()))
}

/// Decides between KVM and TCG by booting `kernel` under KVM with no root filesystem: a working
/// KVM reaches the kernel's "VFS: Unable to mount root fs" panic in a second or two.
pub fn detect_accel(runner: &Runner, kernel: &Path, work: &Path) -> Accel {
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
        return Accel::Tcg;
    }
    let log = work.join("kvm-probe.log");
    let cmd = Cmd::new("qemu-system-x86_64")
        .args(["-accel", "kvm", "-machine", "q35", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1"])
        .timeout(Duration::from_secs(20));
    let _ = runner.run(&cmd);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if text.contains("Unable to mount root fs") {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

/// [`detect_accel`], remembered in `cache_file` for this host kernel and QEMU version (the
/// probe costs up to 20 s where KVM hangs). `kernel` writes the kernel to probe with to the path
/// it is given ([`kernel_from_iso`], or a copy of a netboot kernel); it runs only when the cache
/// does not answer.
pub fn detect_accel_cached(
    runner: &Runner,
    work: &Path,
    cache_file: &Path,
    kernel: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Accel, String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let qemu = runner.run(&Cmd::new("qemu-system-x86_64").arg("--version")).map(|o| o.stdout_text()).map_err(|e| e.to_string())?;
    let key = format!("{} {}", host.trim(), qemu.lines().next().unwrap_or_default().trim());
    if let Ok(text) = std::fs::read_to_string(cache_file) {
        if let Some((accel, k)) = text.split_once('\t') {
            if k.trim() == key {
                return Ok(if accel == "kvm" { Accel::Kvm } else { Accel::Tcg });
            }
        }
    }
    let probe = work.join("probe-vmlinuz");
    kernel(&probe)?;
    let accel = detect_accel(runner, &probe, work);
    let _ = std::fs::write(cache_file, format!("{}\t{key}\n", accel.as_str()));
    Ok(accel)
}

/// Why UEFI firmware stopped looking for something to boot, from its console output (OVMF's
/// boot manager says which options it failed to load and why: "Access Denied" when Secure Boot
/// refuses an unsigned loader).
fn firmware_gave_up(console: &str) -> Option<String> {
    if !console.contains("BdsDxe: No bootable option or device was found") {
        return None;
    }
    let failures: Vec<&str> = console
        .split(['\r', '\n'])
        .filter(|l| l.contains("BdsDxe: failed to"))
        .filter_map(|l| {
            l.rsplit_once(": ").map(|(what, why)| if what.contains("EFI Internal Shell") { "" } else { why }).filter(|w| !w.is_empty())
        })
        .collect();
    Some(format!(
        "the firmware found nothing it would boot ({}){}",
        if failures.is_empty() { "no boot option".to_string() } else { failures.join(", ") },
        if failures.iter().any(|f| f.contains("Access Denied") || f.contains("Security Violation")) {
            ": Secure Boot refused the image's loader (is it signed? build with boot.secure_boot: true)"
        } else {
            ""
        }
    ))
}

/// What to boot.
#[derive(Debug, Clone)]
pub struct VmSpec {
    /// What it boots from.
    pub boot: Boot,
    /// The NoCloud seed, attached as a second CD.
    pub seed: Option<PathBuf>,
    /// Firmware.
    pub firmware: Firmware,
    /// Accelerator.
    pub accel: Accel,
    /// Memory in MiB.
    pub memory_mib: u32,
    /// Folder for the serial log, QEMU's log and the UEFI variables.
    pub work: PathBuf,
    /// With an image boot, the boot file QEMU's DHCP names (an iPXE on the medium fetches it:
    /// `http://10.0.2.2:<port>/…` reaches the host's loopback).
    pub dhcp_bootfile: Option<String>,
}

/// A running virtual machine; dropping it kills QEMU.
pub struct Vm {
    qemu: Running,
    /// Host port forwarded to the guest's SSH port, on 127.0.0.1.
    pub ssh_port: u16,
    /// The guest's serial console, as a file.
    pub serial_log: PathBuf,
    /// When QEMU started.
    pub started: Instant,
    /// Sockets of the serial console's input and of QEMU's monitor (a short path: socket paths
    /// are limited to 107 bytes).
    sockets: tempfile::TempDir,
}

/// Starts the machine.
pub fn start(runner: &Runner, spec: &VmSpec) -> Result<Vm, String> {
    std::fs::create_dir_all(&spec.work).map_err(|e| format!("cannot create {}: {e}", spec.work.display()))?;
    let port = liveboot_runner::local::free_port().map_err(|e| format!("no free loopback port: {e}"))?;
    let serial_log = spec.work.join("serial.log");
    let sockets =
        tempfile::Builder::new().prefix("lbvm-").tempdir().map_err(|e| format!("cannot create a folder for QEMU's sockets: {e}"))?;
    // Secure Boot needs SMM, and the variable store writable only from it.
    let machine = if spec.firmware == Firmware::UefiSecureBoot { "q35,smm=on" } else { "q35" };
    let mut cmd = Cmd::new("qemu-system-x86_64")
        .args(["-accel", spec.accel.as_str(), "-machine", machine, "-cpu", "max", "-smp", "2"])
        .arg("-m")
        .arg(spec.memory_mib.to_string())
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        // The serial console: written to the log, and a socket to type into (boot menus).
        .arg("-chardev")
        .arg(format!("socket,id=ser0,path={},server=on,wait=off,logfile={}", sockets.path().join("serial").display(), serial_log.display()))
        .args(["-serial", "chardev:ser0"])
        .arg("-monitor")
        .arg(format!("unix:{},server=on,wait=off", sockets.path().join("monitor").display()))
        .arg("-netdev")
        .arg(match &spec.boot {
            // QEMU's option syntax doubles a comma inside a value.
            Boot::Network { tftp_root, bootfile, .. } => format!(
                "user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22,tftp={},bootfile={}",
                tftp_root.display().to_string().replace(',', ",,"),
                bootfile.replace(',', ",,")
            ),
            Boot::Image { .. } => match &spec.dhcp_bootfile {
                Some(f) => format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22,bootfile={}", f.replace(',', ",,")),
                None => format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22"),
            },
        })
        .arg("-device")
        .arg(match &spec.boot {
            Boot::Network { mac, .. } if spec.firmware == Firmware::Bios => format!("virtio-net-pci,netdev=net0,mac={mac},bootindex=1"),
            Boot::Network { mac, .. } => format!("virtio-net-pci,netdev=net0,mac={mac},romfile=,bootindex=1"),
            Boot::Image { .. } => "virtio-net-pci,netdev=net0".to_string(),
        });
    let firmware = match spec.firmware {
        Firmware::Bios => None,
        Firmware::Uefi => Some((OVMF_CODE, OVMF_VARS)),
        Firmware::UefiSecureBoot => {
            cmd = cmd.args(["-global", "driver=cfi.pflash01,property=secure,value=on"]);
            Some((OVMF_CODE_SECURE, OVMF_VARS_SECURE))
        }
    };
    if let Some((code, template)) = firmware {
        // A fresh copy of the variables for every boot: nothing enrolled or changed by one
        // boot reaches the next.
        let vars = spec.work.join("OVMF_VARS.fd");
        std::fs::copy(template, &vars).map_err(|e| format!("cannot copy {template} (is the ovmf package installed?): {e}"))?;
        cmd = cmd
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,unit=0,readonly=on,file={code}"))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,unit=1,file={}", vars.display()));
    }
    cmd = match &spec.boot {
        Boot::Image { path, medium: Medium::Cd } => cmd
            .arg("-drive")
            .arg(format!("if=none,id=live,media=cdrom,readonly=on,file={}", path.display()))
            .args(["-device", "ide-cd,drive=live,bus=ide.0,bootindex=1"]),
        Boot::Image { path, medium: Medium::Usb } => cmd
            .args(["-device", "qemu-xhci,id=xhci"])
            .arg("-drive")
            .arg(format!("if=none,id=live,format=raw,snapshot=on,file={}", path.display()))
            .args(["-device", "usb-storage,id=livedev,bus=xhci.0,drive=live,removable=on,bootindex=1"]),
        Boot::Network { .. } => cmd,
    };
    if let Some(seed) = &spec.seed {
        cmd = cmd
            .arg("-drive")
            .arg(format!("if=none,id=seed,media=cdrom,readonly=on,file={}", seed.display()))
            .args(["-device", "ide-cd,drive=seed,bus=ide.1"]);
    }
    let qemu = runner.spawn(&cmd, &spec.work.join("qemu.log")).map_err(|e| e.to_string())?;
    Ok(Vm { qemu, ssh_port: port, serial_log, started: Instant::now(), sockets })
}

/// How to reach the guest over SSH.
#[derive(Debug, Clone)]
pub struct Ssh {
    /// Private key file.
    pub key: PathBuf,
    /// User.
    pub user: String,
    /// Port on 127.0.0.1.
    pub port: u16,
}

impl Ssh {
    /// The ssh command for a remote command line.
    pub fn command(&self, remote: &str, timeout: Duration) -> Cmd {
        Cmd::new("ssh")
            .arg("-i")
            .arg(&self.key)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=5",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg(format!("{}@127.0.0.1", self.user))
            .arg(remote)
            .timeout(timeout)
    }
}

impl Vm {
    /// Waits until the serial console has shown `text` (a boot menu), then types `keys` on it.
    pub fn type_when(&mut self, text: &str, keys: &str, timeout: Duration) -> Result<(), String> {
        self.wait_for_console(text, timeout)?;
        let mut s = std::os::unix::net::UnixStream::connect(self.sockets.path().join("serial"))
            .map_err(|e| format!("QEMU's serial socket: {e}"))?;
        // One key at a time, as a person types: loaders read the console byte by byte and some
        // drop what arrives in a burst.
        for b in keys.bytes() {
            std::io::Write::write_all(&mut s, &[b]).map_err(|e| format!("typing on the serial console: {e}"))?;
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Waits until the serial console has shown `text`; returns everything it showed.
    pub fn wait_for_console(&mut self, text: &str, timeout: Duration) -> Result<String, String> {
        let log = self.serial_log.display().to_string();
        liveboot_runner::poll(timeout, Duration::from_millis(100), || {
            if let Some(status) = self.qemu.try_wait() {
                return Err(Retry::Stop(format!("QEMU exited ({status}) before the console showed {text:?}; see {log}")));
            }
            let seen = std::fs::read(&self.serial_log).unwrap_or_default();
            if String::from_utf8_lossy(&seen).contains(text) {
                Ok(())
            } else {
                Err(Retry::Again(String::new()))
            }
        })
        .map_err(|r| match r {
            Retry::Stop(e) => e,
            Retry::Again(_) => format!("the console did not show {text:?} within {} s; see {log}", timeout.as_secs()),
        })?;
        Ok(String::from_utf8_lossy(&std::fs::read(&self.serial_log).unwrap_or_default()).into_owned())
    }

    /// Takes the live medium away, as a BMC's virtual media eject does: the CD is ejected, the
    /// USB stick unplugged.
    pub fn remove_medium(&self, medium: Medium) -> Result<(), String> {
        let said = match medium {
            Medium::Cd => self.monitor("eject -f live")?,
            Medium::Usb => self.monitor("device_del livedev")?,
        };
        if said.contains("rror") {
            return Err(format!("QEMU did not take the medium away: {}", said.trim()));
        }
        Ok(())
    }

    /// Runs a command of QEMU's monitor (`eject -f live`); returns what it printed.
    pub fn monitor(&self, command: &str) -> Result<String, String> {
        use std::io::{Read, Write};
        let mut s =
            std::os::unix::net::UnixStream::connect(self.sockets.path().join("monitor")).map_err(|e| format!("QEMU's monitor: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
        s.write_all(format!("{command}\n").as_bytes()).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(500));
        let mut out = vec![0u8; 65536];
        let n = s.read(&mut out).unwrap_or(0);
        Ok(String::from_utf8_lossy(&out[..n]).into_owned())
    }

    /// Waits until a real SSH command succeeds (QEMU's user network answers TCP connects long
    /// before the guest does). Fails early when QEMU exits.
    pub fn wait_for_ssh(&mut self, runner: &Runner, ssh: &Ssh, timeout: Duration) -> Result<Duration, String> {
        let left = timeout.saturating_sub(self.started.elapsed());
        let log = self.serial_log.display().to_string();
        liveboot_runner::poll(left, Duration::from_secs(2), || {
            if let Some(status) = self.qemu.try_wait() {
                return Err(Retry::Stop(format!("QEMU exited ({status}) before SSH answered; see {log}")));
            }
            if let Some(why) = firmware_gave_up(&std::fs::read_to_string(&self.serial_log).unwrap_or_default()) {
                return Err(Retry::Stop(format!("{why}; see {log}")));
            }
            // A real command with the key: QEMU's user network accepts on the forwarded port
            // before the guest is up, and sshd may answer before cloud-init has put the key.
            match runner.run(&ssh.command("true", Duration::from_secs(20))) {
                Ok(_) => Ok(self.started.elapsed()),
                Err(RunError::Interrupted { command }) => Err(Retry::Stop(format!("interrupted while running {command}"))),
                Err(e) => Err(Retry::Again(e.to_string())),
            }
        })
        .map_err(|r| match r {
            Retry::Stop(e) => e,
            Retry::Again(last) => {
                format!("SSH did not answer within {} s; the guest's console is in {log} (last: {last})", timeout.as_secs())
            }
        })
    }

    /// Asks the guest to power off, then ends QEMU (killing it after `grace`).
    pub fn shutdown(mut self, runner: &Runner, ssh: &Ssh, grace: Duration) {
        let _ = runner.run(&ssh.command("systemctl poweroff", Duration::from_secs(15)));
        if self.qemu.wait_timeout(grace).is_none() {
            self.qemu.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::firmware_gave_up;

    #[test]
    fn a_refused_loader_is_told_in_words() {
        // OVMF's console when Secure Boot refused an unsigned GRUB (seen under TCG here).
        let console = "\x1b[2JBdsDxe: loading Boot0001 \"UEFI QEMU DVD-ROM QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0)\r\nBdsDxe: failed to load Boot0001 \"UEFI QEMU DVD-ROM QM00001 \" from PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x0,0xFFFF,0x0): Access Denied\r\nBdsDxe: loading Boot0002 \"EFI Internal Shell\" from Fv(7CB8)\r\nBdsDxe: failed to start Boot0002 \"EFI Internal Shell\" from Fv(7CB8): Security Violation\r\nBdsDxe: No bootable option or device was found.\r\n";
        let why = firmware_gave_up(console).unwrap();
        assert!(why.starts_with("the firmware found nothing it would boot (Access Denied): Secure Boot refused"), "{why}");
        assert_eq!(firmware_gave_up("BdsDxe: loading Boot0001\r\n"), None);
    }
}
