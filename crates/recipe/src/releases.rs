//! The releases liveboot knows, and which source each family builds from.

use crate::Family;

/// One known release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// Family.
    pub family: Family,
    /// Release as recipes write it.
    pub release: &'static str,
    /// Codename (Debian/Ubuntu suites), or "" where the family has none.
    pub codename: &'static str,
}

const fn r(family: Family, release: &'static str, codename: &'static str) -> ReleaseInfo {
    ReleaseInfo { family, release, codename }
}

/// Every release a recipe may name.
pub const RELEASES: &[ReleaseInfo] = &[
    r(Family::Debian, "11", "bullseye"),
    r(Family::Debian, "12", "bookworm"),
    r(Family::Debian, "13", "trixie"),
    r(Family::Ubuntu, "18.04", "bionic"),
    r(Family::Ubuntu, "20.04", "focal"),
    r(Family::Ubuntu, "22.04", "jammy"),
    r(Family::Ubuntu, "24.04", "noble"),
    r(Family::Fedora, "37", ""),
    r(Family::Fedora, "38", ""),
    r(Family::Fedora, "39", ""),
    r(Family::Fedora, "40", ""),
    r(Family::Fedora, "41", ""),
    r(Family::Fedora, "42", ""),
    r(Family::Fedora, "43", ""),
    r(Family::Rocky, "8", ""),
    r(Family::Rocky, "9", ""),
    r(Family::Rocky, "10", ""),
    r(Family::OpensuseLeap, "15.4", ""),
    r(Family::OpensuseLeap, "15.5", ""),
    r(Family::OpensuseLeap, "15.6", ""),
    r(Family::OpensuseLeap, "16.0", ""),
];

/// The release entry, if known.
pub fn release_info(family: Family, release: &str) -> Option<&'static ReleaseInfo> {
    RELEASES.iter().find(|r| r.family == family && r.release == release)
}

/// The releases of a family, for "use one of" messages.
pub fn releases_of(family: Family) -> Vec<&'static str> {
    RELEASES.iter().filter(|r| r.family == family).map(|r| r.release).collect()
}

/// The sources a family can be built from.
pub fn sources_for(family: Family) -> &'static [&'static str] {
    match family {
        Family::Debian => &["bootstrap"],
        Family::Ubuntu => &["upstream_iso", "bootstrap"],
        Family::Fedora | Family::Rocky => &["kickstart"],
        Family::OpensuseLeap => &["kiwi"],
    }
}
