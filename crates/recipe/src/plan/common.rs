//! Stages every image shares once a backend has made its kernel, initrd and root image: boot
//! menus, the EFI boot image, the hybrid ISO and the network boot bundle.

use liveboot_yaml::Diagnostic;
use serde_json::json;

use super::{kernel_cmdline, serial_args, sha256_hex, Action, Artifact, Builder, Input, Root};
use crate::{Loader, Output};

/// GRUB modules built into the EFI loader: enough to find the ISO by label and boot Linux from
/// it, with a serial console. The ISO carries no module files, so the menus use only these.
const GRUB_EFI_MODULES: &str =
    "part_gpt part_msdos iso9660 fat search search_label configfile normal linux echo all_video serial terminal test";

/// Host files the ISO stage copies in (BIOS boot).
const ISOLINUX_BIN: &str = "/usr/lib/ISOLINUX/isolinux.bin";
const ISOHDPFX_BIN: &str = "/usr/lib/ISOLINUX/isohdpfx.bin";
const LDLINUX_C32: &str = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

fn tool_inputs(b: &Builder, packages: &[&str]) -> Vec<Input> {
    packages.iter().map(|p| b.tool(p)).collect()
}

pub(crate) fn stages(b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic> {
    let spec = &b.recipe.spec;
    let name = spec.name.clone();
    let iso_name = format!("{name}.iso");
    let cmdline = kernel_cmdline(b.recipe);
    let serial = spec.boot.serial.as_ref().map(|s| {
        let unit: u32 = s.port.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
        json!({ "unit": unit, "speed": s.speed })
    });
    let serial_args = serial_args(b.recipe).join(" ");
    let cmdline_plain = spec.boot.kernel_args.join(" ");
    let mut artifacts = Vec::new();
    let uefi = spec.boot.loaders.contains(&Loader::Uefi);
    let bios = spec.boot.loaders.contains(&Loader::Bios);

    // Every boot menu (the ISO's and the network boot configs) is rendered in one stage, so that
    // a change of kernel arguments reruns only this stage and the ISO.
    let mut menus = Vec::new();
    let mut menu_inputs = Vec::new();
    let assemble = spec.outputs.contains(&Output::Iso) && root.remaster.is_none();
    if assemble {
        let [kernel, initrd, _] = root.iso_paths;
        let vars = json!({
            "title": spec.title, "label": spec.label, "kernel": format!("/{kernel}"), "initrd": format!("/{initrd}"),
            "cmdline": cmdline, "cmdline_plain": cmdline_plain, "serial_args": serial_args,
            "timeout": spec.boot.timeout, "serial": serial,
        });
        for (t, dest) in [("boot/grub.cfg.j2", "grub.cfg"), ("boot/isolinux.cfg.j2", "isolinux.cfg")] {
            menu_inputs.push(b.template(t)?);
            menus.push(Action::Render { template: t.into(), dest: format!("{{self}}/{dest}"), vars: vars.clone() });
        }
    }
    if spec.outputs.contains(&Output::Pxe) {
        let base_url = format!("http://${{next-server}}/liveboot/{name}");
        let vars = json!({
            "title": spec.title, "timeout": spec.boot.timeout, "cmdline": cmdline, "base_url": base_url,
            "http_host": "$net_default_server", "http_path": format!("liveboot/{name}"),
            "netboot_arg": root.netboot_arg.replace("{url}", &base_url), "tftp_root": "/srv/tftp",
        });
        for (t, dest) in [
            ("pxe/boot.ipxe.j2", "boot.ipxe"),
            ("pxe/grub.cfg.j2", "grub.cfg"),
            ("pxe/pxelinux.cfg.j2", "pxelinux.cfg/default"),
            ("pxe/dnsmasq.conf.j2", "dnsmasq.conf"),
        ] {
            menu_inputs.push(b.template(t)?);
            menus.push(Action::Render { template: t.into(), dest: format!("{{self}}/pxe/{dest}"), vars: vars.clone() });
        }
    }
    if !menus.is_empty() {
        b.add(
            "bootmenu",
            "render the boot menus: GRUB and isolinux for the ISO; iPXE, GRUB and pxelinux for the network",
            &[],
            menu_inputs,
            menus,
        );
    }

    if spec.outputs.contains(&Output::Iso) {
        let mut after: Vec<&str> = root.after.clone();
        if assemble {
            let [kernel, initrd, rootimg] = root.iso_paths;
            after.push("bootmenu");
            if uefi {
                let embedded = format!(
                    "search --no-floppy --set=root --label {}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n",
                    spec.label
                );
                // FAT volume id from the label: stable, and different between recipes.
                let volid = &sha256_hex(spec.label.as_bytes())[..8];
                let mut inputs = tool_inputs(b, &["grub-common", "grub-efi-amd64-bin", "dosfstools", "mtools"]);
                inputs.extend(b.epoch());
                let env = b.epoch_env();
                b.add(
                    "efi",
                    "make the El Torito EFI image (FAT with a GRUB EFI loader holding its modules and a config that finds the ISO)",
                    &[],
                    inputs,
                    vec![
                        Action::Write { dest: "{self}/embedded.cfg".into(), content: embedded, mode: None },
                        // grub-mkimage, not grub-mkstandalone: the latter packs its modules in a
                        // tar carrying the current time, so its output differs on every run.
                        Action::Run {
                            argv: [
                                "grub-mkimage",
                                "-O",
                                "x86_64-efi",
                                "-o",
                                "{self}/bootx64.efi",
                                "-p",
                                "/boot/grub",
                                "-c",
                                "{self}/embedded.cfg",
                            ]
                            .into_iter()
                            .chain(GRUB_EFI_MODULES.split(' '))
                            .map(String::from)
                            .collect(),
                            env: env.clone(),
                        },
                        Action::Run {
                            argv: ["mkfs.fat", "-C", "--invariant", "-i", volid, "-n", "EFIBOOT", "{self}/efi.img", "4096"]
                                .map(String::from)
                                .to_vec(),
                            env: env.clone(),
                        },
                        Action::Run {
                            argv: ["mmd", "-i", "{self}/efi.img", "::/EFI", "::/EFI/BOOT"].map(String::from).to_vec(),
                            env: env.clone(),
                        },
                        Action::Run {
                            argv: ["mcopy", "-i", "{self}/efi.img", "{self}/bootx64.efi", "::/EFI/BOOT/BOOTX64.EFI"]
                                .map(String::from)
                                .to_vec(),
                            env,
                        },
                        Action::Remove { paths: vec!["{self}/bootx64.efi".into(), "{self}/embedded.cfg".into()] },
                    ],
                );
                after.push("efi");
            }

            let mut actions = vec![
                Action::Copy { src: root.kernel.clone(), dest: format!("{{self}}/tree/{kernel}"), mode: None },
                Action::Copy { src: root.initrd.clone(), dest: format!("{{self}}/tree/{initrd}"), mode: None },
                Action::Copy { src: root.rootimg.clone(), dest: format!("{{self}}/tree/{rootimg}"), mode: None },
                Action::Copy { src: "{bootmenu}/grub.cfg".into(), dest: "{self}/tree/boot/grub/grub.cfg".into(), mode: None },
            ];
            let mut argv: Vec<String> =
                ["xorriso", "-as", "mkisofs", "-iso-level", "3", "-full-iso9660-filenames", "-joliet", "-joliet-long", "-rational-rock"]
                    .map(String::from)
                    .to_vec();
            argv.extend(["-volid".into(), spec.label.clone(), "-appid".into(), format!("LIVEBOOT {}", spec.title.to_uppercase())]);
            if bios {
                actions.push(Action::Copy { src: ISOLINUX_BIN.into(), dest: "{self}/tree/isolinux/isolinux.bin".into(), mode: None });
                actions.push(Action::Copy { src: LDLINUX_C32.into(), dest: "{self}/tree/isolinux/ldlinux.c32".into(), mode: None });
                actions.push(Action::Copy {
                    src: "{bootmenu}/isolinux.cfg".into(),
                    dest: "{self}/tree/isolinux/isolinux.cfg".into(),
                    mode: None,
                });
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
                    .map(String::from),
                );
            }
            if uefi {
                actions.push(Action::Copy { src: "{efi}/efi.img".into(), dest: "{self}/tree/boot/grub/efi.img".into(), mode: None });
                argv.extend(["-eltorito-alt-boot", "-e", "boot/grub/efi.img", "-no-emul-boot", "-isohybrid-gpt-basdat"].map(String::from));
            }
            let mut inputs = tool_inputs(b, &["xorriso", "isolinux", "syslinux-common"]);
            inputs.extend(b.epoch());
            // The volume date (and so the ISO's UUID) comes from what goes into the image, so
            // that no two images, nor an image and a seed, share a UUID.
            let mut id = String::new();
            for a in &after {
                id.push_str(b.key_of(a));
            }
            for i in &inputs {
                id.push_str(&i.sha256);
            }
            let date = liveboot_iso_date(&sha256_hex(id.as_bytes()));
            argv.extend([format!("--modification-date={date}"), "-output".into(), format!("{{self}}/{iso_name}"), "{self}/tree".into()]);
            actions.push(Action::PinTimes { dir: "{self}/tree".into() });
            actions.push(Action::Run { argv, env: b.epoch_env() });
            actions.push(Action::Remove { paths: vec!["{self}/tree".into()] });
            b.add("iso", "assemble the hybrid ISO (BIOS and UEFI, CD and USB)", &after, inputs, actions);
        } else if let Some(r) = &root.remaster {
            let mut argv: Vec<String> =
                vec!["xorriso".into(), "-indev".into(), r.iso.clone(), "-outdev".into(), format!("{{self}}/{iso_name}")];
            argv.extend(["-volid".into(), spec.label.clone(), "-boot_image".into(), "any".into(), "replay".into()]);
            if let Some(overlay) = &r.overlay {
                argv.extend(["-map".into(), overlay.clone(), "/".into()]);
            }
            let mut inputs = tool_inputs(b, &["xorriso"]);
            inputs.extend(b.epoch());
            b.add(
                "iso",
                "remaster the ISO with its own boot setup (xorriso replay)",
                &after,
                inputs,
                vec![Action::Run { argv, env: b.epoch_env() }],
            );
        }
        artifacts.push(Artifact { name: iso_name.clone(), from: format!("{{iso}}/{iso_name}") });
    }

    if spec.outputs.contains(&Output::Pxe) {
        let root_name = root.iso_paths[2].rsplit('/').next().unwrap_or("root.img");
        b.add(
            "pxe",
            "network boot files: kernel, initrd and root image",
            &root.after,
            Vec::new(),
            vec![
                Action::Link { src: root.kernel.clone(), dest: "{self}/vmlinuz".into() },
                Action::Link { src: root.initrd.clone(), dest: "{self}/initrd.img".into() },
                Action::Link { src: root.rootimg.clone(), dest: format!("{{self}}/{root_name}") },
            ],
        );
        artifacts.push(Artifact { name: "pxe".into(), from: "{pxe}".into() });
        artifacts.push(Artifact { name: "pxe".into(), from: "{bootmenu}/pxe".into() });
    }
    Ok(artifacts)
}

/// `YYYYMMDDhhmmsscc` for xorriso's --modification-date, from a hex hash.
fn liveboot_iso_date(hex: &str) -> String {
    let bytes: Vec<u8> = (0..8).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0)).collect();
    let d = liveboot_iso::VolumeDate::from_hash(&bytes);
    let (y, mo, day, h, mi, s) = d.civil();
    format!("{y:04}{mo:02}{day:02}{h:02}{mi:02}{s:02}{:02}", d.centis)
}
