//! Fedora and Rocky: built natively from a kickstart (`kickstart.rs`: the host's `dnf
//! --installroot`, the kickstart's commands and scripts, dracut's LiveOS layout). The two differ
//! only in their facts: releases, where rpm keeps its database, where their signed loaders lie
//! (as Rocky's installer in mkosi inherits CentOS's).

use liveboot_yaml::Diagnostic;

use super::{kickstart, release, Facts, Family, DRACUT};
use crate::plan::{Builder, Root};
use crate::{key_path, Check, Recipe, Source};

/// A family whose images come from kickstarts: Fedora, Rocky.
pub struct Kickstarted(pub &'static RpmFacts);

/// What liveboot knows about an RPM distribution beyond the common facts.
#[derive(Debug)]
pub struct RpmFacts {
    /// The common facts.
    pub facts: Facts,
    /// The folder of its signed loaders under `/boot/efi/EFI/` (shim-x64, grub2-efi-x64-cdboot).
    pub efi_dir: &'static str,
    /// Where rpm keeps its database in a root of `release` (Debian's rpm would put it in
    /// `~/.rpmdb`).
    pub rpmdb: fn(release: &str) -> &'static str,
    /// Packages every live root of it gets besides the kickstart's: what dracut's LiveOS layout
    /// needs (dmsquash-live, livenet) and what liveboot's images are for (cloud-init, sshd).
    pub live_packages: &'static [&'static str],
    /// The signed loaders Secure Boot media take from the root.
    pub loader_packages: &'static [&'static str],
    /// dracut's configuration of the live initrd.
    pub dracut_conf: &'static [&'static str],
}

const HOST_PACKAGES: &[&str] = &["dnf", "rpm", "squashfs-tools"];

/// Fedora.
pub static FEDORA: RpmFacts = RpmFacts {
    facts: Facts {
        name: "fedora",
        releases: &[
            release("37", "", 1668470400),
            release("38", "", 1681776000),
            release("39", "", 1699315200),
            release("40", "", 1713830400),
            release("41", "", 1730160000),
            release("42", "", 1744675200),
            release("43", "", 1761609600),
        ],
        sources: &["kickstart"],
        schemes: &[&DRACUT],
        host_packages: HOST_PACKAGES,
    },
    efi_dir: "fedora",
    rpmdb: |_| "/usr/lib/sysimage/rpm",
    live_packages: &["dracut-live", "dracut-network", "cloud-init", "openssh-server"],
    loader_packages: &["shim-x64", "grub2-efi-x64-cdboot"],
    dracut_conf: &["hostonly=\"no\"", "add_dracutmodules+=\" dmsquash-live livenet \""],
};

/// Rocky Linux.
pub static ROCKY: RpmFacts = RpmFacts {
    facts: Facts {
        name: "rocky",
        releases: &[release("8", "", 1624233600), release("9", "", 1657756800), release("10", "", 1749600000)],
        ..FEDORA.facts
    },
    efi_dir: "rocky",
    // RHEL moved the database with RHEL 10.
    rpmdb: |release| if release.starts_with('8') || release.starts_with('9') { "/var/lib/rpm" } else { "/usr/lib/sysimage/rpm" },
    ..FEDORA
};

/// RPM package names as kickstart `%packages` takes them: names, groups (`@core`) and
/// exclusions (`-pkg`).
pub(crate) fn is_rpm_package_name(p: &str) -> bool {
    let name = p.trim_start_matches(['@', '-']);
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
}

impl Family for Kickstarted {
    fn facts(&self) -> &Facts {
        &self.0.facts
    }
    fn validate(&self, recipe: &Recipe, check: &mut Check) {
        if let Source::Kickstart(k) = &recipe.spec.source {
            check.file_exists(key_path!["source", "kickstart", "file"], &k.file, "kickstart file", false);
            kickstart::validate(recipe, k, check);
        }
        check.package_names(recipe, is_rpm_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        let Source::Kickstart(ks) = &b.recipe.spec.source else { unreachable!("validated: {} builds from kickstarts", self.0.facts.name) };
        let ks = ks.clone();
        kickstart::stages(b, &ks, self.0)
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        super::needs_programs(recipe, &["dnf", "rpm"])
    }
}
