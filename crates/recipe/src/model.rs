//! The recipe as written in YAML. Every struct rejects unknown keys.

use serde::{Deserialize, Serialize};

/// One image description, after `extends:` has been applied.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecipeSpec {
    /// Short name; equals the file name without `.yaml`.
    pub name: String,
    /// Human title, shown in boot menus.
    pub title: String,
    /// ISO 9660 volume label (at most 32 characters: A-Z, 0-9, `_` and `-`).
    pub label: String,
    /// Which distribution and release.
    pub distro: Distro,
    /// Target architecture.
    #[serde(default)]
    pub arch: Arch,
    /// Where the root filesystem comes from.
    pub source: Source,
    /// How the live system finds and mounts its root (`live-boot`, `dracut`, ...): one of the
    /// family's live-root schemes; the family's first when not given.
    pub live_root: Option<String>,
    /// Packages installed in the image (beyond what the source brings).
    #[serde(default)]
    pub packages: Vec<String>,
    /// Boot menu and kernel command line.
    #[serde(default)]
    pub boot: Boot,
    /// cloud-init settings baked into the image.
    #[serde(default)]
    pub cloud_init: CloudInit,
    /// Files copied into the image.
    #[serde(default)]
    pub overlay: Vec<Overlay>,
    /// How the root filesystem is compressed.
    #[serde(default)]
    pub squashfs: Squashfs,
    /// What the build produces: output kinds by name (`iso`, `pxe`; see [`crate::output`]).
    #[serde(default = "default_outputs")]
    pub outputs: Vec<String>,
    /// Settings of the `pxe` output.
    #[serde(default, skip_serializing_if = "Pxe::is_default")]
    pub pxe: Pxe,
}

/// Settings of the network boot bundle.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pxe {
    /// What the initrd fetches over HTTP as the root.
    #[serde(default)]
    pub root: PxeRoot,
}

impl Pxe {
    fn is_default(&self) -> bool {
        self == &Pxe::default()
    }
}

/// What a network boot fetches as its root.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PxeRoot {
    /// The root image alone (`filesystem.squashfs`, `squashfs.img`): the fewest bytes.
    #[default]
    Image,
    /// The whole ISO, as KIWI's stateless-PXE setups and casper's `url=` boot it: one file
    /// serves the virtual media and the network alike (dracut: `root=live:http://…/image.iso`,
    /// loop-mounted from RAM). Needs the `iso` output listed before `pxe`.
    Iso,
}

/// Distribution family and release.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Distro {
    /// The family's name (`debian`, `fedora`, ...; see [`crate::family`]).
    pub family: String,
    /// Release as the distribution writes it: `12`, `37`, `9`, `22.04`, `15.6`.
    pub release: String,
}

/// CPU architecture.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 64-bit x86 (the only one the boot loaders are set up for today).
    #[default]
    X86_64,
}

/// Where the root filesystem comes from; exactly one key.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Debian/Ubuntu root built with mmdebstrap.
    Bootstrap(Bootstrap),
    /// Fedora/Rocky built from a kickstart.
    Kickstart(Kickstart),
    /// An upstream live ISO, remastered with patch rules.
    UpstreamIso(UpstreamIso),
    /// A KIWI image description (SUSE).
    Kiwi(Kiwi),
}

impl Source {
    /// Points the source at a mirror (`liveboot build --mirror [NAME=]URL`): Debian's
    /// bootstrap mirror; a kickstart's `url` source (no name) or its repository NAME; a KIWI
    /// description's first repository (no name) or the one whose alias is NAME.
    pub fn set_mirror(&mut self, name: Option<&str>, url: &str) -> Result<(), String> {
        match (self, name) {
            (Source::Bootstrap(b), None) => b.mirror = url.to_string(),
            (Source::Kickstart(k), None) => k.mirror = Some(url.to_string()),
            (Source::Kickstart(k), Some(n)) => {
                k.repos.insert(n.to_string(), url.to_string());
            }
            (Source::Kiwi(k), None) => k.mirror = Some(url.to_string()),
            (Source::Kiwi(k), Some(n)) => {
                k.repos.insert(n.to_string(), url.to_string());
            }
            // A folder holding the release's files: the ISO and SHA256SUMS by their names.
            (Source::UpstreamIso(u), None) => {
                fn moved(base: &str, old: &str) -> String {
                    format!("{}/{}", base.trim_end_matches('/'), old.rsplit('/').next().unwrap_or(old))
                }
                u.url = moved(url, &u.url);
                u.sha256sums = u.sha256sums.as_deref().map(|s| moved(url, s));
            }
            (Source::UpstreamIso(_), Some(n)) => {
                return Err(format!(
                    "'{n}=': an upstream ISO has one source; write --mirror URL (a folder holding the ISO and SHA256SUMS)"
                ));
            }
            (Source::Bootstrap(_), Some(n)) => {
                return Err(format!("'{n}=': a bootstrap recipe has one mirror; write --mirror URL"));
            }
        }
        Ok(())
    }

    /// The key that selects this source in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Bootstrap(_) => "bootstrap",
            Source::Kickstart(_) => "kickstart",
            Source::UpstreamIso(_) => "upstream_iso",
            Source::Kiwi(_) => "kiwi",
        }
    }
}

/// mmdebstrap settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// Suite; defaults to the release's codename.
    pub suite: Option<String>,
    /// Mirror URL.
    #[serde(default = "default_mirror")]
    pub mirror: String,
    /// Archive components.
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    /// mmdebstrap variant.
    #[serde(default = "default_variant")]
    pub variant: String,
}

/// Kickstart settings: the kickstart says everything else (packages, repositories, scripts).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Kickstart {
    /// The kickstart file, relative to the recipe.
    pub file: String,
    /// A mirror that replaces the kickstart's `url` source; the kickstart's `repo` lines are
    /// then left out, unless `repos` names them.
    pub mirror: Option<String>,
    /// Replacements of the sources of the kickstart's `repo` lines, by repository name.
    #[serde(default)]
    pub repos: std::collections::BTreeMap<String, String>,
}

/// An upstream ISO and the edits it needs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamIso {
    /// Download URL.
    pub url: String,
    /// Expected SHA-256 of the ISO, if pinned.
    pub sha256: Option<String>,
    /// URL of a SHA256SUMS file listing the ISO, if not pinned.
    pub sha256sums: Option<String>,
    /// A GPG keyring (a file of the project) whose key must have signed the SHA256SUMS file
    /// (its detached signature `<sha256sums>.gpg`), like Ubuntu's `ubuntu-keyring`.
    pub keyring: Option<String>,
    /// Edits applied to files inside the ISO.
    #[serde(default)]
    pub patches: Vec<Patch>,
}

/// A find/replace edit of a text file inside an ISO.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// Path inside the ISO.
    pub file: String,
    /// Text to find.
    pub find: String,
    /// Replacement; `{kernel_args}` is replaced by the recipe's kernel arguments.
    pub replace: String,
    /// The build fails when fewer matches are found (upstream changed its menu).
    #[serde(default = "one")]
    pub min_matches: u32,
}

/// A KIWI description.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Kiwi {
    /// Folder holding `config.kiwi` or `config.xml`, relative to the recipe.
    pub description: String,
    /// KIWI profile to build.
    pub profile: Option<String>,
    /// A mirror that replaces the description's first repository (even one `repos` names);
    /// its other repositories are then left out, unless `repos` names them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// Replacements of the sources of the description's repositories, by their `alias`
    /// (KIWI's own build tests name `obsrepositories:/`, which exists only inside OBS).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub repos: std::collections::BTreeMap<String, String>,
}

/// Boot menu and kernel command line.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// Kernel arguments, one per item.
    #[serde(default)]
    pub kernel_args: Vec<String>,
    /// Menu timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout: u32,
    /// Serial console; `null` for none.
    #[serde(default)]
    pub serial: Option<Serial>,
    /// Firmware the image boots with.
    #[serde(default = "default_loaders")]
    pub loaders: Vec<Loader>,
    /// UEFI boots through the distribution's signed shim and GRUB, so that servers with Secure
    /// Boot on (the factory default of many) boot the image; `false` puts an unsigned GRUB
    /// built by grub-mkimage there instead.
    #[serde(default = "yes")]
    pub secure_boot: bool,
}

impl Default for Boot {
    fn default() -> Self {
        Boot { kernel_args: Vec::new(), timeout: default_timeout(), serial: None, loaders: default_loaders(), secure_boot: true }
    }
}

/// A serial console.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Serial {
    /// Linux device name.
    #[serde(default = "default_serial_port")]
    pub port: String,
    /// Baud rate.
    #[serde(default = "default_serial_speed")]
    pub speed: u32,
}

impl Serial {
    /// The port's unit number as loaders count them (`ttyS1` is 1).
    pub fn unit(&self) -> u32 {
        self.port.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0)
    }
}

/// Firmware kinds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Loader {
    /// Legacy BIOS (El Torito + isolinux, MBR for USB).
    Bios,
    /// UEFI (El Torito EFI image with GRUB, GPT for USB).
    Uefi,
}

/// cloud-init inside the image.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    /// Datasources cloud-init tries, in order; must include NoCloud.
    #[serde(default = "default_datasources")]
    pub datasources: Vec<String>,
    /// The locale cloud-init sets (its own default, en_US.UTF-8, fails on a root without that
    /// locale generated; C.UTF-8 is built into glibc).
    #[serde(default = "default_locale")]
    pub locale: String,
}

impl Default for CloudInit {
    fn default() -> Self {
        CloudInit { datasources: default_datasources(), locale: default_locale() }
    }
}

impl CloudInit {
    /// The cloud-init configuration file baked into the image.
    pub fn image_config(&self) -> String {
        format!(
            "# Written by liveboot.\n# Look for a NoCloud seed first.\ndatasource_list: [{}]\nlocale: {}\n# A live root is an overlay in memory: nothing to grow or resize.\nresize_rootfs: false\ngrowpart:\n  mode: \"off\"\n",
            self.datasources.join(", "),
            self.locale
        )
    }
}

/// A file copied into the image.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Source file, relative to the recipe.
    pub src: String,
    /// Absolute destination inside the image.
    pub dest: String,
    /// Octal permissions, e.g. "0644".
    pub mode: Option<String>,
}

/// squashfs compression.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Squashfs {
    /// Compressor.
    #[serde(default)]
    pub compression: Compression,
    /// Level; each compressor has its own range and default.
    pub level: Option<u32>,
}

impl Default for Squashfs {
    fn default() -> Self {
        Squashfs { compression: Compression::Zstd, level: None }
    }
}

/// squashfs compressors.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// zstd: everyday builds.
    #[default]
    Zstd,
    /// xz: releases (smallest).
    Xz,
    /// gzip: oldest kernels.
    Gzip,
    /// lz4: fastest.
    Lz4,
}

impl Compression {
    /// Name as mksquashfs takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
        }
    }

    /// Allowed levels and the default level, `None` when the compressor takes no level.
    pub fn levels(self) -> Option<(u32, u32, u32)> {
        match self {
            Compression::Zstd => Some((1, 22, 3)),
            Compression::Xz => None,
            Compression::Gzip => Some((1, 9, 9)),
            Compression::Lz4 => None,
        }
    }
}

fn default_outputs() -> Vec<String> {
    vec!["iso".to_string(), "pxe".to_string()]
}
fn default_mirror() -> String {
    "http://deb.debian.org/debian".to_string()
}
fn default_components() -> Vec<String> {
    vec!["main".to_string()]
}
fn default_variant() -> String {
    "apt".to_string()
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_timeout() -> u32 {
    5
}
fn default_loaders() -> Vec<Loader> {
    vec![Loader::Bios, Loader::Uefi]
}
fn default_serial_port() -> String {
    "ttyS0".to_string()
}
fn default_serial_speed() -> u32 {
    115200
}
fn default_locale() -> String {
    "C.UTF-8".to_string()
}
fn default_datasources() -> Vec<String> {
    vec!["NoCloud".to_string(), "None".to_string()]
}
