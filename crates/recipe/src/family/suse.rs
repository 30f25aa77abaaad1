//! openSUSE Leap from a KIWI description (`packagemanager` zypper), natively on any host with
//! zypper and rpm (Debian packages both): what kiwi-ng's `system build` does on a SUSE host.
//!
//! Three stages. `rootfs`: the description's repositories (or the recipe's replacements)
//! checked within seconds, then the host's `zypper --root` installs the bootstrap packages into
//! the empty root and then the image packages, the patterns (`<namedCollection>`, asked for as
//! the `pattern() = NAME` capability that Leap's package-based patterns provide: Debian's
//! libsolv makes no `pattern:` solvables of them), the recipe's packages and what a live root
//! needs; downloads kept in `{cache}/zypper`. `configure`: a copy of that root gets the
//! description's archives and `root/` overlay, cloud-init's settings, `config.sh` run in the
//! root with KIWI's variables and helpers, then its `uninstall` packages removed with what only
//! they needed and its `delete` packages with dependencies ignored (kiwi-ng's order: after
//! config.sh), `images.sh`, a per-boot identity and the live initrd built by the root's dracut
//! (dmsquash-live). `squashfs`: the root, flat, as `LiveOS/squashfs.img`.

use liveboot_kiwi::Description;
use liveboot_yaml::Diagnostic;

use super::fedora::is_rpm_package_name;
use super::kiwi::{self, child, Repo};
use super::rpmlive::{self, in_root};
use super::{release, squashfs_stage, Facts, Family, DRACUT};
use crate::plan::{Action, Builder, Place, Root, SignedLoaders, Text};
use crate::{key_path, Check, Kiwi, Loader, Recipe, Source};

/// openSUSE Leap.
pub struct Suse;

const FACTS: Facts = Facts {
    name: "opensuse-leap",
    releases: &[
        release("15.4", "", 1654646400),
        release("15.5", "", 1686096000),
        release("15.6", "", 1718150400),
        release("16.0", "", 1759276800),
    ],
    sources: &["kiwi"],
    schemes: &[&DRACUT],
    host_packages: &["zypper", "rpm", "squashfs-tools"],
};

/// Where Leap's rpm keeps its database (`/var/lib/rpm` links there).
const RPMDB: &str = "/usr/lib/sysimage/rpm";

/// What every live root gets besides the description's packages: dracut (its dmsquash-live and
/// livenet modules), curl for livenet, cloud-init and the SSH server.
const LIVE_PACKAGES: &[&str] = &["dracut", "curl", "cloud-init", "openssh"];

/// The signed loaders Secure Boot media take from the root, and where they lie in it.
const LOADER_PACKAGES: &[&str] = &["shim", "grub2-x86_64-efi"];
const EFI_DIR: &str = "usr/share/efi/x86_64";

const DRACUT_CONF: &[&str] = &["hostonly=\"no\"", "add_dracutmodules+=\" dmsquash-live livenet \""];

impl Family for Suse {
    fn facts(&self) -> &Facts {
        &FACTS
    }
    fn validate(&self, recipe: &Recipe, c: &mut Check) {
        if let Source::Kiwi(k) = &recipe.spec.source {
            kiwi::validate(recipe, k, "zypper", FACTS.name, c);
        }
        c.package_names(recipe, is_rpm_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        let Source::Kiwi(k) = &b.recipe.spec.source else { unreachable!("validated: opensuse-leap builds from KIWI descriptions") };
        let k = k.clone();
        let d = kiwi::description(b, &k)?;
        let secure_uefi = b.recipe.spec.boot.secure_boot && b.recipe.spec.boot.loaders.contains(&Loader::Uefi);
        rootfs_stage(b, &k, &d, secure_uefi)?;
        configure_stage(b, &k, &d)?;
        let image = squashfs_stage(b, "configure")?;
        let efi = |name: &str| Place::stage("configure", &format!("rootfs/{EFI_DIR}/{name}"));
        Ok(Root {
            kernel: Place::stage("configure", "vmlinuz"),
            initrd: Place::stage("configure", "initrd.img"),
            image,
            scheme: &DRACUT,
            remaster: None,
            loaders: secure_uefi.then(|| SignedLoaders {
                shim: efi("shim.efi"),
                grub: efi("grub.efi"),
                mok_manager: efi("MokManager.efi"),
            }),
        })
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        super::needs_programs(recipe, &["zypper", "rpm"])
    }
}

/// The folder of zypper's metadata, relative to the stage folder: zypper writes the
/// installed system's solv cache at the same path under the root, where it is one folder to
/// remove (an absolute path would leave the host's path, folder by folder, in the image).
const ZYPPER_CACHE: &str = ".liveboot-zypper";

/// `env HOME=… ZYPP_CONF=… zypper --non-interactive --root … <rest>`: Debian's rpm keeps its
/// database in `~/.rpmdb`, so a private HOME's `.rpmmacros` puts the root's where its own rpm
/// looks; the host's zypp.conf and repositories stay out.
fn zypper(rest: Vec<Text>, with_repos: bool) -> Vec<Text> {
    let mut argv: Vec<Text> = vec![
        "env".into(),
        "--chdir={self}".into(),
        "HOME={self}/home".into(),
        "ZYPP_CONF={self}/zypp.conf".into(),
        "zypper".into(),
        "--non-interactive".into(),
        "--root".into(),
        "{self}/rootfs".into(),
    ];
    if with_repos {
        argv.extend([
            "--reposd-dir".into(),
            "{self}/repos.d".into(),
            "--cache-dir".into(),
            ZYPPER_CACHE.into(),
            "--pkg-cache-dir".into(),
            Text::from(Place::cache("zypper/packages")),
        ]);
    }
    argv.extend(rest);
    argv
}

/// A package list as zypper's arguments: patterns as the capability their packages provide.
fn specs(packages: &[String], patterns: &[String]) -> Vec<Text> {
    packages.iter().cloned().chain(patterns.iter().map(|p| format!("pattern() = {p}"))).map(Text::lit).collect()
}

/// zypp.conf of one build: only required packages (kiwi-ng installs with --no-recommends),
/// documentation as the description says.
fn zypp_conf(d: &Description) -> String {
    let mut conf = String::from("# Written by liveboot for one build.\n[main]\nsolver.onlyRequires = true\n");
    if d.rpm_excludedocs {
        conf.push_str("rpm.install.excludedocs = yes\n");
    }
    conf
}

/// rootfs: the packages, bootstrap first, through the host's zypper.
fn rootfs_stage(b: &mut Builder, k: &Kiwi, d: &Description, secure_uefi: bool) -> Result<(), Diagnostic> {
    let spec = &b.recipe.spec;
    let repos: Vec<Repo> = kiwi::repositories(d, k);
    let p = &d.packages;
    let mut image: Vec<String> = p.image.clone();
    image.extend(spec.packages.iter().cloned());
    image.extend(LIVE_PACKAGES.iter().map(|s| s.to_string()));
    if secure_uefi {
        image.extend(LOADER_PACKAGES.iter().map(|s| s.to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    image.retain(|s| seen.insert(s.clone()));
    let install = |list: Vec<Text>| {
        let mut rest: Vec<Text> =
            ["--gpg-auto-import-keys", "install", "--no-recommends", "--auto-agree-with-licenses"].map(Text::from).to_vec();
        rest.extend(list);
        Action::run_env(zypper(rest, true), b.epoch_env())
    };
    let mut actions = vec![
        kiwi::reachable(b, &repos),
        Action::Write { dest: "{self}/zypp.conf".into(), content: zypp_conf(d), mode: None },
        Action::Write { dest: "{self}/home/.rpmmacros".into(), content: format!("%_dbpath {RPMDB}\n"), mode: None },
        Action::MakeDir { path: "{self}/repos.d".into() },
        Action::MakeDir { path: Place::cache("zypper/packages").into() },
    ];
    for (i, r) in repos.iter().enumerate() {
        let mut rest: Vec<Text> = vec!["addrepo".into(), "--keep-packages".into()];
        if !d.rpm_check_signatures {
            rest.push("--no-gpgcheck".into());
        }
        if let Some(prio) = r.priority {
            rest.extend(["--priority".into(), Text::lit(prio.to_string())]);
        }
        let alias = r.alias.clone().unwrap_or_else(|| format!("repo-{}", i + 1));
        rest.extend([Text::lit(r.url.clone()), Text::lit(alias)]);
        actions.push(Action::run(zypper(rest, true)));
    }
    if !p.bootstrap.is_empty() || !p.bootstrap_collections.is_empty() {
        actions.push(install(specs(&p.bootstrap, &p.bootstrap_collections)));
    }
    actions.push(install(specs(&image, &p.image_collections)));
    // What zypper leaves that belongs to this build, not to the image: its log, its pid file,
    // and the installed system's solv cache.
    actions.push(Action::Remove {
        paths: vec![
            Text::from(format!("{{self}}/rootfs/{ZYPPER_CACHE}").as_str()),
            "{self}/rootfs/var/log/zypp".into(),
            "{self}/rootfs/run/zypp.pid".into(),
        ],
    });
    let packages = (&p.bootstrap, &p.bootstrap_collections, &image, &p.image_collections);
    let mut inputs = vec![
        b.part("kiwi-packages", &(packages, &repos, d.rpm_check_signatures, d.rpm_excludedocs, RPMDB)),
        b.part("distro", &spec.distro),
        b.part("arch", &spec.arch),
        b.tool("zypper"),
        b.tool("rpm"),
    ];
    inputs.extend(b.epoch());
    b.add("rootfs", "install the description's packages with zypper --root (bootstrap, then image)", &["rootfs"], inputs, actions)
}

/// configure: archives, overlay, cloud-init, config.sh, removals, images.sh, identity, initrd.
fn configure_stage(b: &mut Builder, k: &Kiwi, d: &Description) -> Result<(), Diagnostic> {
    let spec = &b.recipe.spec;
    let dir = b.source_path(key_path!["source", "kiwi", "description"], &k.description);
    let mut inputs = vec![b.dir(&dir)?, b.part("cloud_init", &spec.cloud_init), b.tool("zypper"), b.tool("rpm")];
    let mut actions = vec![
        Action::run(["cp", "-a", "--reflink=auto", "{rootfs}/rootfs", "{self}/rootfs"]),
        Action::Write { dest: "{self}/home/.rpmmacros".into(), content: format!("%_dbpath {RPMDB}\n"), mode: None },
        Action::Write { dest: "{self}/zypp.conf".into(), content: zypp_conf(d), mode: None },
    ];
    for a in d.packages.bootstrap_archives.iter().chain(&d.packages.image_archives) {
        actions.push(Action::run([Text::from("tar"), "-C".into(), "{self}/rootfs".into(), "-xf".into(), child(&dir, a).into()]));
    }
    if d.overlay {
        // As kiwi-ng syncs it: modes, times, links and xattrs kept, owned by root.
        actions.push(Action::run([
            Text::from("cp"),
            "-rT".into(),
            "--no-dereference".into(),
            "--preserve=mode,timestamps,links,xattr".into(),
            child(&dir, "root").into(),
            "{self}/rootfs".into(),
        ]));
    }
    let (overlay_inputs, overlay_actions) = rpmlive::recipe_overlay(b)?;
    inputs.extend(overlay_inputs);
    actions.extend(overlay_actions);
    actions.extend(rpmlive::cloud_init(spec));
    let shown = b.shown(&d.file);
    let script = |name: &str| -> Vec<Action> {
        vec![
            Action::Write { dest: "{self}/rootfs/.profile".into(), content: kiwi::profile(d, &k.profile), mode: Some("0644".into()) },
            Action::Write { dest: "{self}/rootfs/.kconfig".into(), content: kiwi::KCONFIG.into(), mode: Some("0644".into()) },
            Action::Copy {
                src: child(&dir, name).into(),
                dest: Text::from(format!("{{self}}/rootfs/{name}").as_str()),
                mode: Some("0755".into()),
            },
            // As kiwi-ng runs it: in the root, from /, its failure fails the build.
            in_root(format!("{name} of {shown}"), &format!("cd / && exec bash /{name}\n"), Vec::new(), true),
            Action::Remove {
                paths: vec![
                    Text::from(format!("{{self}}/rootfs/{name}").as_str()),
                    "{self}/rootfs/.profile".into(),
                    "{self}/rootfs/.kconfig".into(),
                ],
            },
        ]
    };
    if d.scripts.iter().any(|s| s == "config.sh") {
        actions.extend(script("config.sh"));
    }
    let p = &d.packages;
    if !p.uninstall.is_empty() {
        let mut rest: Vec<Text> = vec!["remove".into(), "--clean-deps".into()];
        rest.extend(p.uninstall.iter().cloned().map(Text::lit));
        actions.push(Action::run(zypper(rest, false)));
        actions.push(Action::Remove {
            paths: vec!["{self}/rootfs/var/cache/zypp".into(), "{self}/rootfs/var/log/zypp".into(), "{self}/rootfs/run/zypp.pid".into()],
        });
    }
    if !p.delete.is_empty() {
        let mut argv: Vec<Text> =
            ["env", "HOME={self}/home", "rpm", "--root", "{self}/rootfs", "-e", "--nodeps", "--allmatches", "--noscripts"]
                .map(Text::from)
                .to_vec();
        argv.extend(p.delete.iter().cloned().map(Text::lit));
        actions.push(Action::run(argv));
    }
    if d.scripts.iter().any(|s| s == "images.sh") {
        actions.extend(script("images.sh"));
    }
    actions.extend(rpmlive::identity_and_initrd(DRACUT_CONF));
    actions.extend(rpmlive::boot_files_and_packages(RPMDB));
    b.add(
        "configure",
        "the description's archives, root/ overlay, config.sh, uninstall and delete packages, images.sh; cloud-init settings, a per-boot identity and the live initrd",
        rpmlive::CONFIGURE_OUTPUTS,
        inputs,
        actions,
    )
}
