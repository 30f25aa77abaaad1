//! The network boot bundle: kernel, initrd and root image (hard links), with iPXE, GRUB and
//! pxelinux configs and a dnsmasq snippet rendered in the `bootmenu` stage.

use liveboot_yaml::Diagnostic;
use serde_json::json;

use super::{Menu, OutputKind, BOOTMENU};
use crate::plan::{kernel_cmdline, Action, Artifact, Builder, Place, Root, Text};

/// The PXE output.
pub struct Pxe;

impl OutputKind for Pxe {
    fn name(&self) -> &'static str {
        "pxe"
    }

    fn menus(&self, b: &Builder, root: &Root) -> Result<Vec<Menu>, Diagnostic> {
        let recipe = b.recipe;
        let spec = &recipe.spec;
        let name = &spec.name;
        let base_url = format!("http://${{next-server}}/liveboot/{name}");
        let vars = json!({
            "title": spec.title, "timeout": spec.boot.timeout, "cmdline": kernel_cmdline(recipe), "base_url": base_url,
            "http_host": "$net_default_server", "http_path": format!("liveboot/{name}"),
            "netboot_arg": root.scheme.netboot_arg.replace("{url}", &base_url), "tftp_root": "/srv/tftp",
        });
        Ok([
            ("pxe/boot.ipxe.j2", "boot.ipxe"),
            ("pxe/grub.cfg.j2", "grub.cfg"),
            ("pxe/pxelinux.cfg.j2", "pxelinux.cfg/default"),
            ("pxe/dnsmasq.conf.j2", "dnsmasq.conf"),
        ]
        .into_iter()
        .map(|(template, dest)| Menu { template, dest: format!("pxe/{dest}"), vars: vars.clone() })
        .collect())
    }

    fn stages(&self, b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic> {
        let root_name = root.scheme.root.rsplit('/').next().unwrap_or("root.img");
        let own = |p: &str| Text::from(Place::own(p));
        b.add(
            "pxe",
            "network boot files: kernel, initrd and root image",
            &["vmlinuz", "initrd.img", root_name],
            Vec::new(),
            vec![
                Action::Link { src: root.kernel.clone().into(), dest: own("vmlinuz") },
                Action::Link { src: root.initrd.clone().into(), dest: own("initrd.img") },
                Action::Link { src: root.image.clone().into(), dest: own(root_name) },
            ],
        )?;
        Ok(vec![b.artifact("pxe", Place::stage("pxe", ""))?, b.artifact("pxe", Place::stage(BOOTMENU, "pxe"))?])
    }
}
