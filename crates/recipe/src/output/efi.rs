//! The El Torito EFI boot image: a FAT image holding a GRUB EFI loader with its modules built
//! in and a small config that finds the ISO by its label. Used by the ISO output.

use liveboot_yaml::Diagnostic;

use crate::plan::{sha256_hex, Action, Builder, Place};

/// GRUB modules built into the EFI loader: enough to find the ISO by label and boot Linux from
/// it, with a serial console. The ISO carries no module files, so the menus use only these.
const GRUB_EFI_MODULES: &str =
    "part_gpt part_msdos iso9660 fat search search_label configfile normal linux echo all_video serial terminal test";

/// Host packages the EFI image is made with.
pub(crate) const HOST_PACKAGES: &[&str] = &["grub-common", "grub-efi-amd64-bin", "dosfstools", "mtools"];

/// Adds the `efi` stage; returns the image.
pub(crate) fn add(b: &mut Builder) -> Result<Place, Diagnostic> {
    let label = &b.recipe.spec.label;
    let embedded = format!("search --no-floppy --set=root --label {label}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n");
    // FAT volume id from the label: stable, and different between recipes.
    let volid = sha256_hex(label.as_bytes())[..8].to_string();
    let mut inputs: Vec<_> = HOST_PACKAGES.iter().map(|p| b.tool(p)).collect();
    inputs.extend(b.epoch());
    let env = b.epoch_env();
    let mkimage = ["grub-mkimage", "-O", "x86_64-efi", "-o", "{self}/bootx64.efi", "-p", "/boot/grub", "-c", "{self}/embedded.cfg"]
        .into_iter()
        .chain(GRUB_EFI_MODULES.split(' '));
    b.add(
        "efi",
        "make the El Torito EFI image (FAT with a GRUB EFI loader holding its modules and a config that finds the ISO)",
        &["efi.img"],
        inputs,
        vec![
            Action::Write { dest: "{self}/embedded.cfg".into(), content: embedded, mode: None },
            // grub-mkimage, not grub-mkstandalone: the latter packs its modules in a tar carrying
            // the current time, so its output differs on every run.
            Action::run_env(mkimage, env.clone()),
            Action::run_env(["mkfs.fat", "-C", "--invariant", "-i", &volid, "-n", "EFIBOOT", "{self}/efi.img", "4096"], env.clone()),
            Action::run_env(["mmd", "-i", "{self}/efi.img", "::/EFI", "::/EFI/BOOT"], env.clone()),
            Action::run_env(["mcopy", "-i", "{self}/efi.img", "{self}/bootx64.efi", "::/EFI/BOOT/BOOTX64.EFI"], env),
            Action::Remove { paths: vec!["{self}/bootx64.efi".into(), "{self}/embedded.cfg".into()] },
        ],
    )?;
    Ok(Place::stage("efi", "efi.img"))
}
