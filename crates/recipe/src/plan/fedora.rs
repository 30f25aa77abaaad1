//! Fedora and Rocky: a kickstart, flattened, built into a live root by livemedia-creator (or
//! livecd-creator for old releases). dracut's dmsquash-live boots it.

use liveboot_yaml::Diagnostic;

use super::{Action, Builder, Remaster, Root};
use crate::{Kickstart, KickstartTool};

pub(crate) fn stages(b: &mut Builder, ks: &Kickstart) -> Result<Root, Diagnostic> {
    let spec = &b.recipe.spec;
    let file = b.source_path(&["source".into(), "kickstart".into(), "file".into()], &ks.file);
    let mut post = format!("%packages\n{}\n%end\n\n%post\n", spec.packages.join("\n"));
    post.push_str(&format!("cat > /etc/cloud/cloud.cfg.d/90_liveboot.cfg <<'EOF'\n{}EOF\n%end\n", spec.cloud_init.image_config()));
    let tool = match ks.tool {
        KickstartTool::LivemediaCreator => vec![
            "livemedia-creator".to_string(),
            "--make-iso".into(),
            "--no-virt".into(),
            "--iso-only".into(),
            format!("--iso-name={}.iso", spec.name),
            format!("--volid={}", spec.label),
            format!("--project={}", spec.title),
            format!("--releasever={}", spec.distro.release),
            "--ks={self}/flat.ks".into(),
            "--resultdir={self}/result".into(),
        ],
        KickstartTool::LivecdCreator => vec![
            "livecd-creator".to_string(),
            "--config={self}/flat.ks".into(),
            format!("--fslabel={}", spec.label),
            "--cache={cache}/livecd".into(),
            "--tmpdir={self}/tmp".into(),
        ],
    };
    let mut inputs = vec![
        b.file(&file)?,
        b.part("packages", &spec.packages),
        b.part("cloud_init", &spec.cloud_init),
        b.part("distro", &spec.distro),
        b.part("label", &spec.label),
    ];
    inputs.extend(b.epoch());
    b.add(
        "live",
        "flatten the kickstart, add the recipe's packages and cloud-init settings, build the live root",
        &[],
        inputs,
        vec![
            Action::run(["ksflatten".to_string(), format!("--config={}", file.display()), "--output={self}/base.ks".into()]),
            Action::Write { dest: "{self}/recipe.ks".into(), content: post, mode: None },
            Action::Write { dest: "{self}/main.ks".into(), content: "%include base.ks\n%include recipe.ks\n".into(), mode: None },
            Action::run(["ksflatten", "--config={self}/main.ks", "--output={self}/flat.ks"]),
            Action::Run { argv: tool, env: b.epoch_env() },
        ],
    );
    Ok(Root {
        after: vec!["live"],
        kernel: "{live}/result/images/pxeboot/vmlinuz".into(),
        initrd: "{live}/result/images/pxeboot/initrd.img".into(),
        rootimg: "{live}/result/LiveOS/squashfs.img".into(),
        iso_paths: ["images/pxeboot/vmlinuz", "images/pxeboot/initrd.img", "LiveOS/squashfs.img"],
        netboot_arg: "root=live:{url}/squashfs.img",
        remaster: Some(Remaster { iso: format!("{{live}}/result/{}.iso", spec.name), overlay: None }),
    })
}
