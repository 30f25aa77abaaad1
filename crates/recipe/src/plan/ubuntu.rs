//! Ubuntu: the upstream live server ISO, its boot menus patched, remastered with its own boot
//! setup (xorriso replay). casper boots it.

use liveboot_yaml::Diagnostic;

use super::{kernel_cmdline, Action, Builder, Remaster, Root};
use crate::UpstreamIso;

pub(crate) fn stages(b: &mut Builder, u: &UpstreamIso) -> Result<Root, Diagnostic> {
    let checksum = match (&u.sha256, &u.sha256sums) {
        (Some(h), _) => format!("sha256:{h}"),
        (None, Some(url)) => format!("listed in {url}"),
        (None, None) => unreachable!("validated"),
    };
    b.add(
        "fetch",
        "download and verify the upstream ISO",
        &[],
        vec![b.part("source.url", &u.url), b.part("source.checksum", &checksum)],
        vec![Action::Fetch { url: u.url.clone(), checksum, dest: "{self}/upstream.iso".into() }],
    );
    let cmdline = kernel_cmdline(b.recipe);
    let mut actions =
        vec![Action::run(["xorriso", "-osirrox", "on", "-indev", "{fetch}/upstream.iso", "-extract", "/boot", "{self}/patched/boot"])];
    actions.extend(u.patches.iter().map(|p| Action::Edit {
        file: format!("{{self}}/patched/{}", p.file),
        find: p.find.clone(),
        replace: p.replace.replace("{kernel_args}", &cmdline),
        min_matches: p.min_matches,
    }));
    let inputs = vec![b.part("source.patches", &u.patches), b.part("boot", &b.recipe.spec.boot)];
    b.add("patch", "patch the boot menus with the recipe's kernel arguments", &["fetch"], inputs, actions);
    Ok(Root {
        after: vec!["fetch", "patch"],
        kernel: "{patch}/patched/casper/vmlinuz".into(),
        initrd: "{patch}/patched/casper/initrd".into(),
        rootimg: "{fetch}/upstream.iso".into(),
        iso_paths: ["casper/vmlinuz", "casper/initrd", "casper/filesystem.squashfs"],
        netboot_arg: "url={url}/image.iso",
        remaster: Some(Remaster { iso: "{fetch}/upstream.iso".into(), overlay: Some("{patch}/patched".into()) }),
    })
}
