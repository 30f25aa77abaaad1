//! NoCloud seeds: one `cidata` volume per node holding `user-data`, `meta-data` and, when the
//! inventory says so, `network-config` and `vendor-data`.
//!
//! `user-data` and `network-config` are rendered from Jinja2 templates (minijinja); `meta-data`
//! is written here because its `instance-id` must follow the seed's content exactly: it is a
//! hash of everything else, so cloud-init re-runs when and only when the seed changed. The ISO's
//! volume date (and so its UUID) is derived from the hash of all files, so two seeds never
//! share a UUID with each other or with a live image.

use std::path::{Path, PathBuf};

use minijinja::{context, Environment};
use serde::Serialize;
use sha2::{Digest, Sha256};

use liveboot_fat::{write_fat, FatFile, FatOptions};
use liveboot_inventory::Inventory;
use liveboot_iso::{write_iso, IsoFile, IsoOptions, VolumeDate};

/// Seed image formats NoCloud reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// ISO 9660 (Joliet + Rock Ridge) labelled `cidata`: for virtual CD drives.
    #[default]
    Iso,
    /// FAT12 labelled `CIDATA`: for virtual USB sticks and floppies.
    Vfat,
}

/// Template names under the templates folder.
pub const USER_DATA_TEMPLATE: &str = "cloud-init/user-data.yaml.j2";
/// Template for `network-config`.
pub const NETWORK_CONFIG_TEMPLATE: &str = "cloud-init/network-config.yaml.j2";

/// Why a seed could not be made.
#[derive(Debug)]
pub struct SeedError(pub String);

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedError {}

/// The files of one node's seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seed {
    /// Node name.
    pub node: String,
    /// `user-data`.
    pub user_data: String,
    /// `meta-data`.
    pub meta_data: String,
    /// `network-config`, when the node has static network settings.
    pub network_config: Option<String>,
    /// `vendor-data`, copied from the file the inventory names.
    pub vendor_data: Option<String>,
    /// The instance-id in meta-data.
    pub instance_id: String,
}

impl Seed {
    /// The files as they go on the volume, in a fixed order.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut f = vec![("meta-data", self.meta_data.as_str()), ("user-data", self.user_data.as_str())];
        if let Some(n) = &self.network_config {
            f.push(("network-config", n));
        }
        if let Some(v) = &self.vendor_data {
            f.push(("vendor-data", v));
        }
        f
    }

    /// SHA-256 over every file's name and bytes.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (name, data) in self.files() {
            h.update(name.as_bytes());
            h.update((data.len() as u64).to_be_bytes());
            h.update(data.as_bytes());
        }
        h.finalize().into()
    }

    /// The seed as a `cidata` ISO 9660 image (Joliet + Rock Ridge).
    pub fn to_iso(&self) -> Vec<u8> {
        let files: Vec<IsoFile> =
            self.files().into_iter().map(|(n, d)| IsoFile { name: n.to_string(), data: d.as_bytes().to_vec(), mode: 0o644 }).collect();
        let opts = IsoOptions {
            volume_id: "cidata".into(),
            date: VolumeDate::from_hash(&self.content_hash()),
            application: "LIVEBOOT SEED".into(),
        };
        write_iso(&files, &opts).expect("seed file names and label are valid")
    }

    /// The seed as a FAT12 image labelled `CIDATA` (NoCloud's vfat form), with the volume
    /// serial and file dates taken from the content hash like the ISO's.
    pub fn to_vfat(&self) -> Vec<u8> {
        let hash = self.content_hash();
        let (y, mo, d, h, mi, s) = VolumeDate::from_hash(&hash).civil();
        let files: Vec<FatFile> =
            self.files().into_iter().map(|(n, d)| FatFile { name: n.to_string(), data: d.as_bytes().to_vec() }).collect();
        let opts = FatOptions {
            label: "CIDATA".into(),
            serial: u32::from_be_bytes([hash[8], hash[9], hash[10], hash[11]]),
            date: (y as u32, mo, d, h, mi, s),
        };
        write_fat(&files, &opts).expect("seed file names and label are valid")
    }

    /// The seed image in the given format.
    pub fn image(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Iso => self.to_iso(),
            Format::Vfat => self.to_vfat(),
        }
    }
}

/// Renders seeds; holds the parsed templates so that many seeds cost one template load.
pub struct SeedRenderer {
    env: Environment<'static>,
    templates: PathBuf,
}

fn template_error(dir: &Path, e: &minijinja::Error) -> SeedError {
    let name = e.name().unwrap_or("?");
    let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
    let mut msg = format!("{}{line}: template error: {}", dir.join(name).display(), e.kind());
    if let Some(d) = e.detail() {
        msg.push_str(&format!(": {d}"));
    }
    SeedError(msg + "\n  help: fix the template (Jinja2 syntax); `liveboot seed` renders it once per node")
}

impl SeedRenderer {
    /// Loads the cloud-init templates from `templates`.
    pub fn new(templates: &Path) -> Result<Self, SeedError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        // No automatic escaping (minijinja would pick JSON from the ".yaml" in the names):
        // templates say `| tojson` where a value needs quoting, as cloud-init users expect.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        for name in [USER_DATA_TEMPLATE, NETWORK_CONFIG_TEMPLATE] {
            let path = templates.join(name);
            let src = std::fs::read_to_string(&path).map_err(|e| {
                SeedError(format!(
                    "{}: cannot read template: {e}\n  help: run from the project root or pass --templates DIR",
                    path.display()
                ))
            })?;
            env.add_template_owned(name, src).map_err(|e| template_error(templates, &e))?;
        }
        Ok(SeedRenderer { env, templates: templates.to_path_buf() })
    }

    fn render_template(&self, name: &str, ctx: minijinja::Value) -> Result<String, SeedError> {
        let out = self.env.get_template(name).and_then(|t| t.render(ctx)).map_err(|e| template_error(&self.templates, &e))?;
        // A template that renders broken YAML must fail here, not on the node at boot.
        liveboot_yaml::parse_str(&out, Path::new(name)).map_err(|d| {
            SeedError(format!(
                "{}: the rendered output is not valid YAML: {d}\n  help: fix the template",
                self.templates.join(name).display()
            ))
        })?;
        Ok(if out.ends_with('\n') { out } else { out + "\n" })
    }

    /// Renders the seed of one node of the inventory.
    pub fn render_node(&self, inv: &Inventory, node: &str) -> Result<Seed, SeedError> {
        let spec = inv.nodes.get(node).ok_or_else(|| {
            SeedError(format!(
                "{}: no node '{node}'\n  help: the nodes are: {}",
                inv.file.display(),
                inv.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let slice = inv.slice_of(node).ok_or_else(|| {
            SeedError(format!(
                "{}: node '{node}' is in no slice, so its seed would have no SSH key\n  help: add it to a slice's 'nodes:'",
                inv.file.display()
            ))
        })?;
        let mut packages = slice.packages.clone();
        packages.extend(spec.packages.iter().cloned());
        let vendor_data = match &spec.vendor_data {
            None => None,
            Some(v) => {
                let path = inv.file.parent().unwrap_or(Path::new("")).join(v);
                Some(
                    liveboot_yaml::read_bounded(&path, 1 << 20)
                        .map_err(|e| SeedError(format!("{}: cannot read vendor-data: {}", path.display(), e.message)))?,
                )
            }
        };
        self.render(&NodeFacts {
            name: node.to_string(),
            hostname: inv.hostname(node).to_string(),
            fqdn: inv.fqdn(node),
            slice: Some(slice.name.clone()),
            ssh_keys: slice.keys.iter().map(|k| k.to_line()).collect(),
            packages,
            interfaces: spec.network.clone(),
            vendor_data,
        })
    }

    /// Renders a seed from explicit facts (a throwaway seed for `liveboot try`, say).
    pub fn render(&self, f: &NodeFacts) -> Result<Seed, SeedError> {
        let user_data = self.render_template(
            USER_DATA_TEMPLATE,
            context! {
                node => context! { name => f.name, hostname => f.hostname, fqdn => f.fqdn },
                slice => f.slice.as_ref().map(|s| context! { name => s }),
                ssh_keys => f.ssh_keys,
                packages => f.packages,
            },
        )?;
        let network_config = if f.interfaces.is_empty() {
            None
        } else {
            Some(self.render_template(NETWORK_CONFIG_TEMPLATE, context! { interfaces => f.interfaces })?)
        };
        let mut h = Sha256::new();
        for part in [Some(user_data.as_str()), network_config.as_deref(), f.vendor_data.as_deref(), Some(f.hostname.as_str())] {
            h.update(part.map(|p| p.len() as u64 + 1).unwrap_or(0).to_be_bytes());
            h.update(part.unwrap_or_default());
        }
        let digest = liveboot_digest::hex(&h.finalize()[..8]);
        let instance_id = format!("iid-{}-{digest}", f.name);
        let meta_data = format!("instance-id: {instance_id}\nlocal-hostname: {}\n", f.hostname);
        Ok(Seed { node: f.name.clone(), user_data, meta_data, network_config, vendor_data: f.vendor_data.clone(), instance_id })
    }
}

/// Everything a seed says about one machine.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    /// Node name (goes into the instance-id).
    pub name: String,
    /// Host name.
    pub hostname: String,
    /// Fully qualified name.
    pub fqdn: String,
    /// The slice, if any.
    pub slice: Option<String>,
    /// authorized_keys lines for root and the default user.
    pub ssh_keys: Vec<String>,
    /// Packages installed at first boot.
    pub packages: Vec<String>,
    /// Static interfaces; none means DHCP and no network-config.
    pub interfaces: Vec<liveboot_inventory::Interface>,
    /// vendor-data, as is.
    pub vendor_data: Option<String>,
}

/// The file name of a node's seed image.
pub fn seed_file_name(node: &str, format: Format) -> String {
    match format {
        Format::Iso => format!("cidata-{node}.iso"),
        Format::Vfat => format!("cidata-{node}.img"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The example inventory, edited by `edit`, loaded from a temporary copy.
    fn inventory(edit: impl Fn(String) -> String) -> (tempfile::TempDir, Inventory) {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(root().join("examples/inventory.yaml")).unwrap();
        std::fs::write(dir.path().join("inventory.yaml"), edit(text)).unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        for f in ["keys/bob.pub", "vendor-data.yaml"] {
            std::fs::copy(root().join("examples").join(f), dir.path().join(f)).unwrap();
        }
        let inv = liveboot_inventory::load(&dir.path().join("inventory.yaml")).unwrap();
        (dir, inv)
    }

    fn seed(edit: impl Fn(String) -> String, node: &str) -> Seed {
        let (_d, inv) = inventory(edit);
        SeedRenderer::new(&root().join("templates")).unwrap().render_node(&inv, node).unwrap()
    }

    #[test]
    fn instance_id_changes_exactly_when_the_content_does() {
        let same = |t: String| t;
        let base = seed(same, "w1");
        assert_eq!(base.instance_id, seed(same, "w1").instance_id);
        // A change that does not reach w1's seed (another node's address) keeps its id.
        assert_eq!(base.instance_id, seed(|t| t.replace("192.0.2.103", "192.0.2.203"), "w1").instance_id);
        // A changed key, package or domain gives a new id.
        for edit in [
            |t: String| t.replace("packages: [tmux]", "packages: [tmux, vim]"),
            |t: String| t.replace("domain: lab.example.org", "domain: lab2.example.org"),
            |t: String| t.replace("nodes: [w1, w2]", "nodes: [w1, w2]\n    # keys below changed\n").replace("carol@lab", "carol@home"),
        ] {
            let changed = seed(edit, "w1");
            assert_ne!(changed.user_data, base.user_data);
            assert_ne!(changed.instance_id, base.instance_id);
        }
    }

    #[test]
    fn seeds_of_different_nodes_get_different_volume_dates() {
        let (_d, inv) = inventory(|t| t);
        let r = SeedRenderer::new(&root().join("templates")).unwrap();
        let dates: Vec<String> =
            ["w1", "w2", "w3"].iter().map(|n| VolumeDate::from_hash(&r.render_node(&inv, n).unwrap().content_hash()).uuid()).collect();
        assert!(dates[0] != dates[1] && dates[1] != dates[2] && dates[0] != dates[2], "{dates:?}");
    }

    #[test]
    fn a_broken_template_names_its_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cloud-init")).unwrap();
        std::fs::write(dir.path().join(USER_DATA_TEMPLATE), "#cloud-config\nhostname: {{ node.hostname | tojson }\n").unwrap();
        std::fs::copy(root().join("templates").join(NETWORK_CONFIG_TEMPLATE), dir.path().join(NETWORK_CONFIG_TEMPLATE)).unwrap();
        let e = SeedRenderer::new(dir.path()).err().unwrap().to_string();
        assert!(e.starts_with(&format!("{}:2: template error: syntax error", dir.path().join(USER_DATA_TEMPLATE).display())), "{e}");
    }

    #[test]
    fn a_template_that_renders_invalid_yaml_is_caught_before_any_node_boots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cloud-init")).unwrap();
        std::fs::write(dir.path().join(USER_DATA_TEMPLATE), "#cloud-config\nhostname: {{ node.hostname }}\n  bad: [\n").unwrap();
        std::fs::copy(root().join("templates").join(NETWORK_CONFIG_TEMPLATE), dir.path().join(NETWORK_CONFIG_TEMPLATE)).unwrap();
        let (_d, inv) = inventory(|t| t);
        let e = SeedRenderer::new(dir.path()).unwrap().render_node(&inv, "w1").unwrap_err().to_string();
        assert!(e.contains("the rendered output is not valid YAML"), "{e}");
    }
}
