//! The hybrid live ISO: assembled (BIOS by isolinux, UEFI by the EFI image, CD and USB stick)
//! from the family's kernel, initrd and root image, or remastered from the family's own ISO
//! with its boot setup kept (xorriso replay).

use liveboot_yaml::Diagnostic;
use serde_json::json;

use super::{efi, Menu, OutputKind, BOOTMENU};
use crate::plan::{kernel_cmdline, serial_args, sha256_hex, Action, Artifact, Builder, Place, Remaster, Root, Text};
use crate::{Loader, Recipe};

/// Host files the ISO stage copies in (BIOS boot).
const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX_BIN: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
const LDLINUX_C32: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

/// The ISO output.
pub struct Iso;

impl OutputKind for Iso {
    fn name(&self) -> &'static str {
        "iso"
    }

    fn host_packages(&self) -> &'static [&'static str] {
        // The ISO's own, then the EFI image's (efi.rs).
        &[
            "xorriso",
            "isolinux",
            "syslinux-common",
            "grub-common",
            "grub-efi-amd64-bin",
            "dosfstools",
            "mtools",
            "shim-signed",
            "shim-helpers-amd64-signed",
            "grub-efi-amd64-signed",
        ]
    }

    fn menus(&self, recipe: &Recipe, root: &Root) -> Vec<Menu> {
        if root.remaster.is_some() {
            return Vec::new();
        }
        let spec = &recipe.spec;
        let serial = spec.boot.serial.as_ref().map(|s| {
            let unit: u32 = s.port.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
            json!({ "unit": unit, "speed": s.speed })
        });
        let vars = json!({
            "title": spec.title, "label": spec.label,
            "kernel": format!("/{}", root.scheme.kernel), "initrd": format!("/{}", root.scheme.initrd),
            "cmdline": kernel_cmdline(recipe), "cmdline_plain": spec.boot.kernel_args.join(" "),
            "serial_args": serial_args(recipe).join(" "),
            "timeout": spec.boot.timeout, "serial": serial,
        });
        [("boot/grub.cfg.j2", "grub.cfg"), ("boot/isolinux.cfg.j2", "isolinux.cfg")]
            .into_iter()
            .map(|(template, dest)| Menu { template, dest: dest.into(), vars: vars.clone() })
            .collect()
    }

    fn stages(&self, b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic> {
        let iso_name = format!("{}.iso", b.recipe.spec.name);
        match &root.remaster {
            None => assemble(b, root, &iso_name)?,
            Some(r) => remaster(b, r, &iso_name)?,
        }
        Ok(vec![b.artifact(&iso_name, Place::stage("iso", &iso_name))?])
    }
}

fn assemble(b: &mut Builder, root: &Root, iso_name: &str) -> Result<(), Diagnostic> {
    let spec = &b.recipe.spec;
    let (uefi, bios) = (spec.boot.loaders.contains(&Loader::Uefi), spec.boot.loaders.contains(&Loader::Bios));
    let (label, title, secure) = (spec.label.clone(), spec.title.clone(), spec.boot.secure_boot);
    let s = root.scheme;
    let efi_image = if uefi { Some(efi::add(b)?) } else { None };

    let tree = |p: &str| Text::from(format!("{{self}}/tree/{p}"));
    let mut actions = vec![
        Action::Copy { src: root.kernel.clone().into(), dest: tree(s.kernel), mode: None },
        Action::Copy { src: root.initrd.clone().into(), dest: tree(s.initrd), mode: None },
        Action::Copy { src: root.image.clone().into(), dest: tree(s.root), mode: None },
        Action::Copy { src: Place::stage(BOOTMENU, "grub.cfg").into(), dest: tree("boot/grub/grub.cfg"), mode: None },
    ];
    let mut argv: Vec<Text> =
        ["xorriso", "-as", "mkisofs", "-iso-level", "3", "-full-iso9660-filenames", "-joliet", "-joliet-long", "-rational-rock"]
            .map(Text::from)
            .to_vec();
    argv.extend(["-volid".into(), Text::lit(label), "-appid".into(), Text::lit(format!("LIVEBOOT {}", title.to_uppercase()))]);
    if bios {
        actions.push(Action::Copy { src: ISOLINUX_BIN.into(), dest: tree("isolinux/isolinux.bin"), mode: None });
        actions.push(Action::Copy { src: LDLINUX_C32.into(), dest: tree("isolinux/ldlinux.c32"), mode: None });
        actions.push(Action::Copy { src: Place::stage(BOOTMENU, "isolinux.cfg").into(), dest: tree("isolinux/isolinux.cfg"), mode: None });
        argv.extend(
            [
                "-isohybrid-mbr",
                ISOHDPFX_BIN,
                "-eltorito-boot",
                "isolinux/isolinux.bin",
                "-eltorito-catalog",
                "isolinux/boot.cat",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
            ]
            .map(Text::from),
        );
    }
    if let Some(img) = efi_image {
        actions.push(Action::Copy { src: img.into(), dest: tree("boot/grub/efi.img"), mode: None });
        if secure {
            // Where signed GRUB looks for the medium when its prefix leads nowhere (live-build
            // and Debian's installer media have it too).
            actions.push(Action::Write { dest: tree(".disk/info"), content: format!("{title}\n"), mode: Some("0644".into()) });
        }
        argv.extend(["-eltorito-alt-boot", "-e", "boot/grub/efi.img", "-no-emul-boot", "-isohybrid-gpt-basdat"].map(Text::from));
    }
    let mut inputs: Vec<_> = ["xorriso", "isolinux", "syslinux-common"].iter().map(|p| b.tool(p)).collect();
    inputs.extend(b.epoch());
    // The volume date (and so the ISO's UUID) comes from what goes into the image, so that no
    // two images, nor an image and a seed, share a UUID.
    let mut id = String::new();
    for a in b.stages_referred(&actions) {
        id.push_str(b.key_of(&a));
    }
    for i in &inputs {
        id.push_str(&i.sha256);
    }
    let date = iso_date(&sha256_hex(id.as_bytes()));
    argv.extend([
        Text::lit(format!("--modification-date={date}")),
        "-output".into(),
        Text::from(Place::own(iso_name)),
        "{self}/tree".into(),
    ]);
    actions.push(Action::PinTimes { dir: "{self}/tree".into() });
    actions.push(Action::run_env(argv, b.epoch_env()));
    actions.push(Action::Remove { paths: vec!["{self}/tree".into()] });
    b.add("iso", "assemble the hybrid ISO (BIOS and UEFI, CD and USB)", &[iso_name], inputs, actions)
}

fn remaster(b: &mut Builder, r: &Remaster, iso_name: &str) -> Result<(), Diagnostic> {
    let mut argv: Vec<Text> = vec!["xorriso".into(), "-indev".into(), r.iso.clone().into(), "-outdev".into(), Place::own(iso_name).into()];
    argv.extend(["-volid".into(), Text::lit(b.recipe.spec.label.clone()), "-boot_image".into(), "any".into(), "replay".into()]);
    if let Some(overlay) = &r.overlay {
        argv.extend(["-map".into(), overlay.clone().into(), "/".into()]);
    }
    let mut inputs = vec![b.tool("xorriso")];
    inputs.extend(b.epoch());
    let env = b.epoch_env();
    b.add("iso", "remaster the ISO with its own boot setup (xorriso replay)", &[iso_name], inputs, vec![Action::Run { argv, env }])
}

/// `YYYYMMDDhhmmsscc` for xorriso's --modification-date, from a hex hash.
fn iso_date(hex: &str) -> String {
    let bytes: Vec<u8> = (0..8).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0)).collect();
    let d = liveboot_iso::VolumeDate::from_hash(&bytes);
    let (y, mo, day, h, mi, s) = d.civil();
    format!("{y:04}{mo:02}{day:02}{h:02}{mi:02}{s:02}{:02}", d.centis)
}
