//! What a KIWI description says once its profiles are applied and its build type chosen: the
//! fields liveboot builds from, in kiwi-ng's terms (`XMLState`'s).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// A description read for one choice of profiles and build type.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Description {
    /// The description file read (`config.xml`, `config.kiwi` or `*.kiwi`).
    pub file: PathBuf,
    /// `<image name>`.
    pub name: String,
    /// `<image displayname>`.
    pub displayname: Option<String>,
    /// `<image schemaversion>`.
    pub schemaversion: String,
    /// `<description>`'s author, contact and specification.
    pub author: String,
    pub contact: String,
    pub specification: String,
    /// Every profile the description declares (for this architecture).
    pub declared_profiles: Vec<Profile>,
    /// The profiles applied: the ones asked for and those they require, or the `import="true"`
    /// ones when none was asked for.
    pub profiles: Vec<String>,
    /// The build type: the one asked for, else the `primary` one, else the first.
    #[serde(rename = "type")]
    pub build_type: ImageType,
    /// The other build types the applied sections offer (`image` values).
    pub other_types: Vec<String>,
    /// `<version>`.
    pub version: Option<String>,
    /// `<packagemanager>` (kiwi's default, zypper, when none is set).
    pub packagemanager: String,
    /// `<locale>`, split at commas.
    pub locale: Option<Vec<String>>,
    pub keytable: Option<String>,
    pub timezone: Option<String>,
    pub rpm_check_signatures: bool,
    pub rpm_excludedocs: bool,
    /// The repositories, in order.
    pub repositories: Vec<Repository>,
    pub packages: Packages,
    /// The users (first entry of a name wins; its groups are every entry's, in order).
    pub users: Vec<User>,
    /// The hook scripts beside the description (`config.sh`, `images.sh`, …).
    pub scripts: Vec<String>,
    /// Whether a `root/` overlay tree is beside it.
    pub overlay: bool,
    /// A `config-cdroot.tar*` beside it.
    pub cdroot: Option<String>,
}

/// A `<profile>`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Applied when no profile is asked for.
    pub import: bool,
    /// Profiles applied with it (`<requires profile=…>`).
    pub requires: Vec<String>,
}

/// The build `<type>` and its `<bootloader>`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageType {
    /// `image`: iso, oem, pxe, kis, …
    pub image: String,
    pub primary: bool,
    pub firmware: Option<String>,
    pub kernelcmdline: Option<String>,
    pub volid: Option<String>,
    pub flags: Option<String>,
    pub filesystem: Option<String>,
    pub hybridpersistent: Option<bool>,
    pub hybridpersistent_filesystem: Option<String>,
    /// dracut for iso (always), oem and kis; kiwi for pxe; `initrd_system` where a type allows a
    /// choice.
    pub initrd_system: String,
    pub bootloader: Option<String>,
    /// `[output, input]` console, empty for none (schema 7's single `console` sets both).
    pub bootloader_console: Option<Vec<String>>,
    pub bootloader_timeout: Option<u32>,
    /// Every attribute as written, for what the fields above do not name.
    pub attributes: BTreeMap<String, String>,
    /// Where it is: `file:line`.
    pub at: String,
}

/// A `<repository>` and its `<source>`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Repository {
    /// `type`; none: the package manager's own kind (rpm-md for zypper and dnf).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub alias: Option<String>,
    pub priority: Option<i64>,
    pub imageinclude: bool,
    pub path: String,
    pub distribution: Option<String>,
    pub components: Option<String>,
    pub at: String,
}

/// The packages of the applied `<packages>` sections, each list sorted and without repeats (as
/// kiwi-ng installs them).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Packages {
    /// `type="bootstrap"`: installed into the empty root first.
    pub bootstrap: Vec<String>,
    /// `type="image"` and `type="<build type>"`: installed into the bootstrapped root.
    pub image: Vec<String>,
    /// `type="delete"`: removed, dependencies ignored.
    pub delete: Vec<String>,
    /// `type="uninstall"`: removed with what only they need.
    pub uninstall: Vec<String>,
    /// `<namedCollection>`s (patterns) of bootstrap sections (kiwi also counts the build type's).
    pub bootstrap_collections: Vec<String>,
    /// `<namedCollection>`s of image sections.
    pub image_collections: Vec<String>,
    /// `<archive>`s unpacked into the root.
    pub bootstrap_archives: Vec<String>,
    pub image_archives: Vec<String>,
    /// `<ignore>`d packages of image sections.
    pub ignore: Vec<String>,
}

/// A `<user>`; the password itself is never kept, only whether one is set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub home: Option<String>,
    pub shell: Option<String>,
    pub password: bool,
}
