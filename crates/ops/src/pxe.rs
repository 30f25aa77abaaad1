//! `liveboot pxe`: a folder that a site serves as its TFTP root and its HTTP root, made from a
//! built recipe's network bundle (`out/<recipe>/pxe/`, described by its `bundle.json`).
//!
//! It holds the bundle's files (hard links), each loader's config in that loader's own syntax
//! (`boot.ipxe`, `grub/grub.cfg`, `pxelinux.cfg/default` and one `pxelinux.cfg/01-<mac>` per
//! node MAC), one NoCloud seed folder per node MAC (`seeds/<mac>/`, fetched by cloud-init with
//! `ds=nocloud-net;s=<url>/seeds/<mac>/`), and, when asked, a dnsmasq config to run as is.
//! Files a previous run wrote for MACs no longer listed are removed, so a reused MAC never
//! boots with another node's seed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use liveboot_inventory::Inventory;
use liveboot_recipe::output::pxe::Bundle;
use liveboot_seed::{Seed, SeedRenderer};

use crate::seeds::{select, Selection};
use crate::Project;

/// How dnsmasq hands out addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DhcpMode {
    /// dnsmasq is the DHCP server: `range` is `first,last[,netmask][,lease]`.
    Full,
    /// Another server gives the addresses; dnsmasq adds the boot information (proxy DHCP):
    /// `range` is the network's address (`10.0.3.0`).
    Proxy,
}

/// The loader BIOS clients get from DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BiosLoader {
    /// pxelinux: kernel and initrd over TFTP; works with any PXE ROM.
    Pxelinux,
    /// iPXE (`undionly.kpxe`), then the iPXE script over HTTP: faster.
    Ipxe,
}

/// The loader UEFI clients get from DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UefiLoader {
    /// The signed shim and signed network GRUB: boots with Secure Boot on or off.
    Shim,
    /// iPXE (`ipxe.efi`): unsigned, Secure Boot off only.
    Ipxe,
}

/// The dnsmasq config asked for.
#[derive(Debug, Clone)]
pub struct Dhcp {
    /// Full or proxy DHCP.
    pub mode: DhcpMode,
    /// Addresses (full) or the network (proxy).
    pub range: String,
    /// The interface to serve on (all when none).
    pub interface: Option<String>,
    /// BIOS loader.
    pub bios: BiosLoader,
    /// UEFI loader.
    pub uefi: UefiLoader,
}

/// What the site is like.
#[derive(Debug, Clone)]
pub struct Site {
    /// The URL the folder is served at over HTTP, as the booting nodes reach it.
    pub http_url: String,
    /// A dnsmasq config to write, if any.
    pub dhcp: Option<Dhcp>,
}

/// A node to boot: its seed, served for each of its MACs.
#[derive(Debug, Clone)]
pub struct SiteNode {
    /// Its seed.
    pub seed: Seed,
    /// Its MAC addresses (any case, `:` or `-`).
    pub macs: Vec<String>,
}

/// `liveboot pxe` as the command line asks for it.
#[derive(Debug, Clone)]
pub struct PxeSettings {
    /// The recipe whose bundle to use.
    pub recipe: String,
    /// The builds' output folder [default: the project's].
    pub out: Option<PathBuf>,
    /// The folder to write [default: `<out>/<recipe>/netboot`].
    pub dest: Option<PathBuf>,
    /// The inventory whose nodes get seeds, and which of them.
    pub inventory: Option<(PathBuf, Selection)>,
    /// The site.
    pub site: Site,
}

/// One node's part of the folder.
#[derive(Debug, Clone, Serialize)]
pub struct PxeNode {
    /// The node.
    pub node: String,
    /// Its MACs as the loaders write them.
    pub macs: Vec<String>,
    /// cloud-init's instance-id in its seed.
    pub instance_id: String,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct PxeResult {
    /// The recipe.
    pub recipe: String,
    /// The folder: TFTP root and HTTP root.
    pub dir: String,
    /// Its URL.
    pub http_url: String,
    /// Every file in it, relative to it.
    pub files: Vec<String>,
    /// The nodes that have seeds.
    pub nodes: Vec<PxeNode>,
    /// The dnsmasq config, when written.
    pub dnsmasq: Option<String>,
    /// Files of an earlier run removed (MACs no longer listed).
    pub removed: Vec<String>,
}

/// The list of what a run wrote, for the next run to remove what it no longer writes; hidden,
/// so `liveboot serve` does not serve it.
const WRITTEN: &str = ".liveboot-pxe.json";

/// A MAC as iPXE's `${netX/mac}` and GRUB's `$net_default_mac` write it: lower case, `:`.
pub fn normal_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

/// Checks a URL is one the loaders can use: `http://host[:port][/path]`, nothing a loader's
/// config would read as syntax.
pub fn check_http_url(url: &str) -> Result<String, String> {
    let url = url.trim_end_matches('/');
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("--http-url '{url}' is not an http:// URL\n  help: the loaders fetch over plain HTTP: --http-url http://<server address>:<port>")
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("--http-url '{url}' names no host\n  help: write the address the booting nodes reach: http://10.0.0.1:8080"));
    }
    if let Some(c) = rest.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~/:%[]".contains(*c))) {
        return Err(format!(
            "--http-url '{url}' holds '{}', which a loader config would read as syntax\n  help: use a URL of letters, digits and -._~/:%",
            c.escape_default()
        ));
    }
    Ok(url.to_string())
}

/// Reads a bundle's `bundle.json` and checks its files are there.
pub fn read_bundle(dir: &Path) -> Result<Bundle, String> {
    let file = dir.join("bundle.json");
    let text = liveboot_yaml::read_bounded(&file, 1 << 20)
        .map_err(|e| format!("{e}\n  help: build the recipe first (liveboot build <recipe>); its outputs must list pxe"))?;
    let bundle: Bundle = serde_json::from_str(&text)
        .map_err(|e| format!("{}: {e}\n  help: rebuild the recipe with this liveboot (liveboot build <recipe>)", file.display()))?;
    for f in bundle_files(&bundle) {
        if f.contains('/') || f.starts_with('.') || !dir.join(&f).is_file() {
            return Err(format!("{}: names '{f}', which is not a file of the bundle\n  help: rebuild the recipe", file.display()));
        }
    }
    Ok(bundle)
}

/// The files of a bundle, by name.
fn bundle_files(b: &Bundle) -> Vec<String> {
    let l = &b.loaders;
    let mut files = vec![b.kernel.clone(), b.initrd.clone(), b.root.clone()];
    files.extend([&l.pxelinux, &l.ipxe_bios, &l.ipxe_efi, &l.uefi].map(String::clone));
    files.extend(["ldlinux.c32", "grubx64.efi", "mmx64.efi"].map(String::from));
    files
}

/// The loader configs and seed files, by path relative to the folder.
pub fn render_site(
    templates: &Path,
    bundle: &Bundle,
    site: &Site,
    dir: &Path,
    nodes: &[SiteNode],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let base = check_http_url(&site.http_url)?;
    let seed_base = format!("{base}/seeds");
    let mut args: Vec<String> = bundle.kernel_args.clone();
    args.extend(bundle.console_args.iter().cloned());
    args.push(bundle.netboot_arg.replace("{url}", &base));
    let args = args.join(" ");
    let vars = |extra: serde_json::Value| {
        let mut v = json!({
            "title": bundle.title, "timeout": bundle.timeout, "serial": bundle.serial,
            "kernel": bundle.kernel, "initrd": bundle.initrd, "args": args,
            "base_url": base, "seed_base": seed_base,
        });
        v.as_object_mut().expect("an object").extend(extra.as_object().cloned().unwrap_or_default());
        v
    };
    let render = |template: &str, v: serde_json::Value| liveboot_image::render_template(templates, template, &v).map(String::into_bytes);
    let mut files = vec![
        ("boot.ipxe".to_string(), render("pxe/boot.ipxe.j2", vars(json!({})))?),
        ("grub/grub.cfg".to_string(), render("pxe/grub.cfg.j2", vars(json!({})))?),
        ("pxelinux.cfg/default".to_string(), render("pxe/pxelinux.cfg.j2", vars(json!({ "seed_url": null })))?),
    ];
    let mut seen = BTreeSet::new();
    for n in nodes {
        for mac in n.macs.iter().map(|m| normal_mac(m)) {
            if !seen.insert(mac.clone()) {
                return Err(format!("MAC address {mac} is listed twice (node {})\n  help: each MAC belongs to one node", n.seed.node));
            }
            let seed_url = format!("{seed_base}/{mac}/");
            let pxelinux = render("pxe/pxelinux.cfg.j2", vars(json!({ "seed_url": seed_url })))?;
            files.push((format!("pxelinux.cfg/01-{}", mac.replace(':', "-")), pxelinux));
            for (name, content) in n.seed.files() {
                files.push((format!("seeds/{mac}/{name}"), content.as_bytes().to_vec()));
            }
            // cloud-init asks for vendor-data over HTTP whether or not there is one, and retries
            // a 404 for seconds: an empty file says "none" at once.
            if n.seed.vendor_data.is_none() {
                files.push((format!("seeds/{mac}/vendor-data"), Vec::new()));
            }
        }
    }
    if let Some(d) = &site.dhcp {
        let loader = |bios: bool| match (bios, d.bios, d.uefi) {
            (true, BiosLoader::Pxelinux, _) => &bundle.loaders.pxelinux,
            (true, BiosLoader::Ipxe, _) => &bundle.loaders.ipxe_bios,
            (false, _, UefiLoader::Shim) => &bundle.loaders.uefi,
            (false, _, UefiLoader::Ipxe) => &bundle.loaders.ipxe_efi,
        };
        check_dhcp(d)?;
        let v = vars(json!({
            "tftp_root": dir.display().to_string(), "interface": d.interface, "mode": d.mode, "range": d.range,
            "bios_loader": loader(true), "uefi_loader": loader(false),
        }));
        files.push(("dnsmasq.conf".to_string(), render("pxe/dnsmasq.conf.j2", v)?));
    }
    Ok(files)
}

/// Checks what goes into the dnsmasq config verbatim.
fn check_dhcp(d: &Dhcp) -> Result<(), String> {
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || ".:,-_".contains(c));
    if !plain(&d.range) {
        let want = match d.mode {
            DhcpMode::Full => "first,last[,netmask][,lease]: --dhcp-range 10.0.3.100,10.0.3.200,12h",
            DhcpMode::Proxy => "the network's address: --dhcp-range 10.0.3.0",
        };
        return Err(format!("--dhcp-range '{}' is not a dnsmasq range\n  help: write {want}", d.range.escape_default()));
    }
    if let Some(i) = &d.interface {
        if !plain(i) || i.contains(',') || i.len() > 15 {
            return Err(format!("--interface '{}' is not an interface name\n  help: name one of `ip link`", i.escape_default()));
        }
    }
    Ok(())
}

/// Writes the folder: the bundle's files linked in, the configs and seeds as one batch, and
/// files of an earlier run that this one no longer writes removed.
pub fn lay_out(project: &Project, bundle_dir: &Path, dir: &Path, site: &Site, nodes: &[SiteNode]) -> Result<PxeResult, String> {
    let bundle = read_bundle(bundle_dir)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
    let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let rendered = render_site(&project.templates(), &bundle, site, &dir, nodes)?;
    let mut files: Vec<String> = Vec::new();
    for f in bundle_files(&bundle) {
        liveboot_publish::place(&bundle_dir.join(&f), &dir.join(&f)).map_err(|e| format!("{}: cannot place {f}: {e}", dir.display()))?;
        files.push(f);
    }
    let mut writes = Vec::new();
    for (rel, bytes) in rendered {
        let path = dir.join(&rel);
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            writes.push((path, bytes));
        }
        files.push(rel);
    }
    for (path, _) in &writes {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
    }
    liveboot_publish::write_batch(&writes).map_err(|e| format!("{}: cannot write the configs and seeds: {e}", dir.display()))?;

    // What the last run wrote and this one did not: remove it (and seed folders left empty).
    let list = dir.join(WRITTEN);
    let before: Vec<String> = std::fs::read_to_string(&list).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    let now: BTreeSet<&String> = files.iter().collect();
    let mut removed = Vec::new();
    for old in before.iter().filter(|f| !now.contains(f)) {
        // Only names this module writes: a tampered list cannot reach outside the folder.
        let ours = old.starts_with("seeds/") || old.starts_with("pxelinux.cfg/01-") || old == "dnsmasq.conf";
        if ours && !old.contains("..") && std::fs::remove_file(dir.join(old)).is_ok() {
            if let Some(parent) = Path::new(old).parent().filter(|p| p.starts_with("seeds")) {
                let _ = std::fs::remove_dir(dir.join(parent));
            }
            removed.push(old.clone());
        }
    }
    files.sort();
    let listing = serde_json::to_vec_pretty(&files).expect("a list serializes");
    liveboot_publish::write_batch(&[(list, listing)]).map_err(|e| format!("{}: {e}", dir.display()))?;

    let nodes = nodes
        .iter()
        .map(|n| PxeNode {
            node: n.seed.node.clone(),
            macs: n.macs.iter().map(|m| normal_mac(m)).collect(),
            instance_id: n.seed.instance_id.clone(),
        })
        .collect();
    Ok(PxeResult {
        recipe: bundle.recipe,
        dir: dir.display().to_string(),
        http_url: site.http_url.trim_end_matches('/').to_string(),
        dnsmasq: site.dhcp.as_ref().map(|_| dir.join("dnsmasq.conf").display().to_string()),
        files,
        nodes,
        removed,
    })
}

/// `liveboot pxe`: the folder for a recipe, with seeds for the selected nodes of an inventory.
pub fn pxe(project: &Project, s: &PxeSettings) -> Result<PxeResult, String> {
    let out = s.out.clone().unwrap_or_else(|| project.out());
    let bundle_dir = out.join(&s.recipe).join("pxe");
    let dest = s.dest.clone().unwrap_or_else(|| out.join(&s.recipe).join("netboot"));
    let mut nodes = Vec::new();
    if let Some((file, which)) = &s.inventory {
        let inv: Inventory = liveboot_inventory::load(file).map_err(|e| e.to_string())?;
        let renderer = SeedRenderer::new(&project.templates()).map_err(|e| e.to_string())?;
        for name in select(&inv, which)? {
            let node = inv.nodes.get(&name).ok_or_else(|| format!("{}: no node '{name}'", inv.file.display()))?;
            if node.macs.is_empty() {
                return Err(format!(
                    "{}: node '{name}' has no MAC address, so no loader can find its seed\n  help: add `macs: [<mac of its boot interface>]` to it",
                    inv.file.display()
                ));
            }
            let seed = renderer.render_node(&inv, &name).map_err(|e| e.to_string())?;
            nodes.push(SiteNode { seed, macs: node.macs.clone() });
        }
    }
    lay_out(project, &bundle_dir, &dest, &s.site, &nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveboot_recipe::output::pxe::{Loaders, SerialConsole};

    fn templates() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
    }

    fn bundle(netboot_arg: &str) -> Bundle {
        Bundle {
            recipe: "r".into(),
            title: "Debian 12 live (cloud-init)".into(),
            timeout: 5,
            serial: Some(SerialConsole { unit: 0, speed: 115200 }),
            kernel: "vmlinuz".into(),
            initrd: "initrd.img".into(),
            root: "filesystem.squashfs".into(),
            kernel_args: vec!["boot=live".into(), "components".into()],
            console_args: vec!["console=tty0".into(), "console=ttyS0,115200n8".into()],
            netboot_arg: netboot_arg.into(),
            loaders: Loaders {
                pxelinux: "pxelinux.0".into(),
                ipxe_bios: "undionly.kpxe".into(),
                ipxe_efi: "ipxe.efi".into(),
                uefi: "bootx64.efi".into(),
            },
        }
    }

    fn node(name: &str, mac: &str) -> SiteNode {
        let r = SeedRenderer::new(&templates()).unwrap();
        let facts = liveboot_seed::NodeFacts {
            name: name.into(),
            hostname: name.into(),
            fqdn: name.into(),
            ssh_keys: vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGldy3/auhiwTtw13k3y0JgINAiDdmUfsTI8goR+3LQw a@b".into()],
            ..Default::default()
        };
        SiteNode { seed: r.render(&facts).unwrap(), macs: vec![mac.into()] }
    }

    fn site(mode: DhcpMode, range: &str) -> Site {
        Site {
            http_url: "http://10.0.3.1:8080/".into(),
            dhcp: Some(Dhcp { mode, range: range.into(), interface: Some("br0".into()), bios: BiosLoader::Ipxe, uefi: UefiLoader::Shim }),
        }
    }

    fn text<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
        let (_, bytes) = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}"));
        std::str::from_utf8(bytes).unwrap()
    }

    /// Runs a loader's own checker on a config; its exit status and output.
    fn check(program: &str, args: &[&str], config: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        std::fs::write(&file, config).unwrap();
        let out = std::process::Command::new(program)
            .args(args)
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("{program} is not installed ({e}): run `cargo xtask deps`"));
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    }

    #[test]
    fn every_loader_config_is_in_its_own_syntax() {
        for arg in ["fetch={url}/filesystem.squashfs", "root=live:{url}/squashfs.img ip=dhcp rd.neednet=1"] {
            let dir = Path::new("/srv/netboot");
            let nodes = [node("w1", "52:54:00:00:01:01"), node("w2", "52-54-00-00-01-0A")];
            let files = render_site(&templates(), &bundle(arg), &site(DhcpMode::Full, "10.0.3.100,10.0.3.200,12h"), dir, &nodes).unwrap();

            // iPXE: a script only when the first line is exactly `#!ipxe`; iPXE's own variables.
            let ipxe = text(&files, "boot.ipxe");
            assert_eq!(ipxe.lines().next(), Some("#!ipxe"), "{ipxe}");
            assert!(ipxe.contains("ds=nocloud-net;s=http://10.0.3.1:8080/seeds/${netX/mac}/"), "{ipxe}");
            assert!(
                ipxe.contains("kernel http://10.0.3.1:8080/vmlinuz ") && ipxe.contains("initrd http://10.0.3.1:8080/initrd.img"),
                "{ipxe}"
            );
            assert!(!ipxe.contains("$net_default") && !ipxe.contains("{url}") && !ipxe.contains("{{"), "{ipxe}");

            // GRUB: its own parser accepts it; GRUB's variables only; the seed argument quoted.
            let grub = text(&files, "grub/grub.cfg");
            let (ok, said) = check("grub-script-check", &[], grub);
            assert!(ok, "grub-script-check refused grub.cfg: {said}\n{grub}");
            assert!(grub.contains("\"ds=nocloud-net;s=http://10.0.3.1:8080/seeds/${net_default_mac}/\""), "{grub}");
            assert!(!grub.contains("${net0") && !grub.contains("${netX") && !grub.contains("next-server"), "{grub}");
            assert!(grub.contains("serial --unit=0 --speed=115200") && grub.contains("terminal_output console serial"), "{grub}");

            // pxelinux: no variables at all; a node's config names its seed; the default none.
            for f in files.iter().filter(|(n, _)| n.starts_with("pxelinux.cfg/")) {
                let t = std::str::from_utf8(&f.1).unwrap();
                assert!(!t.contains('$'), "{}: {t}", f.0);
                assert!(t.contains("serial 0 115200") && t.contains("ipappend 2") && t.contains("kernel vmlinuz"), "{t}");
            }
            assert!(!text(&files, "pxelinux.cfg/default").contains("ds="));
            let w2 = text(&files, "pxelinux.cfg/01-52-54-00-00-01-0a");
            assert!(w2.contains(" ds=nocloud-net;s=http://10.0.3.1:8080/seeds/52:54:00:00:01:0a/"), "{w2}");
            assert!(w2.contains(&arg.replace("{url}", "http://10.0.3.1:8080")), "{w2}");

            // Seeds by MAC, as the loaders write MACs (lower case, colons).
            assert!(text(&files, "seeds/52:54:00:00:01:0a/meta-data").contains("w2"));
            assert!(text(&files, "seeds/52:54:00:00:01:01/user-data").starts_with("#cloud-config"));
            assert!(files.iter().all(|(n, _)| !n.contains("..") && !n.starts_with('/')));
        }
    }

    #[test]
    fn dnsmasq_accepts_both_configs() {
        for (mode, range) in [(DhcpMode::Full, "10.0.3.100,10.0.3.200,12h"), (DhcpMode::Proxy, "10.0.3.0")] {
            let tftp = tempfile::tempdir().unwrap();
            let files =
                render_site(&templates(), &bundle("fetch={url}/filesystem.squashfs"), &site(mode, range), tftp.path(), &[]).unwrap();
            let conf = text(&files, "dnsmasq.conf");
            let (ok, said) = check("dnsmasq", &["--test", "-C"], conf);
            assert!(ok, "dnsmasq --test refused the {mode:?} config: {said}\n{conf}");
            assert!(!conf.contains("${") && !conf.contains("{{"), "{conf}");
            assert!(conf.contains(&format!("tftp-root={}", tftp.path().display())), "{conf}");
            assert!(conf.contains("dhcp-boot=tag:ipxe,http://10.0.3.1:8080/boot.ipxe"), "{conf}");
            match mode {
                DhcpMode::Full => {
                    assert!(conf.contains("dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe") && conf.contains("tag:efi64,bootx64.efi"))
                }
                DhcpMode::Proxy => assert!(
                    conf.contains("dhcp-range=10.0.3.0,proxy") && conf.contains("X86-64_EFI,\"Debian 12 live (cloud-init)\",bootx64.efi")
                ),
            }
        }
    }

    #[test]
    fn site_input_that_would_break_a_config_is_refused() {
        let b = bundle("fetch={url}/filesystem.squashfs");
        let t = templates();
        let with_url = |u: &str| render_site(&t, &b, &Site { http_url: u.into(), dhcp: None }, Path::new("/x"), &[]);
        for bad in ["https://h/", "ftp://h", "http://", "http://h/a b", "http://h/x;y", "http://h/${net0/mac}", "http://h/\"q"] {
            let e = with_url(bad).unwrap_err();
            assert!(e.contains("--http-url") && e.contains("help:"), "{bad}: {e}");
        }
        assert!(with_url("http://[fd00::1]:8080/boot/").is_ok());
        let mut s = site(DhcpMode::Full, "10.0.3.100,10.0.3.200\nenable-ra");
        assert!(render_site(&t, &b, &s, Path::new("/x"), &[]).unwrap_err().contains("--dhcp-range"));
        s = site(DhcpMode::Full, "10.0.3.100,10.0.3.200");
        s.dhcp.as_mut().unwrap().interface = Some("br0\nport=53".into());
        assert!(render_site(&t, &b, &s, Path::new("/x"), &[]).unwrap_err().contains("--interface"));
        let twice = [node("a", "52:54:00:00:00:01"), node("b", "52-54-00-00-00-01")];
        let e = render_site(&t, &b, &site(DhcpMode::Full, "10.0.3.100,10.0.3.200"), Path::new("/x"), &twice).unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
    }
}
