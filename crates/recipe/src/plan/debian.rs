//! Debian (and Ubuntu built from packages): mmdebstrap, then customisation, then squashfs.

use liveboot_yaml::Diagnostic;

use super::{Action, Builder, Root};
use crate::Bootstrap;

/// Files every Debian live root gets. live-boot images boot without a datasource only if sshd can
/// start, so it makes its own host keys when they are missing; cloud-init finds the NoCloud seed.
const SSH_HOST_KEYS_DROPIN: &str =
    "[Service]\n# Host keys are removed from the image so that each boot has its own.\nExecStartPre=/usr/bin/ssh-keygen -A\n";

pub(crate) fn stages(b: &mut Builder, bs: &Bootstrap) -> Result<Root, Diagnostic> {
    let spec = &b.recipe.spec;
    let info = crate::release_info(spec.distro.family, &spec.distro.release).expect("validated");
    let suite = bs.suite.clone().unwrap_or_else(|| info.codename.to_string());

    let mut inputs = vec![
        b.part("source", &spec.source),
        b.part("packages", &spec.packages),
        b.part("distro", &spec.distro),
        b.part("arch", &spec.arch),
        b.tool("mmdebstrap"),
    ];
    inputs.extend(b.epoch());
    let mut argv = vec![
        "mmdebstrap".to_string(),
        // unshare: as root, correct ownership and a private mount namespace, so that a killed
        // build leaves no /proc or /sys mounted behind.
        "--mode=unshare".into(),
        format!("--variant={}", bs.variant),
        "--architectures=amd64".into(),
        format!("--components={}", bs.components.join(",")),
    ];
    if !spec.packages.is_empty() {
        argv.push(format!("--include={}", spec.packages.join(",")));
    }
    // Downloaded packages are kept in {cache}/apt between builds.
    argv.extend([
        "--skip=essential/unlink".to_string(),
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/".into(),
        "--setup-hook=sync-in {cache}/apt /var/cache/apt/archives/".into(),
        "--customize-hook=sync-out /var/cache/apt/archives {cache}/apt".into(),
        suite,
        "{self}/rootfs".into(),
        bs.mirror.clone(),
    ]);
    b.add(
        "rootfs",
        "bootstrap the root filesystem with mmdebstrap",
        &[],
        inputs,
        vec![Action::MakeDir { path: "{cache}/apt".into() }, Action::Run { argv, env: b.epoch_env() }],
    );

    let mut inputs = vec![b.part("cloud_init", &spec.cloud_init)];
    let mut actions = vec![Action::LinkTree { src: "{rootfs}/rootfs".into(), dest: "{self}/rootfs".into() }];
    for (i, o) in spec.overlay.iter().enumerate() {
        let src = b.source_path(&["overlay".into(), i.into(), "src".into()], &o.src);
        inputs.push(b.file(&src)?);
        actions.push(Action::Copy { src: src.display().to_string(), dest: format!("{{self}}/rootfs{}", o.dest), mode: o.mode.clone() });
    }
    let cfg = spec.cloud_init.image_config();
    actions.extend([
        Action::Write { dest: "{self}/rootfs/etc/cloud/cloud.cfg.d/90_liveboot.cfg".into(), content: cfg, mode: Some("0644".into()) },
        Action::Write { dest: "{self}/rootfs/etc/hostname".into(), content: "localhost\n".into(), mode: Some("0644".into()) },
        Action::Write { dest: "{self}/rootfs/etc/machine-id".into(), content: String::new(), mode: Some("0444".into()) },
        Action::Remove { paths: vec!["{self}/rootfs/etc/ssh/ssh_host_*".into(), "{self}/rootfs/var/lib/dbus/machine-id".into()] },
        Action::Write {
            dest: "{self}/rootfs/etc/systemd/system/ssh.service.d/10-liveboot-host-keys.conf".into(),
            content: SSH_HOST_KEYS_DROPIN.into(),
            mode: Some("0644".into()),
        },
        // apt touches this folder only when it downloads something, so its time would tell
        // whether the package cache was warm: pin it, so that the image does not depend on that.
        Action::PinTimes { dir: "{self}/rootfs/var/cache/apt/archives/partial".into() },
        Action::BootFiles { rootfs: "{self}/rootfs".into(), dest: "{self}".into() },
        Action::Packages { rootfs: "{self}/rootfs".into(), dest: "{self}/packages.txt".into() },
    ]);
    b.add("customize", "overlay files, cloud-init datasources, per-boot identity, kernel and initrd", &["rootfs"], inputs, actions);

    let sq = &spec.squashfs;
    let mut argv = vec![
        "mksquashfs".to_string(),
        "{customize}/rootfs".into(),
        "{self}/filesystem.squashfs".into(),
        "-noappend".into(),
        "-no-progress".into(),
        "-xattrs".into(),
        "-comp".into(),
        sq.compression.as_str().into(),
    ];
    if let Some((_, _, default)) = sq.compression.levels() {
        argv.extend(["-Xcompression-level".to_string(), sq.level.unwrap_or(default).to_string()]);
    }
    let mut inputs = vec![b.part("squashfs", sq), b.tool("squashfs-tools")];
    inputs.extend(b.epoch());
    b.add(
        "squashfs",
        "compress the root filesystem (mksquashfs: xattrs, hard links, all cores)",
        &["customize"],
        inputs,
        vec![Action::Run { argv, env: b.epoch_env() }],
    );

    Ok(Root {
        after: vec!["customize", "squashfs"],
        kernel: "{customize}/vmlinuz".into(),
        initrd: "{customize}/initrd.img".into(),
        rootimg: "{squashfs}/filesystem.squashfs".into(),
        iso_paths: ["live/vmlinuz", "live/initrd.img", "live/filesystem.squashfs"],
        netboot_arg: "fetch={url}/filesystem.squashfs",
        remaster: None,
    })
}
