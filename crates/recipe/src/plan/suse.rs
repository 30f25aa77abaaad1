//! openSUSE Leap: a KIWI image description built by kiwi-ng; dracut's kiwi-live boots it.

use liveboot_yaml::Diagnostic;

use super::{Action, Builder, Remaster, Root};
use crate::Kiwi;

pub(crate) fn stages(b: &mut Builder, k: &Kiwi) -> Result<Root, Diagnostic> {
    let spec = &b.recipe.spec;
    let dir = b.source_path(&["source".into(), "kiwi".into(), "description".into()], &k.description);
    let mut argv = vec!["kiwi-ng".to_string(), "--type=iso".into()];
    if let Some(p) = &k.profile {
        argv.push(format!("--profile={p}"));
    }
    argv.extend(["system".into(), "build".into(), format!("--description={}", dir.display()), "--target-dir={self}/kiwi".into()]);
    let mut inputs = vec![b.dir(&dir)?, b.part("packages", &spec.packages), b.part("cloud_init", &spec.cloud_init)];
    inputs.extend(b.epoch());
    b.add("kiwi", "build the live image from the KIWI description", &[], inputs, vec![Action::Run { argv, env: b.epoch_env() }]);
    Ok(Root {
        after: vec!["kiwi"],
        kernel: "{kiwi}/kiwi/build/image-root/boot/vmlinuz".into(),
        initrd: "{kiwi}/kiwi/build/image-root/boot/initrd".into(),
        rootimg: "{kiwi}/kiwi/LiveOS/squashfs.img".into(),
        iso_paths: ["boot/x86_64/loader/linux", "boot/x86_64/loader/initrd", "LiveOS/squashfs.img"],
        netboot_arg: "root=live:{url}/squashfs.img",
        remaster: Some(Remaster { iso: "{kiwi}/kiwi/liveboot-leap15.x86_64-15.6.0.iso".into(), overlay: None }),
    })
}
