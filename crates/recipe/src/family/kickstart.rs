//! Live roots from kickstarts, natively on any host with `dnf` and `rpm` (Debian packages
//! both): what livecd-creator and livemedia-creator do on a Fedora host.
//!
//! Three stages. `rootfs`: the kickstart's repositories (or the recipe's mirror) checked
//! within seconds, then `dnf --installroot` installs `%packages` (groups, environment,
//! exclusions and the section's options) plus what a live root needs, downloads cached in
//! `{cache}/dnf`. `configure`: a copy of that root (scripts may change any file, so no link
//! tree) gets the kickstart's commands that mean something for a live image (lang, keyboard,
//! timezone, selinux, rootpw --lock, services, firewall, xconfig), cloud-init's NoCloud
//! settings, the `%post` scripts in order (in the root, or beside it with `--nochroot`), a
//! per-boot identity, and the live initrd built by the root's own dracut. `squashfs`: the
//! root, flat, as `LiveOS/squashfs.img`. Every other command is a warning naming its line.

use std::path::PathBuf;

use liveboot_kickstart as ks;
use liveboot_yaml::Diagnostic;

use super::fedora::RpmFacts;
use super::rpmlive::{self, in_root, write};
use super::{squashfs_stage, DRACUT};
use crate::plan::{Action, Builder, Place, Root, SignedLoaders, Text};
use crate::{key_path, project_of, Check, Kickstart, Loader, Recipe};

/// The kickstart file of a recipe and the pykickstart version its release reads.
fn location(recipe: &Recipe, src: &Kickstart) -> Result<(PathBuf, &'static str), Diagnostic> {
    let path = recipe.resolve(key_path!["source", "kickstart", "file"], &src.file);
    let spec = &recipe.spec;
    let version = ks::syntax::version_for(&spec.distro.family, &spec.distro.release).ok_or_else(|| {
        Diagnostic::at(&recipe.tree.locate(key_path!["distro", "release"]).span, "no kickstart version is known for this release")
            .with_help(format!("liveboot reads kickstarts of {}", ks::syntax::VERSIONS.join(", ")))
    })?;
    Ok((path, version))
}

/// Reads the recipe's kickstart (its includes confined to the recipe's project).
fn read(recipe: &Recipe, src: &Kickstart) -> Result<ks::Parsed, Diagnostic> {
    let (path, version) = location(recipe, src)?;
    let project = project_of(&recipe.tree.locate(key_path!["source", "kickstart", "file"]).span.file);
    ks::read(&path, ks::Options { version, confine: Some(&project) })
}

/// The problems of the recipe's kickstart, each at its line, and of the mirror settings.
pub(crate) fn validate(recipe: &Recipe, src: &Kickstart, check: &mut Check) {
    let url_ok = |u: &str| super::is_url(u, &["http://", "https://", "ftp://", "file:/"]);
    if let Some(m) = &src.mirror {
        if !url_ok(m) {
            check.at(
                key_path!["source", "kickstart", "mirror"],
                format!("the mirror '{m}' is not a URL"),
                "write an http://, https:// or file:/ URL",
            );
        }
    }
    for (name, url) in &src.repos {
        if !url_ok(url) {
            check.at(
                key_path!["source", "kickstart", "repos", name.as_str()],
                format!("'{url}' is not a URL"),
                "write an http://, https:// or file:/ URL",
            );
        }
    }
    if !recipe.resolve(key_path!["source", "kickstart", "file"], &src.file).is_file() {
        return; // reported by the family's file check
    }
    let parsed = match read(recipe, src) {
        Ok(p) => p,
        Err(d) => return check.push(d),
    };
    for e in parsed.errors {
        check.push(e);
    }
    let k = &parsed.kickstart;
    let names = repo_names(k);
    for name in src.repos.keys() {
        if !names.contains(name) {
            check.at(
                key_path!["source", "kickstart", "repos", name.as_str()],
                format!("the kickstart has no repository '{name}'"),
                if names.is_empty() { "it has no repo lines".to_string() } else { format!("its repositories: {}", names.join(", ")) },
            );
        }
    }
    for c in &k.commands {
        if let Some((message, help)) = refused(k, c) {
            check.push(c.at.error(message, help));
        }
    }
}

/// Commands whose values liveboot refuses to put into an image, or cannot use safely.
fn refused(k: &ks::Kickstart, c: &ks::Command) -> Option<(String, String)> {
    let v = k.version;
    match c.name.as_str() {
        "rootpw" if c.option(v, "lock").is_none() => Some((
            "rootpw sets a password: liveboot does not put passwords into images (the hash would be in the plan and the manifest)".into(),
            "write `rootpw --lock`; the seed's SSH keys give access (or set a password through cloud-init)".into(),
        )),
        "lang" => c
            .positional(v)
            .first()
            .filter(|l| !simple(l, "_.@-"))
            .map(|l| (format!("'{l}' is not a locale name"), "write e.g. `lang en_US.UTF-8`".into())),
        "timezone" => c
            .positional(v)
            .first()
            .filter(|z| !simple(z, "_+-/") || z.contains(".."))
            .map(|z| (format!("'{z}' is not a time zone name"), "write e.g. `timezone Europe/Berlin`".into())),
        "keyboard" => keymap(k, c)
            .filter(|m| !simple(m, "_.-"))
            .map(|m| (format!("'{m}' is not a keymap name"), "write e.g. `keyboard --vckeymap=us`".into())),
        _ => None,
    }
}

fn simple(s: &str, extra: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

fn keymap(k: &ks::Kickstart, c: &ks::Command) -> Option<String> {
    c.option(k.version, "vc_keymap").flatten().or_else(|| c.positional(k.version).into_iter().next())
}

/// The names of the kickstart's `repo` lines.
fn repo_names(k: &ks::Kickstart) -> Vec<String> {
    k.commands.iter().filter(|c| c.name == "repo").filter_map(|c| c.option(k.version, "name").flatten()).collect()
}

/// Why a command is not applied to a live image.
fn not_applied(name: &str) -> Option<&'static str> {
    Some(match name {
        "part" | "partition" | "autopart" | "clearpart" | "zerombr" | "reqpart" | "ignoredisk" | "raid" | "volgroup" | "logvol"
        | "btrfs" | "snapshot" | "mount" | "bootloader" | "zipl" => {
            "a live image has no disk layout; its boot menus come from the recipe's boot settings"
        }
        "network" => "cloud-init configures the network from the node's seed",
        "user" | "group" | "sshkey" => "cloud-init creates users and installs keys from the node's seed",
        "url" | "repo" | "lang" | "keyboard" | "timezone" | "selinux" | "rootpw" | "services" | "firewall" | "xconfig" => return None,
        _ => "an installer setting with no meaning for a live image",
    })
}

/// `file:line` of an origin, the file relative to the project when under it.
fn place_of(b: &Builder, at: &ks::Origin) -> String {
    format!("{}:{}", b.shown(&at.span.file), at.span.line)
}

/// A package repository: where dnf reads it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct Repo {
    id: String,
    name: String,
    /// `baseurl`, `mirrorlist` or `metalink`.
    kind: &'static str,
    url: String,
    options: Vec<(String, String)>,
}

/// The repositories of the kickstart (`url` and `repo` lines), with the recipe's mirror and
/// per-repository replacements.
fn repos(k: &ks::Kickstart, src: &Kickstart) -> Vec<Repo> {
    let v = k.version;
    let source = |c: &ks::Command| -> Option<(&'static str, String)> {
        [("baseurl", "baseurl"), ("mirrorlist", "mirrorlist"), ("metalink", "metalink"), ("url", "baseurl")]
            .into_iter()
            .find_map(|(dest, kind)| c.option(v, dest).flatten().map(|u| (kind, u)))
    };
    let mut out = Vec::new();
    if let Some(mirror) = &src.mirror {
        out.push(Repo {
            id: "mirror".into(),
            name: "the recipe's mirror".into(),
            kind: "baseurl",
            url: mirror.clone(),
            options: Vec::new(),
        });
    } else if let Some((kind, url)) = k.commands.iter().filter(|c| c.name == "url").rev().find_map(source) {
        out.push(Repo { id: "anaconda".into(), name: "url".into(), kind, url, options: Vec::new() });
    }
    for c in k.commands.iter().filter(|c| c.name == "repo") {
        let Some(name) = c.option(v, "name").flatten() else { continue };
        let replaced = src.repos.get(&name);
        if src.mirror.is_some() && replaced.is_none() {
            continue;
        }
        let Some((kind, url)) = replaced.map(|u| ("baseurl", u.clone())).or_else(|| source(c)) else { continue };
        let mut options = Vec::new();
        for (dest, key) in [("cost", "cost"), ("includepkgs", "includepkgs"), ("excludepkgs", "excludepkgs"), ("proxy", "proxy")] {
            if let Some(Some(value)) = c.option(v, dest) {
                options.push((key.to_string(), value));
            }
        }
        if c.option(v, "noverifyssl").is_some() {
            options.push(("sslverify".into(), "False".into()));
        }
        let id: String = name.chars().map(|ch| if ch.is_ascii_alphanumeric() || "-_.:".contains(ch) { ch } else { '-' }).collect();
        out.push(Repo { id, name, kind, url, options });
    }
    out
}

/// dnf's configuration: no host repositories, the kickstart's, nothing cached in the root.
fn dnf_conf(repos: &[Repo], p: &ks::Packages) -> String {
    let mut conf = String::from(
        "[main]\n# Written by liveboot for one build: the host's repositories and plugins stay out.\ngpgcheck=False\nkeepcache=True\nskip_if_unavailable=False\ntimeout=15\nretries=3\n",
    );
    if p.excludedocs {
        conf.push_str("tsflags=nodocs\n");
    }
    if p.exclude_weakdeps {
        conf.push_str("install_weak_deps=False\n");
    }
    if p.multilib {
        conf.push_str("multilib_policy=all\n");
    }
    if p.ignore_missing {
        conf.push_str("strict=False\n");
    }
    for r in repos {
        conf.push_str(&format!("\n[{}]\nname={}\n{}={}\nenabled=True\n", r.id, r.name, r.kind, r.url));
        for (k, v) in &r.options {
            conf.push_str(&format!("{k}={v}\n"));
        }
    }
    conf
}

/// A URL with dnf's variables as this build sets them.
fn expand(url: &str, release: &str) -> String {
    url.replace("$releasever", release).replace("${releasever}", release).replace("$basearch", "x86_64").replace("${basearch}", "x86_64")
}

/// Adds the stages; says where kernel, initrd and root image are.
pub(crate) fn stages(b: &mut Builder, src: &Kickstart, facts: &RpmFacts) -> Result<Root, Diagnostic> {
    let parsed = read(b.recipe, src)?;
    if let Some(e) = parsed.errors.into_iter().next() {
        return Err(e);
    }
    let k = parsed.kickstart;
    for w in &parsed.warnings {
        b.warn(w.to_string());
    }
    let spec = &b.recipe.spec;
    let release = spec.distro.release.clone();
    let recipe_file = b.shown(&b.recipe.file);
    let names = repo_names(&k);
    if let Some(unknown) = src.repos.keys().find(|n| !names.contains(n)) {
        // Named on the command line (--mirror NAME=URL); a recipe's names were checked at loading.
        return Err(Diagnostic::at(
            &b.recipe.tree.locate(key_path!["source", "kickstart", "file"]).span,
            format!("the kickstart has no repository '{unknown}'"),
        )
        .with_help(if names.is_empty() {
            "it has no repo lines: write --mirror URL".to_string()
        } else {
            format!("its repositories: {}", names.join(", "))
        }));
    }
    let repos = repos(&k, src);
    if repos.is_empty() {
        return Err(Diagnostic::at(
            &b.recipe.tree.locate(key_path!["source", "kickstart", "file"]).span,
            "the kickstart names no package repository",
        )
        .with_help(
            "add `url --url=URL` or `repo --name=NAME --baseurl=URL` to it, or point at a mirror: --mirror URL (source.kickstart.mirror)",
        ));
    }
    let secure_uefi = spec.boot.secure_boot && spec.boot.loaders.contains(&Loader::Uefi);

    for c in &k.commands {
        if let Some(why) = not_applied(&c.name) {
            b.warn(format!("{}: '{}' is not applied: {why}", place_of(b, &c.at), c.name));
        }
    }
    for s in &k.scripts {
        if s.kind != ks::ScriptKind::Post {
            b.warn(format!(
                "{}: {} is not run: it belongs to an installation on the target machine; liveboot runs %post only",
                place_of(b, &s.at),
                s.kind.section()
            ));
        } else if !s.chroot && s.body.contains("LIVE_ROOT") {
            b.warn(format!(
                "{}: files this %post --nochroot puts in $LIVE_ROOT do not reach the ISO (liveboot lays the ISO out itself)",
                place_of(b, &s.at)
            ));
        }
    }
    for s in &k.sections {
        b.warn(format!("{}: '{}' is not applied", place_of(b, &s.at), s.header));
    }
    let p = &k.packages;
    if p.default {
        b.warn("%packages --default is not applied: liveboot installs what %packages lists".to_string());
    }

    // rootfs: the packages.
    let mut specs: Vec<String> = Vec::new();
    if !p.nocore {
        specs.push("@core".into());
    }
    specs.extend(p.environment.iter().map(|e| format!("@{e}")));
    specs.extend(p.groups.iter().filter(|g| g.include == ks::GroupInclude::Default).map(|g| format!("@{}", g.name)));
    specs.extend(p.packages.iter().cloned());
    specs.extend(spec.packages.iter().cloned());
    specs.extend(facts.live_packages.iter().map(|s| s.to_string()));
    if secure_uefi {
        specs.extend(facts.loader_packages.iter().map(|s| s.to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    specs.retain(|s| seen.insert(s.clone()));
    let rpmdb = (facts.rpmdb)(&release);
    let mut macros = format!("%_dbpath {rpmdb}\n");
    if let Some(langs) = &p.inst_langs {
        macros.push_str(&format!("%_install_langs {langs}\n"));
    }
    let dnf = |rest: Vec<Text>| -> Action {
        let mut argv: Vec<Text> = vec![
            "env".into(),
            // Debian's rpm keeps its database in ~/.rpmdb: a private HOME's .rpmmacros puts the
            // root's where its own rpm looks.
            "HOME={self}/home".into(),
            "dnf".into(),
            "--assumeyes".into(),
            "--noplugins".into(),
            "--installroot={self}/rootfs".into(),
            Text::lit(format!("--releasever={release}")),
            "--config={self}/dnf.conf".into(),
            // Given here, these paths are the host's, not the root's.
            "--setopt=reposdir={self}/repos.d".into(),
            Text::lit("--setopt=cachedir=").then(Place::cache(&format!("dnf/{}-{release}", spec.distro.family))),
        ];
        argv.extend(p.excluded.iter().map(|x| Text::lit(format!("--exclude={x}"))));
        if p.ignore_broken {
            argv.push("--skip-broken".into());
        }
        argv.extend(rest);
        Action::run_env(argv, b.epoch_env())
    };
    let probe: Vec<(String, String)> = repos
        .iter()
        .map(|r| {
            let url = expand(&r.url, &release);
            let url = if r.kind == "baseurl" { format!("{}/repodata/repomd.xml", url.trim_end_matches('/')) } else { url };
            let name = match r.id.as_str() {
                "mirror" => "the mirror".to_string(),
                "anaconda" => "the kickstart's url source".to_string(),
                _ => format!("repository '{}'", r.name),
            };
            (name, url)
        })
        .collect();
    let help = format!(
        "point at a mirror: `liveboot build {} --mirror URL` (or source.kickstart.mirror in {recipe_file}); one repository by name: --mirror NAME=URL",
        spec.name
    );
    let mut actions = vec![
        Action::Reachable { repos: probe, help },
        Action::Write { dest: "{self}/dnf.conf".into(), content: dnf_conf(&repos, p), mode: None },
        Action::Write { dest: "{self}/home/.rpmmacros".into(), content: macros, mode: None },
        Action::MakeDir { path: "{self}/repos.d".into() },
        Action::MakeDir { path: Place::cache(&format!("dnf/{}-{release}", spec.distro.family)).into() },
        dnf(std::iter::once(Text::from("install")).chain(specs.iter().map(|s| Text::lit(s.clone()))).collect()),
    ];
    for g in &p.groups {
        match g.include {
            ks::GroupInclude::Default => {}
            ks::GroupInclude::Required => actions.push(dnf(vec![
                "--setopt=group_package_types=mandatory".into(),
                "group".into(),
                "install".into(),
                Text::lit(g.name.clone()),
            ])),
            ks::GroupInclude::All => {
                actions.push(dnf(vec!["group".into(), "install".into(), "--with-optional".into(), Text::lit(g.name.clone())]))
            }
        }
    }
    // What dnf leaves that belongs to this build, not to the image (and differs between runs).
    actions.push(Action::Remove {
        paths: ["var/cache/dnf", "var/log/dnf*", "var/log/hawkey.log", "var/lib/dnf/history.sqlite*"]
            .iter()
            .map(|p| Text::from(format!("{{self}}/rootfs/{p}").as_str()))
            .collect(),
    });
    let flat = k.flatten();
    let mut inputs = vec![
        b.part("kickstart-packages", &(&k.packages, &repos, &specs, rpmdb)),
        b.part("distro", &spec.distro),
        b.part("arch", &spec.arch),
        b.tool("dnf"),
        b.tool("rpm"),
    ];
    inputs.extend(b.epoch());
    b.add("rootfs", "install the kickstart's packages with dnf --installroot", &["rootfs"], inputs, actions)?;

    // configure: commands, cloud-init, %post, identity, the live initrd.
    let mut actions = vec![Action::run(["cp", "-a", "--reflink=auto", "{rootfs}/rootfs", "{self}/rootfs"])];
    let mut inputs = vec![b.part("kickstart", &flat), b.part("cloud_init", &spec.cloud_init), b.part("secure_uefi", &secure_uefi)];
    let (overlay_inputs, overlay_actions) = rpmlive::recipe_overlay(b)?;
    inputs.extend(overlay_inputs);
    actions.extend(overlay_actions);
    let v = k.version;
    let last = |name: &str| k.commands.iter().rev().find(|c| c.name == name);
    if let Some(c) = last("lang") {
        if let Some(l) = c.positional(v).first() {
            actions.push(write("etc/locale.conf", format!("LANG={l}\n")));
        }
    }
    if let Some(c) = last("keyboard") {
        if let Some(map) = keymap(&k, c) {
            actions.push(write("etc/vconsole.conf", format!("KEYMAP={map}\n")));
        }
    }
    if let Some(c) = last("timezone") {
        if let Some(z) = c.positional(v).first() {
            actions.push(in_root(
                format!("timezone at {}", place_of(b, &c.at)),
                "[ -e \"/usr/share/zoneinfo/$1\" ] || { echo \"no time zone $1 in the root (/usr/share/zoneinfo/$1; is tzdata installed?)\" >&2; exit 1; }\nln -sf \"../usr/share/zoneinfo/$1\" /etc/localtime\n",
                vec![z.clone()],
                true,
            ));
        }
    }
    let selinux = last("selinux").and_then(|c| {
        ["enforcing", "permissive", "disabled"]
            .into_iter()
            .find(|m| c.option(v, "selinux").flatten().as_deref() == Some(m) || c.args.iter().any(|a| a == &format!("--{m}")))
    });
    if let (Some(mode), Some(c)) = (selinux, last("selinux")) {
        actions.push(in_root(
            format!("selinux at {}", place_of(b, &c.at)),
            "if [ -f /etc/selinux/config ]; then sed -i \"s/^SELINUX=.*/SELINUX=$1/\" /etc/selinux/config\nelif [ \"$1\" != disabled ]; then echo \"liveboot warning: selinux --$1 not applied: the root has no SELinux policy (/etc/selinux/config)\" >&2; fi\n",
            vec![mode.to_string()],
            true,
        ));
    }
    if let Some(c) = last("rootpw") {
        actions.push(in_root(
            format!("rootpw --lock at {}", place_of(b, &c.at)),
            "usermod -L root 2>/dev/null || sed -i 's/^root:\\([^!]\\)/root:!\\1/' /etc/shadow\n",
            Vec::new(),
            true,
        ));
    }
    // services: pykickstart keeps the last value given of each option.
    let services = k.commands.iter().filter(|c| c.name == "services");
    let (mut enabled, mut disabled) = (None, None);
    for c in services {
        if let Some(Some(e)) = c.option(v, "enabled") {
            enabled = Some((e, c));
        }
        if let Some(Some(d)) = c.option(v, "disabled") {
            disabled = Some((d, c));
        }
    }
    for (verb, list) in [("disable", disabled), ("enable", enabled)] {
        if let Some((units, c)) = list {
            let units: Vec<String> = units.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_string).collect();
            actions.push(in_root(format!("services at {}", place_of(b, &c.at)), &format!("systemctl {verb} -- \"$@\"\n"), units, true));
        }
    }
    if let Some(c) = last("xconfig").filter(|c| c.option(v, "startX").is_some()) {
        actions.push(in_root(format!("xconfig at {}", place_of(b, &c.at)), "systemctl set-default graphical.target\n", Vec::new(), true));
    }
    if let Some(c) = last("firewall") {
        actions.push(in_root(
            format!("firewall at {}", place_of(b, &c.at)),
            "if command -v firewall-offline-cmd >/dev/null; then firewall-offline-cmd \"$@\"\nelse echo \"liveboot warning: firewall not applied: firewall-offline-cmd is not in the root (install firewalld)\" >&2; fi\n",
            c.args.clone(),
            false,
        ));
    }
    actions.extend(rpmlive::cloud_init(spec));
    for s in k.scripts.iter().filter(|s| s.kind == ks::ScriptKind::Post) {
        let what = format!("%post{} at {}", if s.chroot { "" } else { " --nochroot" }, place_of(b, &s.at));
        let log = s.log.clone().filter(|_| s.chroot);
        if s.log.is_some() && !s.chroot {
            b.warn(format!("{}: the --log of a %post --nochroot is not written (its output is in the build log)", place_of(b, &s.at)));
        }
        actions.push(Action::Script {
            root: "{self}/rootfs".into(),
            chroot: s.chroot,
            interpreter: s.interpreter.clone(),
            body: s.body.clone(),
            args: Vec::new(),
            log,
            error_on_fail: s.error_on_fail,
            what,
        });
    }
    actions.extend(rpmlive::identity_and_initrd(facts.dracut_conf));
    if matches!(selinux, Some("enforcing" | "permissive")) {
        actions.push(in_root(
            "SELinux labels (the root's setfiles)".into(),
            "[ -f /etc/selinux/config ] || exit 0\n. /etc/selinux/config\nfc=\"/etc/selinux/${SELINUXTYPE:-targeted}/contexts/files/file_contexts\"\nif [ -x /usr/sbin/setfiles ] && [ -f \"$fc\" ]; then setfiles -F -e /proc -e /sys -e /dev -e /run \"$fc\" /\nelse echo \"liveboot warning: no SELinux labels set: the root has no setfiles or no $fc\" >&2; fi\n",
            Vec::new(),
            true,
        ));
    }
    actions.extend(rpmlive::boot_files_and_packages(rpmdb));
    inputs.push(b.tool("rpm"));
    b.add(
        "configure",
        "apply the kickstart's commands and %post scripts, cloud-init settings and a per-boot identity; build the live initrd",
        rpmlive::CONFIGURE_OUTPUTS,
        inputs,
        actions,
    )?;

    let image = squashfs_stage(b, "configure")?;
    let efi = |name: &str| Place::stage("configure", &format!("rootfs/boot/efi/EFI/{}/{name}", facts.efi_dir));
    Ok(Root {
        kernel: Place::stage("configure", "vmlinuz"),
        initrd: Place::stage("configure", "initrd.img"),
        image,
        scheme: &DRACUT,
        remaster: None,
        loaders: secure_uefi.then(|| SignedLoaders { shim: efi("shimx64.efi"), grub: efi("gcdx64.efi"), mok_manager: efi("mmx64.efi") }),
    })
}
