//! What every RPM live root gets once its packages are in, whichever description filled it (a
//! kickstart through dnf, a KIWI description through zypper): cloud-init enabled with the
//! recipe's settings, a per-boot identity, the live initrd built by the root's own dracut, and
//! the kernel, initrd and package list taken out of it.

use liveboot_yaml::Diagnostic;

use crate::plan::{Action, Builder, Input, PackageDb, Place, Text};
use crate::RecipeSpec;

/// The recipe's `overlay:` files copied into the root: the inputs and the actions.
pub(crate) fn recipe_overlay(b: &Builder) -> Result<(Vec<Input>, Vec<Action>), Diagnostic> {
    let (mut inputs, mut actions) = (Vec::new(), Vec::new());
    for (i, o) in b.recipe.spec.overlay.iter().enumerate() {
        let src = b.source_path(&["overlay".into(), i.into(), "src".into()], &o.src);
        inputs.push(b.file(&src)?);
        actions.push(Action::Copy { src: src.into(), dest: Place::own(&format!("rootfs{}", o.dest)).into(), mode: o.mode.clone() });
    }
    Ok((inputs, actions))
}

/// A shell script run by [`Action::Script`] in the root, `what` naming it in messages.
pub(crate) fn in_root(what: String, body: &str, args: Vec<String>, error_on_fail: bool) -> Action {
    Action::Script {
        root: "{self}/rootfs".into(),
        chroot: true,
        interpreter: "/bin/sh".into(),
        body: body.into(),
        args,
        log: None,
        error_on_fail,
        what,
    }
}

/// Writes a file of the root (`path` relative to it), mode 0644.
pub(crate) fn write(path: &str, content: String) -> Action {
    Action::Write { dest: Text::from(format!("{{self}}/rootfs/{path}").as_str()), content, mode: Some("0644".into()) }
}

/// cloud-init's settings of the recipe, and its units enabled.
pub(crate) fn cloud_init(spec: &RecipeSpec) -> Vec<Action> {
    vec![
        write("etc/cloud/cloud.cfg.d/90_liveboot.cfg", spec.cloud_init.image_config()),
        in_root(
            "enabling cloud-init".into(),
            // cloud-init 24 renamed cloud-init.service to cloud-init-network.service.
            "for u in cloud-init-local cloud-init cloud-init-network cloud-config cloud-final; do\n  for d in /usr/lib/systemd/system /lib/systemd/system /etc/systemd/system; do\n    if [ -f \"$d/$u.service\" ]; then systemctl enable \"$u.service\"; break; fi\n  done\ndone\n",
            Vec::new(),
            true,
        ),
    ]
}

/// A per-boot identity (host name, machine-id and SSH host keys made at boot) and the live
/// initrd, built by the root's dracut with `dracut_conf`.
pub(crate) fn identity_and_initrd(dracut_conf: &[&str]) -> Vec<Action> {
    vec![
        write("etc/hostname", "localhost\n".into()),
        Action::Write { dest: "{self}/rootfs/etc/machine-id".into(), content: String::new(), mode: Some("0444".into()) },
        Action::Remove { paths: vec!["{self}/rootfs/etc/ssh/ssh_host_*".into(), "{self}/rootfs/var/lib/dbus/machine-id".into()] },
        write("etc/systemd/system/sshd.service.d/10-liveboot-host-keys.conf", super::SSH_HOST_KEYS_DROPIN.into()),
        write("etc/systemd/system/ssh.service.d/10-liveboot-host-keys.conf", super::SSH_HOST_KEYS_DROPIN.into()),
        write("etc/dracut.conf.d/90-liveboot.conf", dracut_conf.iter().map(|l| format!("{l}\n")).collect()),
        in_root(
            "the live initrd (dracut)".into(),
            "set -e\nfound=\nfor d in /lib/modules/*/; do\n  k=$(basename \"$d\")\n  [ -e \"/lib/modules/$k/modules.dep\" ] || [ -e \"/lib/modules/$k/modules.order\" ] || continue\n  found=1\n  dracut --force --no-hostonly --kver \"$k\" \"/boot/initramfs-$k.img\"\ndone\n[ -n \"$found\" ] || { echo 'no kernel in the root (/lib/modules is empty): install a kernel package (kickstart %packages, KIWI <packages>)' >&2; exit 1; }\n",
            Vec::new(),
            true,
        ),
    ]
}

/// Kernel, initrd and kernel version out of the root, and its RPMs listed from the database
/// at `rpmdb` (a path inside the root).
pub(crate) fn boot_files_and_packages(rpmdb: &str) -> Vec<Action> {
    vec![
        Action::BootFiles { rootfs: "{self}/rootfs".into(), dest: "{self}".into() },
        Action::Packages { rootfs: "{self}/rootfs".into(), dest: "{self}/packages.txt".into(), db: PackageDb::Rpm(rpmdb.into()) },
    ]
}

/// The outputs of a stage that ends with [`boot_files_and_packages`].
pub(crate) const CONFIGURE_OUTPUTS: &[&str] = &["rootfs", "vmlinuz", "initrd.img", "kernel-version", "packages.txt"];
