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
    /// Release day (00:00 UTC), seconds since 1970: the default SOURCE_DATE_EPOCH of its images.
    pub released: u64,
}

const fn r(family: Family, release: &'static str, codename: &'static str, released: u64) -> ReleaseInfo {
    ReleaseInfo { family, release, codename, released }
}

/// Every release a recipe may name.
/// Every release a recipe may name, with its release day.
pub const RELEASES: &[ReleaseInfo] = &[
    r(Family::Debian, "11", "bullseye", 1628899200),
    r(Family::Debian, "12", "bookworm", 1686355200),
    r(Family::Debian, "13", "trixie", 1754697600),
    r(Family::Ubuntu, "18.04", "bionic", 1524700800),
    r(Family::Ubuntu, "20.04", "focal", 1587600000),
    r(Family::Ubuntu, "22.04", "jammy", 1650499200),
    r(Family::Ubuntu, "24.04", "noble", 1714003200),
    r(Family::Fedora, "37", "", 1668470400),
    r(Family::Fedora, "38", "", 1681776000),
    r(Family::Fedora, "39", "", 1699315200),
    r(Family::Fedora, "40", "", 1713830400),
    r(Family::Fedora, "41", "", 1730160000),
    r(Family::Fedora, "42", "", 1744675200),
    r(Family::Fedora, "43", "", 1761609600),
    r(Family::Rocky, "8", "", 1624233600),
    r(Family::Rocky, "9", "", 1657756800),
    r(Family::Rocky, "10", "", 1749600000),
    r(Family::OpensuseLeap, "15.4", "", 1654646400),
    r(Family::OpensuseLeap, "15.5", "", 1686096000),
    r(Family::OpensuseLeap, "15.6", "", 1718150400),
    r(Family::OpensuseLeap, "16.0", "", 1759276800),
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
