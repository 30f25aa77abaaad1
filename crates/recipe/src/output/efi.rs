//! The El Torito EFI boot image: a FAT image (also the ESP of the USB stick's GPT) holding the
//! UEFI loader.
//!
//! Secure Boot (the default): the distribution's signed shim as `EFI/BOOT/BOOTX64.EFI`, its
//! signed CD GRUB beside it as `grubx64.efi` (where shim looks), MokManager, and a
//! `boot/grub/grub.cfg` inside the image for the signed GRUB, whose built-in prefix is
//! `/boot/grub`: it finds the ISO by its label and reads the ISO's own menu. Signed GRUB loads
//! no modules from disk, so the menus use only what it has built in.
//!
//! Without Secure Boot: a GRUB EFI loader made by grub-mkimage with the modules it needs and a
//! config that finds the ISO, unsigned.

use liveboot_yaml::Diagnostic;

use crate::plan::{sha256_hex, Action, Builder, Place, Root, Text};

/// GRUB modules built into the unsigned EFI loader: enough to find the ISO by label and boot
/// Linux from it, with a serial console. The ISO carries no module files, so the menus use only
/// these.
const GRUB_EFI_MODULES: &str =
    "part_gpt part_msdos iso9660 fat search search_label configfile normal linux echo all_video serial terminal test";

/// Debian's signed loaders (packages `shim-signed`, `shim-helpers-amd64-signed`,
/// `grub-efi-amd64-signed`): the first-stage shim, MokManager, and GRUB built for CDs
/// (its prefix is `/boot/grub` on the device it was loaded from).
pub(crate) const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
pub(crate) const MOK_MANAGER: &str = "/usr/lib/shim/mmx64.efi.signed";
const GRUB_CD_SIGNED: &str = "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed";

/// Adds the `efi` stage; returns the image. Secure Boot images take the root's own signed
/// loaders when the family gives them (a Fedora kernel is trusted by Fedora's shim, not
/// Debian's), else the build host's.
pub(crate) fn add(b: &mut Builder, root: &Root) -> Result<Place, Diagnostic> {
    let spec = &b.recipe.spec;
    let label = &spec.label;
    let find_iso = format!("search --no-floppy --set=root --label {label}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n");
    // FAT volume id from the label: stable, and different between recipes.
    let volid = sha256_hex(label.as_bytes())[..8].to_string();
    let secure = spec.boot.secure_boot;
    let tools: &[&str] = if secure && root.loaders.is_some() {
        &["dosfstools", "mtools"]
    } else if secure {
        &["dosfstools", "mtools", "shim-signed", "shim-helpers-amd64-signed", "grub-efi-amd64-signed"]
    } else {
        &["grub-common", "grub-efi-amd64-bin", "dosfstools", "mtools"]
    };
    let mut inputs: Vec<_> = tools.iter().map(|p| b.tool(p)).collect();
    inputs.extend(b.epoch());
    let env = b.epoch_env();
    let size_kib = if secure { "8192" } else { "4096" };
    let mut actions = vec![Action::Write { dest: "{self}/embedded.cfg".into(), content: find_iso, mode: None }];
    let mcopy = |src: Text, dest: &str| {
        Action::run_env([Text::from("mcopy"), "-i".into(), "{self}/efi.img".into(), src, Text::lit(format!("::/{dest}"))], env.clone())
    };
    let mut copies = Vec::new();
    let dirs: &[&str] = if let (true, Some(l)) = (secure, &root.loaders) {
        copies.push(mcopy(l.shim.clone().into(), "EFI/BOOT/BOOTX64.EFI"));
        copies.push(mcopy(l.grub.clone().into(), "EFI/BOOT/grubx64.efi"));
        copies.push(mcopy(l.mok_manager.clone().into(), "EFI/BOOT/mmx64.efi"));
        // Where Debian's CD GRUB looks (prefix /boot/grub) and where Fedora's and RHEL's look
        // (prefix /EFI/BOOT): the same config that finds the ISO and reads its menu.
        copies.push(mcopy("{self}/embedded.cfg".into(), "boot/grub/grub.cfg"));
        copies.push(mcopy("{self}/embedded.cfg".into(), "EFI/BOOT/grub.cfg"));
        &["::/EFI", "::/EFI/BOOT", "::/boot", "::/boot/grub"]
    } else if secure {
        copies.push(mcopy(Text::lit(SHIM), "EFI/BOOT/BOOTX64.EFI"));
        copies.push(mcopy(Text::lit(GRUB_CD_SIGNED), "EFI/BOOT/grubx64.efi"));
        copies.push(mcopy(Text::lit(MOK_MANAGER), "EFI/BOOT/mmx64.efi"));
        copies.push(mcopy("{self}/embedded.cfg".into(), "boot/grub/grub.cfg"));
        &["::/EFI", "::/EFI/BOOT", "::/boot", "::/boot/grub"]
    } else {
        // grub-mkimage, not grub-mkstandalone: the latter packs its modules in a tar carrying
        // the current time, so its output differs on every run.
        let mkimage = ["grub-mkimage", "-O", "x86_64-efi", "-o", "{self}/bootx64.efi", "-p", "/boot/grub", "-c", "{self}/embedded.cfg"]
            .into_iter()
            .chain(GRUB_EFI_MODULES.split(' '));
        actions.push(Action::run_env(mkimage, env.clone()));
        copies.push(mcopy("{self}/bootx64.efi".into(), "EFI/BOOT/BOOTX64.EFI"));
        &["::/EFI", "::/EFI/BOOT"]
    };
    actions
        .push(Action::run_env(["mkfs.fat", "-C", "--invariant", "-i", &volid, "-n", "EFIBOOT", "{self}/efi.img", size_kib], env.clone()));
    actions.push(Action::run_env(["mmd", "-i", "{self}/efi.img"].into_iter().chain(dirs.iter().copied()), env.clone()));
    actions.extend(copies);
    actions.push(Action::Remove { paths: vec!["{self}/bootx64.efi".into(), "{self}/embedded.cfg".into()] });
    let summary = if secure {
        "make the El Torito EFI image (FAT with the signed shim and GRUB, and a config that finds the ISO)"
    } else {
        "make the El Torito EFI image (FAT with a GRUB EFI loader holding its modules and a config that finds the ISO)"
    };
    b.add("efi", summary, &["efi.img"], inputs, actions)?;
    Ok(Place::stage("efi", "efi.img"))
}
