//! The network boot bundle: everything a TFTP + HTTP root needs that does not depend on the
//! site. Kernel, initrd and root image (hard links); the loaders, copied from the host's
//! packages: pxelinux (BIOS), iPXE (BIOS and UEFI), Debian's signed shim and signed network
//! GRUB (UEFI, Secure Boot); and `bundle.json`, which says how to boot them.
//!
//! The loaders' configs need what only the site knows (the URL the bundle is served at, the
//! nodes' MAC addresses, DHCP), so `liveboot pxe` writes them from `bundle.json` and the
//! `templates/pxe/` templates into a folder that is both the TFTP and the HTTP root.

use liveboot_yaml::Diagnostic;
use serde::{Deserialize, Serialize};

use super::{efi, iso, OutputKind};
use crate::plan::{serial_args, Action, Artifact, Builder, Place, Root, Text};
use crate::{key_path, PxeRoot};

/// The PXE output.
pub struct Pxe;

/// The bundle's description, `pxe/bundle.json`: what `liveboot pxe` needs to write each
/// loader's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The recipe.
    pub recipe: String,
    /// Its title, for the menus.
    pub title: String,
    /// Menu timeout in seconds.
    pub timeout: u32,
    /// Serial console of the loaders and the kernel, if any.
    pub serial: Option<SerialConsole>,
    /// Kernel file (in the bundle).
    pub kernel: String,
    /// Initrd file.
    pub initrd: String,
    /// Root image file, fetched over HTTP by the initrd.
    pub root: String,
    /// The recipe's kernel arguments, without cloud-init's `ds=` (the site adds the seed's).
    pub kernel_args: Vec<String>,
    /// Console arguments (`console=tty0 console=ttyS0,115200n8`).
    pub console_args: Vec<String>,
    /// How the initrd fetches the root, `{url}` standing for the bundle's URL.
    pub netboot_arg: String,
    /// The loaders in the bundle, by role.
    pub loaders: Loaders,
}

/// A serial console: unit (0 = ttyS0) and speed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialConsole {
    /// 0 for ttyS0.
    pub unit: u32,
    /// Baud.
    pub speed: u32,
}

/// The loader files of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loaders {
    /// BIOS PXE: pxelinux (with `ldlinux.c32` beside it).
    pub pxelinux: String,
    /// BIOS PXE: iPXE through the firmware's UNDI driver.
    pub ipxe_bios: String,
    /// UEFI: iPXE (Secure Boot off only: it is not signed).
    pub ipxe_efi: String,
    /// UEFI: the signed shim, which loads `grubx64.efi` (signed network GRUB) from beside it.
    pub uefi: String,
}

/// Host files the bundle copies: (package, path on the host, name in the bundle).
const LOADER_FILES: [(&str, &str, &str); 7] = [
    ("pxelinux", "/usr/lib/PXELINUX/pxelinux.0", "pxelinux.0"),
    ("syslinux-common", "/usr/lib/syslinux/modules/bios/ldlinux.c32", "ldlinux.c32"),
    ("ipxe", "/usr/lib/ipxe/undionly.kpxe", "undionly.kpxe"),
    ("ipxe", "/usr/lib/ipxe/ipxe.efi", "ipxe.efi"),
    ("shim-signed", efi::SHIM, "bootx64.efi"),
    ("shim-helpers-amd64-signed", efi::MOK_MANAGER, "mmx64.efi"),
    // Debian's signed GRUB for the network: its prefix is `/grub` on the TFTP server, where
    // `liveboot pxe` writes `grub/grub.cfg`; shim loads it as `grubx64.efi` from its own folder.
    ("grub-efi-amd64-signed", "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed", "grubx64.efi"),
];

/// What the bundle says of the recipe.
fn describe(b: &Builder, root_name: &str, netboot_arg: &str) -> Bundle {
    let spec = &b.recipe.spec;
    Bundle {
        recipe: spec.name.clone(),
        title: spec.title.clone(),
        timeout: spec.boot.timeout,
        serial: spec.boot.serial.as_ref().map(|s| SerialConsole { unit: s.unit(), speed: s.speed }),
        kernel: "vmlinuz".into(),
        initrd: "initrd.img".into(),
        root: root_name.into(),
        // The medium's own seed argument (`ds=nocloud`, a cidata volume) has no place in a
        // netboot: the site's `ds=nocloud-net;s=<url>` replaces it.
        kernel_args: spec.boot.kernel_args.iter().filter(|a| !a.starts_with("ds=")).cloned().collect(),
        console_args: serial_args(b.recipe),
        netboot_arg: netboot_arg.to_string(),
        loaders: Loaders {
            pxelinux: "pxelinux.0".into(),
            ipxe_bios: "undionly.kpxe".into(),
            ipxe_efi: "ipxe.efi".into(),
            uefi: "bootx64.efi".into(),
        },
    }
}

/// What the bundle serves as the root and the kernel argument that fetches it: the root image
/// (`pxe.root: image`) or the ISO output's whole ISO (`pxe.root: iso`).
fn served_root(b: &Builder, root: &Root) -> Result<(Place, &'static str), Diagnostic> {
    let spec = &b.recipe.spec;
    match spec.pxe.root {
        PxeRoot::Image => Ok((root.image.clone(), root.scheme.netboot_arg)),
        PxeRoot::Iso => {
            let at = &b.recipe.tree.locate(key_path!["pxe", "root"]).span;
            let Some(arg) = root.scheme.netboot_iso_arg else {
                return Err(Diagnostic::at(
                    at,
                    format!("the {} live root cannot boot from a whole ISO fetched over the network", root.scheme.name),
                )
                .with_help("write `pxe: {root: image}` (the root image alone)"));
            };
            let position = |name: &str| spec.outputs.iter().position(|o| o == name);
            if !matches!((position("iso"), position("pxe")), (Some(i), Some(p)) if i < p) {
                return Err(Diagnostic::at(at, "pxe.root: iso serves the ISO output, which this recipe does not build before pxe")
                    .with_help("list it first: `outputs: [iso, pxe]`"));
            }
            Ok((Place::stage("iso", &iso::file_name(spec)), arg))
        }
    }
}

/// The name the root is served under: the one the netboot argument fetches
/// (`fetch={url}/filesystem.squashfs`, `root=live:{url}/squashfs.img`, casper's
/// `url={url}/image.iso` — a whole ISO), so the bundle and the argument cannot disagree.
fn served_root_name(root: &Root, netboot_arg: &'static str) -> &'static str {
    netboot_arg
        .find("{url}/")
        .map(|at| &netboot_arg[at + "{url}/".len()..])
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| root.scheme.root.rsplit('/').next().unwrap_or("root.img"))
}

impl OutputKind for Pxe {
    fn name(&self) -> &'static str {
        "pxe"
    }

    fn host_packages(&self) -> &'static [&'static str] {
        &["pxelinux", "syslinux-common", "ipxe", "shim-signed", "shim-helpers-amd64-signed", "grub-efi-amd64-signed"]
    }

    fn stages(&self, b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic> {
        let (served, netboot_arg) = served_root(b, root)?;
        let root_name = served_root_name(root, netboot_arg);
        let bundle = describe(b, root_name, netboot_arg);
        let own = |p: &str| Text::from(Place::own(p));
        let mut actions = vec![
            Action::Link { src: root.kernel.clone().into(), dest: own(&bundle.kernel) },
            Action::Link { src: root.initrd.clone().into(), dest: own(&bundle.initrd) },
            Action::Link { src: served.into(), dest: own(root_name) },
        ];
        for (_, host, name) in LOADER_FILES {
            actions.push(Action::Copy { src: host.into(), dest: own(name), mode: Some("0644".into()) });
        }
        let json = serde_json::to_string_pretty(&bundle).expect("a bundle serializes") + "\n";
        actions.push(Action::Write { dest: own("bundle.json"), content: json, mode: None });
        let mut inputs: Vec<_> = self.host_packages().iter().map(|p| b.tool(p)).collect();
        inputs.push(b.part("bundle", &bundle));
        let mut outputs = vec![bundle.kernel.as_str(), bundle.initrd.as_str(), root_name, "bundle.json"];
        outputs.extend(LOADER_FILES.iter().map(|(_, _, name)| *name));
        b.add(
            "pxe",
            "network boot bundle: kernel, initrd, root image, pxelinux, iPXE, signed shim and network GRUB, bundle.json",
            &outputs,
            inputs,
            actions,
        )?;
        Ok(vec![b.artifact("pxe", Place::stage("pxe", ""))?])
    }
}
