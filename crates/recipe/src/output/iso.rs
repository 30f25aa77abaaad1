//! The hybrid live ISO: assembled (BIOS by isolinux, UEFI by the EFI image, CD and USB stick)
//! from the family's kernel, initrd and root image, or remastered from the family's own ISO
//! with its boot setup kept (xorriso replay).

use liveboot_yaml::Diagnostic;
use serde_json::json;

use super::{efi, Menu, OutputKind, BOOTMENU};
use liveboot_iso::VolumeDate;

use crate::plan::{kernel_cmdline, serial_args, Action, Artifact, Builder, Place, Remaster, Root, Text};
use crate::{Loader, RecipeSpec};

/// Host files the ISO stage copies in (BIOS boot).
const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX_BIN: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
const LDLINUX_C32: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

/// The ISO output.
pub struct Iso;

/// The menus of an assembled ISO: GRUB (UEFI) and isolinux (BIOS).
const MENUS: [(&str, &str); 2] = [("boot/grub.cfg.j2", "grub.cfg"), ("boot/isolinux.cfg.j2", "isolinux.cfg")];

/// The ISO's volume date, and so its UUID (`YYYY-MM-DD-hh-mm-ss-cc`), which no two images, nor
/// an image and a seed, should share. It comes from everything the ISO is made of but the
/// rendered menus, which may name the UUID (dracut's `root=live:UUID=`): the keys of the
/// family's stages it copies, the recipe's label, title and boot settings, the menu templates,
/// the host tools and SOURCE_DATE_EPOCH.
fn volume_date(b: &Builder, root: &Root) -> Result<VolumeDate, Diagnostic> {
    let spec = &b.recipe.spec;
    let mut id = String::new();
    for s in b.stages_of(&[&root.kernel, &root.initrd, &root.image]) {
        id.push_str(b.key_of(&s));
    }
    for part in [b.part("label", &spec.label), b.part("title", &spec.title), b.part("boot", &spec.boot)] {
        id.push_str(&part.sha256);
    }
    for (template, _) in MENUS {
        id.push_str(&b.template(template)?.sha256);
    }
    for p in Iso.host_packages() {
        id.push_str(&b.tool(p).sha256);
    }
    id.extend(b.epoch().map(|e| e.sha256));
    let hash = liveboot_digest::sha256(id.as_bytes());
    Ok(VolumeDate::from_hash(&hash[..8]))
}

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

    fn menus(&self, b: &Builder, root: &Root) -> Result<Vec<Menu>, Diagnostic> {
        if root.remaster.is_some() {
            return Ok(Vec::new());
        }
        let recipe = b.recipe;
        let spec = &recipe.spec;
        let serial = spec.boot.serial.as_ref().map(|s| json!({ "unit": s.unit(), "speed": s.speed }));
        // The argument that names this very medium (dracut's root=live:UUID=…) comes first.
        let medium: Vec<String> = match root.scheme.medium_arg {
            Some(arg) => vec![arg.replace("{uuid}", &volume_date(b, root)?.uuid())],
            None => Vec::new(),
        };
        let with_medium = |args: String| medium.iter().cloned().chain(Some(args).filter(|a| !a.is_empty())).collect::<Vec<_>>().join(" ");
        let vars = json!({
            "title": spec.title, "label": spec.label,
            "kernel": format!("/{}", root.scheme.kernel), "initrd": format!("/{}", root.scheme.initrd),
            "cmdline": with_medium(kernel_cmdline(recipe)), "cmdline_plain": with_medium(spec.boot.kernel_args.join(" ")),
            "to_ram_arg": root.scheme.to_ram_arg,
            "serial_args": serial_args(recipe).join(" "),
            "timeout": spec.boot.timeout, "serial": serial,
        });
        Ok(MENUS.into_iter().map(|(template, dest)| Menu { template, dest: dest.into(), vars: vars.clone() }).collect())
    }

    fn stages(&self, b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic> {
        let iso_name = file_name(&b.recipe.spec);
        match &root.remaster {
            None => assemble(b, root, &iso_name)?,
            Some(r) => remaster(b, r, &iso_name)?,
        }
        Ok(vec![b.artifact(&iso_name, Place::stage("iso", &iso_name))?])
    }
}

/// The ISO's file name (in the `iso` stage and the published build).
pub(crate) fn file_name(spec: &RecipeSpec) -> String {
    format!("{}.iso", spec.name)
}

fn assemble(b: &mut Builder, root: &Root, iso_name: &str) -> Result<(), Diagnostic> {
    let spec = &b.recipe.spec;
    let (uefi, bios) = (spec.boot.loaders.contains(&Loader::Uefi), spec.boot.loaders.contains(&Loader::Bios));
    let (label, title, secure) = (spec.label.clone(), spec.title.clone(), spec.boot.secure_boot);
    let s = root.scheme;
    let efi_image = if uefi { Some(efi::add(b, root)?) } else { None };

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
    let date = xorriso_date(&volume_date(b, root)?);
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
    let action = Action::Remaster {
        iso: r.iso.clone().into(),
        out: Place::own(iso_name).into(),
        volid: Some(b.recipe.spec.label.clone()),
        files: r.files.iter().map(|(place, path)| (place.clone().into(), path.clone())).collect(),
    };
    let mut inputs = vec![b.tool("xorriso")];
    inputs.extend(b.epoch());
    b.add("iso", "remaster the ISO with its own boot setup (xorriso replay)", &[iso_name], inputs, vec![action])
}

/// `YYYYMMDDhhmmsscc` for xorriso's --modification-date.
fn xorriso_date(d: &VolumeDate) -> String {
    let (y, mo, day, h, mi, s) = d.civil();
    format!("{y:04}{mo:02}{day:02}{h:02}{mi:02}{s:02}{:02}", d.centis)
}
