//! Debian: mmdebstrap, then customisation, then squashfs; live-boot boots it. A Debian live
//! ISO built elsewhere can be remastered like Ubuntu's (`source: upstream_iso`); a KIWI
//! description with `packagemanager` apt builds with the same stages (`source: kiwi`).
//! Ubuntu recipes built from packages (`source: bootstrap`) use the same stages.

use liveboot_yaml::Diagnostic;

use super::kiwi::AptSteps;
use super::{release, Facts, Family, LiveScheme, DRACUT, LIVE_BOOT};
use crate::plan::{Action, Builder, PackageDb, Place, Root, Text};
use crate::{key_path, Bootstrap, Check, Recipe, Source};

/// Debian.
pub struct Debian;

const FACTS: Facts = Facts {
    name: "debian",
    releases: &[release("11", "bullseye", 1628899200), release("12", "bookworm", 1686355200), release("13", "trixie", 1754697600)],
    sources: &["bootstrap", "upstream_iso", "kiwi"],
    schemes: &[&LIVE_BOOT, &DRACUT],
    host_packages: HOST_PACKAGES,
};

impl Family for Debian {
    fn facts(&self) -> &Facts {
        &FACTS
    }
    fn validate(&self, recipe: &Recipe, check: &mut Check) {
        match &recipe.spec.source {
            Source::Bootstrap(b) => validate_bootstrap(b, check),
            Source::UpstreamIso(u) => super::upstream::validate_upstream(recipe, u, check),
            Source::Kiwi(k) => super::kiwi::validate(recipe, k, "apt", "debian", check),
            _ => {}
        }
        check.package_names(recipe, is_debian_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        match &b.recipe.spec.source {
            Source::Bootstrap(bs) => bootstrap_stages(b, bs),
            // A Debian live ISO built elsewhere (by live-build, or liveboot on another machine).
            Source::UpstreamIso(u) => super::upstream::upstream_stages(b, u, &LIVE_BOOT),
            Source::Kiwi(k) => {
                let steps = super::kiwi::apt_steps(b, k)?;
                let bs = Bootstrap {
                    suite: Some(steps.suite.clone()),
                    mirror: steps.mirror.clone(),
                    components: steps.components.clone(),
                    variant: "apt".into(),
                };
                rootfs_stages(b, &bs, &steps)
            }
            other => unreachable!("validated: debian builds from bootstrap, upstream_iso or kiwi, not {}", other.kind()),
        }
    }
    fn buildable(&self, _: &Recipe) -> Result<(), String> {
        Ok(())
    }
    fn needs_root(&self, recipe: &Recipe) -> bool {
        !matches!(recipe.spec.source, Source::UpstreamIso(_))
    }
}

/// The host packages the bootstrap stages use.
pub(crate) const HOST_PACKAGES: &[&str] = &["mmdebstrap", "squashfs-tools"];

/// Debian package names (policy §5.6.1): lower case, digits, `+-.`, at least two characters.
pub(crate) fn is_debian_package_name(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(c))
}

/// Checks of `source: bootstrap`.
pub fn validate_bootstrap(b: &Bootstrap, c: &mut Check) {
    if !(b.mirror.starts_with("http://") || b.mirror.starts_with("https://") || b.mirror.starts_with("file:/"))
        || b.mirror.chars().any(|ch| ch.is_whitespace() || ch.is_control())
    {
        c.at(
            key_path!["source", "bootstrap", "mirror"],
            format!("the mirror '{}' is not a URL", b.mirror),
            "write an http://, https:// or file:/ URL",
        );
    }
    if b.components.is_empty() {
        c.at(key_path!["source", "bootstrap", "components"], "no archive components", "list at least 'main'");
    }
    for (i, comp) in b.components.iter().enumerate() {
        if comp.is_empty() || !comp.bytes().all(|ch| ch.is_ascii_alphanumeric() || b"-_./".contains(&ch)) {
            c.at(
                key_path!["source", "bootstrap", "components", i],
                format!("'{}' is not an archive component", comp.escape_debug()),
                "write a component name such as main, contrib or non-free-firmware",
            );
        }
    }
    if let Some(s) = &b.suite {
        if s.is_empty() || !s.bytes().all(|ch| ch.is_ascii_alphanumeric() || b"-_.".contains(&ch)) {
            c.at(
                key_path!["source", "bootstrap", "suite"],
                format!("'{}' is not a suite name", s.escape_debug()),
                "write a suite such as bookworm",
            );
        }
    }
    const VARIANTS: &[&str] =
        &["extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important", "debootstrap", "standard"];
    if !VARIANTS.contains(&b.variant.as_str()) {
        c.at(
            key_path!["source", "bootstrap", "variant"],
            format!("unknown mmdebstrap variant '{}'", b.variant),
            format!("use one of {}", VARIANTS.join(", ")),
        );
    }
}

/// The stages of a root built from packages with mmdebstrap: `rootfs`, `customize`, `squashfs`.
pub fn bootstrap_stages(b: &mut Builder, bs: &Bootstrap) -> Result<Root, Diagnostic> {
    rootfs_stages(b, bs, &AptSteps::default())
}

/// [`bootstrap_stages`] with what a KIWI description adds: its other repositories, packages,
/// and hooks (deletions, archives, overlay, config.sh) before the live initrd is built.
fn rootfs_stages(b: &mut Builder, bs: &Bootstrap, extra: &AptSteps) -> Result<Root, Diagnostic> {
    let spec = &b.recipe.spec;
    let suite = bs.suite.clone().unwrap_or_else(|| b.release().codename.to_string());

    let mut inputs = vec![
        b.part("source", &spec.source),
        b.part("packages", &spec.packages),
        b.part("distro", &spec.distro),
        b.part("arch", &spec.arch),
        b.tool("mmdebstrap"),
    ];
    inputs.extend(b.epoch());
    inputs.extend(extra.inputs.iter().cloned());
    let mut argv: Vec<Text> = vec![
        "mmdebstrap".into(),
        // unshare: as root, correct ownership and a private mount namespace, so that a killed
        // build leaves no /proc or /sys mounted behind.
        "--mode=unshare".into(),
        Text::lit(format!("--variant={}", bs.variant)),
        "--architectures=amd64".into(),
        Text::lit(format!("--components={}", bs.components.join(","))),
    ];
    let mut packages: Vec<&String> = extra.packages.iter().collect();
    packages.extend(spec.packages.iter().filter(|p| !extra.packages.contains(p)));
    if !packages.is_empty() {
        argv.push(Text::lit(format!("--include={}", packages.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","))));
    }
    argv.extend(extra.hooks.iter().cloned());
    let scheme = live_scheme(b.recipe);
    if scheme.name == DRACUT.name {
        // dracut's configuration must be there before the kernel and dracut are installed (their
        // postinst scripts build the initrd); then the initrd is built once more with everything
        // in place. A live initrd is generic (no host-only), finds its medium (dmsquash-live)
        // or fetches the root over HTTP (livenet).
        argv.push(Text::lit(format!(
            "--essential-hook=mkdir -p \"$1\"/etc/dracut.conf.d && printf '%s\\n' {} > \"$1\"/etc/dracut.conf.d/90-liveboot.conf",
            DRACUT_CONF.iter().map(|l| format!("'{l}'")).collect::<Vec<_>>().join(" ")
        )));
        argv.push("--customize-hook=chroot \"$1\" dracut --force --regenerate-all".into());
    }
    // Downloaded packages are kept in {cache}/apt between builds.
    argv.extend([
        "--skip=essential/unlink".into(),
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/".into(),
        "--setup-hook=sync-in {cache}/apt /var/cache/apt/archives/".into(),
        "--customize-hook=sync-out /var/cache/apt/archives {cache}/apt".into(),
        Text::lit(suite),
        "{self}/rootfs".into(),
        Text::lit(bs.mirror.clone()),
    ]);
    argv.extend(extra.sources.iter().map(|s| Text::lit(s.clone())));
    let env = b.epoch_env();
    b.add(
        "rootfs",
        "bootstrap the root filesystem with mmdebstrap",
        &["rootfs"],
        inputs,
        [Action::MakeDir { path: "{cache}/apt".into() }]
            .into_iter()
            .chain(extra.before.iter().cloned())
            .chain([Action::run_env(argv, env)])
            .collect(),
    )?;

    let mut inputs = vec![b.part("cloud_init", &spec.cloud_init)];
    let mut actions = vec![Action::LinkTree { src: "{rootfs}/rootfs".into(), dest: "{self}/rootfs".into() }];
    for (i, o) in spec.overlay.iter().enumerate() {
        let src = b.source_path(&["overlay".into(), i.into(), "src".into()], &o.src);
        inputs.push(b.file(&src)?);
        actions.push(Action::Copy { src: src.into(), dest: Place::own(&format!("rootfs{}", o.dest)).into(), mode: o.mode.clone() });
    }
    let cfg = spec.cloud_init.image_config();
    actions.extend([
        Action::Write { dest: "{self}/rootfs/etc/cloud/cloud.cfg.d/90_liveboot.cfg".into(), content: cfg, mode: Some("0644".into()) },
        Action::Write { dest: "{self}/rootfs/etc/hostname".into(), content: "localhost\n".into(), mode: Some("0644".into()) },
        Action::Write { dest: "{self}/rootfs/etc/machine-id".into(), content: String::new(), mode: Some("0444".into()) },
        Action::Remove { paths: vec!["{self}/rootfs/etc/ssh/ssh_host_*".into(), "{self}/rootfs/var/lib/dbus/machine-id".into()] },
        Action::Write {
            dest: "{self}/rootfs/etc/systemd/system/ssh.service.d/10-liveboot-host-keys.conf".into(),
            content: super::SSH_HOST_KEYS_DROPIN.into(),
            mode: Some("0644".into()),
        },
        // apt touches this folder only when it downloads something, so its time would tell
        // whether the package cache was warm: pin it, so that the image does not depend on that.
        Action::PinTimes { dir: "{self}/rootfs/var/cache/apt/archives/partial".into() },
        Action::BootFiles { rootfs: "{self}/rootfs".into(), dest: "{self}".into() },
        Action::Packages { rootfs: "{self}/rootfs".into(), dest: "{self}/packages.txt".into(), db: PackageDb::Dpkg },
    ]);
    b.add(
        "customize",
        "overlay files, cloud-init datasources, per-boot identity, kernel and initrd",
        &["rootfs", "vmlinuz", "initrd.img", "kernel-version", "packages.txt"],
        inputs,
        actions,
    )?;

    let image = super::squashfs_stage(b, "customize")?;

    Ok(Root {
        kernel: Place::stage("customize", "vmlinuz"),
        initrd: Place::stage("customize", "initrd.img"),
        image,
        scheme,
        remaster: None,
        loaders: None,
    })
}

/// dracut's configuration in a Debian root whose live-root scheme is dracut: the common one,
/// with the network for livenet from dracut's `network-legacy` (dhclient, ip): its default in a
/// systemd root would be systemd-networkd, which needs D-Bus in the initrd.
const DRACUT_CONF: &[&str] = &["hostonly=\"no\"", "add_dracutmodules+=\" dmsquash-live network-legacy livenet \""];

/// The live-root scheme a bootstrapped root boots with: the recipe's `live_root`, else
/// live-boot.
fn live_scheme(recipe: &Recipe) -> &'static LiveScheme {
    match recipe.spec.live_root.as_deref() {
        Some(name) if name == DRACUT.name => &DRACUT,
        _ => &LIVE_BOOT,
    }
}
