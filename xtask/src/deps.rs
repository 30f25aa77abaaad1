//! Host packages. Everything the project runs that is not a Rust crate comes from Debian 12's
//! archive, installed here so that a fresh machine needs nothing but the Rust toolchain.

use std::process::Command;

use anyhow::{bail, Result};

/// Debian packages and why each is needed.
pub const PACKAGES: &[(&str, &str)] = &[
    ("xorriso", "writes the live ISOs; reads ISOs back in tests"),
    ("genisoimage", "isoinfo, a second independent ISO reader for the seed tests"),
    ("cloud-image-utils", "cloud-localds, the peer tool of the seed benchmark"),
    ("cloud-init", "cloud-init's own schema check of every rendered user-data"),
    ("dosfstools", "mkfs.fat for the EFI boot image; fsck.fat checks vfat seeds"),
    ("mtools", "fills the EFI boot image; reads vfat seeds back in tests"),
    ("mmdebstrap", "bootstraps Debian root filesystems"),
    ("squashfs-tools", "mksquashfs/unsquashfs for the live root filesystem"),
    ("isolinux", "BIOS boot loader of the live ISOs (isolinux.bin, isohdpfx.bin)"),
    ("syslinux-common", "isolinux's modules (ldlinux.c32)"),
    ("grub-efi-amd64-bin", "GRUB EFI modules for the ISO's EFI boot image"),
    ("grub-common", "grub-mkimage (the unsigned EFI loader)"),
    ("shim-signed", "the signed first-stage UEFI loader of Secure Boot images (its postinst acts only on EFI hosts)"),
    ("shim-helpers-amd64-signed", "MokManager, signed, beside shim"),
    ("grub-efi-amd64-signed", "GRUB signed by Debian for CDs and network boot, loaded by shim"),
    ("pxelinux", "the BIOS PXE loader of the network bundle (pxelinux.0)"),
    ("ipxe", "iPXE loaders of the network bundle (undionly.kpxe, ipxe.efi)"),
    ("iproute2", "network namespace, bridge and tap of the network boot test"),
    ("dnsmasq-base", "DHCP and TFTP of the network boot test (the generated config, in a network namespace)"),
    ("qemu-system-x86", "boots the images in `liveboot try` and the end-to-end tests"),
    ("ovmf", "UEFI firmware for QEMU"),
    ("qemu-block-extra", "qemu-img's http driver: the client that insists on Range, in the publisher's test"),
    ("openssh-client", "ssh and ssh-keygen for `liveboot try`"),
    ("ipmitool", "the IPMI client liveboot drives for IPMI BMCs"),
    ("openipmi", "ipmi_sim, the IPMI BMC simulator the IPMI tests talk to"),
    ("nginx-light", "the peer web server of `cargo xtask bench serve`"),
    ("iputils-ping", "ping, for `liveboot status`"),
    ("libvirt-daemon", "libvirtd for the virtual server of the whole-loop test (run in a private mount namespace)"),
    ("libvirt-daemon-driver-qemu", "libvirt's QEMU driver"),
    ("libvirt-clients", "virsh, to set up the virtual server"),
    ("python3-libvirt", "libvirt bindings for sushy-emulator's libvirt driver (the venv sees Debian's packages)"),
    ("python3-venv", "the venv of the Python test tools"),
    ("curl", "reads published URLs back in the end-to-end tests"),
    ("dnf", "installs the packages of Fedora and Rocky roots (dnf --installroot)"),
    ("rpm", "rpm, and rpmbuild for the kickstart test's RPM repository"),
    ("createrepo-c", "the kickstart and KIWI tests' RPM repositories (repodata, comps groups)"),
    ("zypper", "installs the packages of SUSE roots from KIWI descriptions (zypper --root)"),
    ("grub-rescue-pc", "grub-rescue-cdrom.iso, a third-party ISO (GRUB El Torito) the remaster tests rewrite"),
    ("gpgv", "checks the signature of an upstream ISO's SHA256SUMS"),
    ("gpg", "signs the SHA256SUMS of the remaster tests' local release"),
];

/// libvirt's QEMU driver refuses to start without its user, which Debian creates only in
/// libvirt-daemon-system (that package would also start the host's own libvirtd).
fn libvirt_user() -> Result<()> {
    let exists = Command::new("getent").args(["passwd", "libvirt-qemu"]).output().map(|o| o.status.success()).unwrap_or(false);
    if exists {
        return Ok(());
    }
    eprintln!("xtask deps: creating the system user libvirt-qemu");
    let ok = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/var/lib/libvirt",
            "--shell",
            "/usr/sbin/nologin",
            "libvirt-qemu",
        ])
        .status()?
        .success();
    if !ok {
        bail!("useradd libvirt-qemu failed (needs root)");
    }
    Ok(())
}

/// The Python virtual environment holding the test tools of requirements-test.txt.
pub fn venv() -> std::path::PathBuf {
    crate::root().join(".cache/venv")
}

/// Creates the venv and installs the pinned test tools, unless the same pins are in place.
pub fn python_tools() -> Result<()> {
    let reqs = crate::root().join("xtask/requirements-test.txt");
    let wanted = std::fs::read_to_string(&reqs)?;
    let stamp = venv().join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && venv().join("bin/sushy-emulator").exists() {
        return Ok(());
    }
    eprintln!("xtask deps: installing the Python test tools into {}", venv().display());
    // Debian's Python, with its packages visible: sushy-emulator's libvirt driver imports
    // python3-libvirt, a C extension built for it. The pinned tools inside the venv win.
    let ok = Command::new("/usr/bin/python3").args(["-m", "venv", "--clear", "--system-site-packages"]).arg(venv()).status()?.success();
    if !ok {
        bail!("/usr/bin/python3 -m venv {} failed (Debian's python3-venv is needed)", venv().display());
    }
    let ok =
        Command::new(venv().join("bin/pip")).args(["install", "-q", "--disable-pip-version-check", "-r"]).arg(&reqs).status()?.success();
    if !ok {
        bail!("pip install -r {} failed", reqs.display());
    }
    std::fs::write(stamp, wanted)?;
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn candidate(pkg: &str) -> Option<String> {
    let out = Command::new("apt-cache").args(["policy", pkg]).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: ").map(str::to_string))
        .filter(|v| v != "(none)")
}

/// Installs what is missing; does nothing (quickly) when all is there.
pub fn install() -> Result<()> {
    apt_packages(PACKAGES)?;
    libvirt_user()?;
    python_tools()
}

/// Installs the Debian packages of `list` that are missing.
pub fn apt_packages(list: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = list.iter().map(|(p, _)| *p).filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask deps: installing {}", missing.join(" "));
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let apt = |args: &[String]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = cmd.status()?;
        if !status.success() {
            bail!("apt-get {} failed ({status}); install these Debian packages by hand: {}", args.join(" "), missing.join(" "));
        }
        Ok(())
    };
    apt(&["update".into(), "-q".into()])?;
    let mut args: Vec<String> = ["install", "-y", "-q", "--no-install-recommends"].map(String::from).to_vec();
    args.extend(missing.iter().map(|p| p.to_string()));
    if missing.iter().any(|p| p.starts_with("qemu-")) {
        // The machine image may carry a newer qemu-utils (from backports) than Debian 12's
        // qemu-system-x86 accepts: take QEMU's packages all at qemu-system-x86's own version.
        if let Some(v) = candidate("qemu-system-x86") {
            args.retain(|a| !a.starts_with("qemu-"));
            args.extend(["qemu-system-x86", "qemu-utils", "qemu-block-extra"].map(|p| format!("{p}={v}")));
            args.push("--allow-downgrades".into());
        }
    }
    apt(&args)
}
