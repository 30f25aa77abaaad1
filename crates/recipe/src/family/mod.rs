//! Distribution families: one module each, behind the [`Family`] trait.
//!
//! A family is everything liveboot knows about one distribution: the releases it has (and their
//! release days, the default SOURCE_DATE_EPOCH), the sources (descriptions) it can be built
//! from, what a recipe of it must satisfy beyond the common checks, the host packages its stages
//! use, the stages that make its root image, kernel and initrd, and the live-root scheme its
//! media boot with. Nothing outside a family's module asks which family a recipe is: the
//! [`Registry`](crate::Registry) finds the family by name and everything else goes through it.
//!
//! Adding a family is a new module here and one line in [`builtin`]; a family may also be
//! registered from outside the crate (a test does) with
//! [`Registry::with_family`](crate::Registry::with_family).

mod debian;
mod fedora;
mod kickstart;
mod kiwi;
mod rpmlive;
mod suse;
mod ubuntu;
mod upstream;

use std::sync::Arc;

use liveboot_yaml::Diagnostic;
use serde::Serialize;

use crate::plan::{Action, Builder, Place, Root};
use crate::{Check, Recipe};

pub use debian::{bootstrap_stages, validate_bootstrap, Debian};
pub use fedora::Kickstarted;
pub use suse::Suse;
pub use ubuntu::Ubuntu;

/// One release of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Release {
    /// Release as recipes write it (`12`, `22.04`, `15.6`).
    pub release: &'static str,
    /// Codename (Debian/Ubuntu suites), or "" where the family has none.
    pub codename: &'static str,
    /// Release day (00:00 UTC), seconds since 1970: the default SOURCE_DATE_EPOCH of its images.
    pub released: u64,
}

/// A release, written compactly in the tables of the family modules.
pub const fn release(release: &'static str, codename: &'static str, released: u64) -> Release {
    Release { release, codename, released }
}

/// How a live medium boots its root: where kernel, initrd and root image lie on the medium,
/// and the kernel argument that fetches the root image when booting over the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LiveScheme {
    /// Its name (`live-boot`, `dracut`, `casper`, `kiwi`).
    pub name: &'static str,
    /// Kernel, path on the medium.
    pub kernel: &'static str,
    /// Initrd, path on the medium.
    pub initrd: &'static str,
    /// Root image, path on the medium.
    pub root: &'static str,
    /// The kernel argument that fetches the root image over HTTP, with `{url}` for the folder.
    pub netboot_arg: &'static str,
    /// The kernel argument that fetches the whole ISO over HTTP instead (`pxe.root: iso`); none
    /// when the initrd cannot boot from a fetched ISO.
    pub netboot_iso_arg: Option<&'static str>,
    /// The kernel argument that names the medium booted from, with `{uuid}` for the ISO's
    /// volume UUID; none when the initrd finds its medium by itself.
    pub medium_arg: Option<&'static str>,
    /// The kernel argument that copies the root image to RAM before mounting it, so that the
    /// medium (a BMC's virtual media) can go away after boot.
    pub to_ram_arg: &'static str,
    /// Where the running system finds the medium it booted from (a NoCloud seed embedded in
    /// the ISO is read from `<medium_mount>/nocloud/`).
    pub medium_mount: &'static str,
}

/// Every live-root scheme liveboot knows.
pub const SCHEMES: [&LiveScheme; 4] = [&LIVE_BOOT, &DRACUT, &CASPER, &KIWI_LIVE];

/// The scheme of an ISO built by someone else, by where its kernel is (`has` answers whether
/// a path exists on the ISO).
pub fn scheme_of(has: impl Fn(&str) -> bool) -> Option<&'static LiveScheme> {
    SCHEMES.into_iter().find(|s| has(s.kernel))
}

/// Debian's live-boot: `live/filesystem.squashfs`.
pub const LIVE_BOOT: LiveScheme = LiveScheme {
    name: "live-boot",
    kernel: "live/vmlinuz",
    initrd: "live/initrd.img",
    root: "live/filesystem.squashfs",
    netboot_arg: "fetch={url}/filesystem.squashfs",
    netboot_iso_arg: None,
    medium_arg: None,
    to_ram_arg: "toram",
    medium_mount: "/run/live/medium",
};

/// dracut's dmsquash-live (Fedora, Rocky; Debian with `live_root: dracut`): `LiveOS/squashfs.img`
/// (the root squashed flat, an overlay in RAM over it), kernel in `images/pxeboot`, the medium
/// named by its volume UUID (two media with one label on a server confuse `CDLABEL=`).
pub const DRACUT: LiveScheme = LiveScheme {
    name: "dracut",
    kernel: "images/pxeboot/vmlinuz",
    initrd: "images/pxeboot/initrd.img",
    root: "LiveOS/squashfs.img",
    // livenet needs the network up in the initrd: DHCP on every interface.
    netboot_arg: "root=live:{url}/squashfs.img ip=dhcp rd.neednet=1",
    // livenet downloads the file into the initrd's RAM and loop-mounts a `.iso`.
    netboot_iso_arg: Some("root=live:{url}/image.iso ip=dhcp rd.neednet=1"),
    medium_arg: Some("root=live:UUID={uuid}"),
    to_ram_arg: "rd.live.ram=1",
    medium_mount: "/run/initramfs/live",
};

/// Ubuntu's casper: `casper/`, netbooted from the whole ISO.
pub const CASPER: LiveScheme = LiveScheme {
    name: "casper",
    kernel: "casper/vmlinuz",
    initrd: "casper/initrd",
    root: "casper/filesystem.squashfs",
    netboot_arg: "url={url}/image.iso",
    netboot_iso_arg: Some("url={url}/image.iso"),
    medium_arg: None,
    to_ram_arg: "toram",
    medium_mount: "/cdrom",
};

/// KIWI's live ISO layout (dracut underneath): kernel under `boot/x86_64/loader`.
pub const KIWI_LIVE: LiveScheme = LiveScheme {
    name: "kiwi",
    kernel: "boot/x86_64/loader/linux",
    initrd: "boot/x86_64/loader/initrd",
    root: "LiveOS/squashfs.img",
    netboot_arg: "root=live:{url}/squashfs.img ip=dhcp rd.neednet=1",
    netboot_iso_arg: Some("root=live:{url}/image.iso ip=dhcp rd.neednet=1"),
    medium_arg: None,
    to_ram_arg: "rd.live.ram=1",
    medium_mount: "/run/initramfs/live",
};

/// What a family is, as plain data.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The name recipes write in `distro.family`.
    pub name: &'static str,
    /// The releases a recipe may name.
    pub releases: &'static [Release],
    /// The source kinds (`source:` keys) it can be built from, preferred first.
    pub sources: &'static [&'static str],
    /// The live-root schemes its media may use (for tools that look inside any built ISO).
    pub schemes: &'static [&'static LiveScheme],
    /// Debian packages of the build host whose programs or files its stages use; their
    /// versions are inputs of the stages that use them.
    pub host_packages: &'static [&'static str],
}

/// Everything family-specific. Implemented once per distribution family.
pub trait Family: Send + Sync {
    /// What it is: name, releases, sources, live-root schemes, host packages.
    fn facts(&self) -> &Facts;

    /// The name recipes write in `distro.family`.
    fn name(&self) -> &'static str {
        self.facts().name
    }

    /// The releases a recipe may name.
    fn releases(&self) -> &'static [Release] {
        self.facts().releases
    }

    /// The source kinds (`source:` keys) it can be built from, preferred first.
    fn sources(&self) -> &'static [&'static str] {
        self.facts().sources
    }

    /// Checks a recipe of this family beyond the common checks (its source's settings, its
    /// package names); called only when the source kind is one of [`Family::sources`].
    fn validate(&self, recipe: &Recipe, check: &mut Check);

    /// Adds the stages that make the root image, kernel and initrd; says where they are.
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic>;

    /// Whether `liveboot build` can build this recipe here and now; `Err` says why not and what
    /// to do instead.
    fn buildable(&self, recipe: &Recipe) -> Result<(), String>;

    /// Whether building it needs root: a root filesystem holds files of other owners, device
    /// nodes and file capabilities; remastering someone else's ISO needs none of that.
    fn needs_root(&self, _recipe: &Recipe) -> bool {
        true
    }
}

impl std::fmt::Debug for dyn Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Family({})", self.name())
    }
}

/// The families liveboot ships.
pub fn builtin() -> Vec<Arc<dyn Family>> {
    vec![
        Arc::new(Debian),
        Arc::new(Ubuntu),
        Arc::new(fedora::Kickstarted(&fedora::FEDORA)),
        Arc::new(fedora::Kickstarted(&fedora::ROCKY)),
        Arc::new(Suse),
    ]
}

/// Files every live root gets. An image boots without a datasource only if sshd can start, so
/// it makes its own host keys when they are missing (Debian's unit is `ssh`, Fedora's `sshd`).
pub(crate) const SSH_HOST_KEYS_DROPIN: &str =
    "[Service]\n# Host keys are removed from the image so that each boot has its own.\nExecStartPre=/usr/bin/ssh-keygen -A\n";

/// The `squashfs` stage: the root filesystem `{<from>}/rootfs` compressed (xattrs, hard links,
/// all cores) as the recipe's `squashfs:` says. Returns the image.
pub(crate) fn squashfs_stage(b: &mut Builder, from: &str) -> Result<Place, Diagnostic> {
    let sq = &b.recipe.spec.squashfs;
    let mut argv = vec![
        "mksquashfs".to_string(),
        format!("{{{from}}}/rootfs"),
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
    let env = b.epoch_env();
    b.add(
        "squashfs",
        "compress the root filesystem (mksquashfs: xattrs, hard links, all cores)",
        &["filesystem.squashfs"],
        inputs,
        vec![Action::run_env(argv, env)],
    )?;
    Ok(Place::stage("squashfs", "filesystem.squashfs"))
}

/// Whether `u` is a URL of one of `schemes` (`"http://"`, `"file:/"`, …) with no blank or
/// control character: the check of every mirror and repository a recipe or description names.
pub(crate) fn is_url(u: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|s| u.starts_with(s)) && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether the host has the programs a family's stages run (`Family::buildable`): `Err` names
/// the missing ones and the Debian packages that bring them.
pub(crate) fn needs_programs(recipe: &Recipe, programs: &[&str]) -> Result<(), String> {
    let on_path = |p: &str| std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()));
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: building '{}' needs {} on this host\n  help: apt install {} (`cargo xtask deps` does)",
        recipe.file.display(),
        recipe.spec.name,
        missing.join(" and "),
        programs.join(" ")
    ))
}

/// The "not yet" answer of families whose builds are still to come.
pub(crate) fn not_yet(recipe: &Recipe) -> Result<(), String> {
    Err(format!(
        "{}: building '{}' recipes is not implemented yet; today `liveboot build` builds `source: bootstrap` (Debian) recipes\n  help: `liveboot plan {}` shows what the build will run",
        recipe.file.display(),
        recipe.spec.source.kind(),
        recipe.spec.name
    ))
}
