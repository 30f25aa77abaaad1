//! A KIWI description as a family's source: the description read as kiwi-ng reads it (the
//! `liveboot-kiwi` crate), checked for what a live build needs, and turned into the steps the
//! family's own root builder takes — packages per phase, repositories, deletions, archives, the
//! `root/` overlay and `config.sh` run in the root with KIWI's environment (`/.profile`) and
//! helper functions (`/.kconfig`). Debian descriptions (`packagemanager` apt) build with the
//! Debian family's mmdebstrap stages.

use liveboot_kiwi::{Description, Diagnostic, Options, Read};

use crate::plan::{Action, Builder, Input, Place, Text};
use crate::{key_path, Check, Kiwi, Recipe};

/// The image types that are live systems.
const LIVE_TYPES: &[&str] = &["iso", "pxe", "kis"];

/// Reads the recipe's description with its profile.
pub(crate) fn read(recipe: &Recipe, k: &Kiwi) -> Result<Read, Vec<Diagnostic>> {
    let dir = recipe.resolve(key_path!["source", "kiwi", "description"], &k.description);
    let profiles: Vec<String> = k.profile.iter().cloned().collect();
    liveboot_kiwi::read(&dir, Options { profiles: &profiles, build_type: None, arch: "x86_64" })
}

/// Checks a description a family builds with `manager` (its package manager), reporting every
/// problem at the description's file and line.
pub(crate) fn validate(recipe: &Recipe, k: &Kiwi, manager: &str, family: &str, check: &mut Check) {
    let at = key_path!["source", "kiwi", "description"];
    check.file_exists(at, &k.description, "KIWI description folder", true);
    if !recipe.resolve(at, &k.description).is_dir() {
        return;
    }
    let read = match read(recipe, k) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                check.push(e);
            }
            return;
        }
    };
    let d = &read.description;
    let file = d.file.display();
    if d.packagemanager != manager {
        check.at(
            at,
            format!("{file} installs with {}; the {family} family builds with {manager}", d.packagemanager),
            format!("set <packagemanager>{manager}</packagemanager>, or the distro family whose package manager the description uses"),
        );
    }
    if !LIVE_TYPES.contains(&d.build_type.image.as_str()) {
        check.at(
            key_path!["source", "kiwi", "profile"],
            format!("{}: the build type is {}, not a live system", d.build_type.at, d.build_type.image),
            format!("choose a profile whose <type> is one of {} (source.kiwi.profile)", LIVE_TYPES.join(", ")),
        );
    }
    if d.repositories.is_empty() {
        check.at(at, format!("{file} has no <repository>"), "add the repository the packages come from");
    }
    let aliases: Vec<&str> = d.repositories.iter().filter_map(|r| r.alias.as_deref()).collect();
    for name in k.repos.keys() {
        if !aliases.contains(&name.as_str()) {
            check.at(
                key_path!["source", "kiwi", "repos", name.as_str()],
                format!("{file} has no repository with alias '{name}'"),
                if aliases.is_empty() {
                    "its repositories have no alias: write source.kiwi.mirror (replaces the first)".to_string()
                } else {
                    format!("its aliases: {}", aliases.join(", "))
                },
            );
        }
    }
    let url_ok = |u: &str| super::is_url(u, &["http://", "https://", "file:/"]);
    if let Some(m) = k.mirror.as_deref().filter(|m| !url_ok(m)) {
        check.at(
            key_path!["source", "kiwi", "mirror"],
            format!("the mirror '{m}' is not a URL"),
            "write an http://, https:// or file:/ URL",
        );
    }
    for (name, url) in k.repos.iter().filter(|(_, u)| !url_ok(u)) {
        check.at(
            key_path!["source", "kiwi", "repos", name.as_str()],
            format!("'{url}' is not a URL"),
            "write an http://, https:// or file:/ URL",
        );
    }
    for r in repositories(d, k).iter().filter(|r| !r.replaced && !url_ok(&r.url)) {
        check.at(
            at,
            format!("{}: repository '{}' is not an http(s) or file URL", r.at, r.url),
            format!(
                "liveboot reads repositories from URLs (obs:// and obsrepositories:/ exist only inside OBS): point <source path> at a mirror, or replace it in the recipe: {}",
                match &r.alias {
                    Some(a) => format!("source.kiwi.repos: {{{a}: URL}} (--mirror {a}=URL)"),
                    None => "source.kiwi.mirror (--mirror URL) replaces the first repository".to_string(),
                }
            ),
        );
    }
    if manager == "apt" {
        match d.repositories.first() {
            Some(r) if r.distribution.is_none() => check.at(
                at,
                format!("{}: the first apt-deb repository has no distribution", r.at),
                "add distribution=\"bookworm\" (the suite) and components=\"main\"",
            ),
            _ => {}
        }
    }
}

/// A repository a build installs from: the description's, with the recipe's replacement of its
/// source.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Repo {
    /// Its `alias`; none when the description gives it none.
    pub alias: Option<String>,
    pub url: String,
    pub priority: Option<i64>,
    pub distribution: Option<String>,
    pub components: Option<String>,
    /// Whether the recipe replaced its source.
    #[serde(skip)]
    pub replaced: bool,
    /// Where the description declares it (`file:line`).
    #[serde(skip)]
    pub at: String,
}

/// The repositories of a description as the build uses them: `source.kiwi.mirror` in place of
/// the first (even one `repos` names: `--mirror URL` overrides the recipe; the others are left
/// out unless `repos` names them), `source.kiwi.repos` replacing sources by alias (as a
/// kickstart's `--mirror` and `repo` names do).
pub(crate) fn repositories(d: &Description, k: &Kiwi) -> Vec<Repo> {
    let mut out = Vec::new();
    for (i, r) in d.repositories.iter().enumerate() {
        let by_alias = r.alias.as_ref().and_then(|a| k.repos.get(a));
        let url = match (&k.mirror, by_alias) {
            (Some(m), _) if i == 0 => Some(m.clone()),
            (_, Some(u)) => Some(u.clone()),
            (Some(_), None) => continue,
            (None, None) => None,
        };
        out.push(Repo {
            alias: r.alias.clone(),
            replaced: url.is_some(),
            url: url.unwrap_or_else(|| r.path.clone()),
            priority: r.priority,
            distribution: r.distribution.clone(),
            components: r.components.clone(),
            at: r.at.clone(),
        });
    }
    out
}

/// Asks every rpm-md repository for its `repodata/repomd.xml` before the package manager
/// waits on them: a repository that cannot be reached fails within seconds, naming it and the
/// options that point elsewhere.
pub(crate) fn reachable(b: &Builder, repos: &[Repo]) -> Action {
    let probe = repos
        .iter()
        .map(|r| {
            let name = match &r.alias {
                Some(a) => format!("repository '{a}'"),
                None => "the description's repository".to_string(),
            };
            (name, format!("{}/repodata/repomd.xml", r.url.trim_end_matches('/')))
        })
        .collect();
    let help = format!(
        "point at a mirror: `liveboot build {} --mirror URL` (replaces the first repository; source.kiwi.mirror in {}); one repository by alias: --mirror ALIAS=URL",
        b.recipe.spec.name,
        b.shown(&b.recipe.file)
    );
    Action::Reachable { repos: probe, help }
}

/// What a description adds to the Debian family's mmdebstrap stage.
#[derive(Debug, Default)]
pub struct AptSteps {
    /// The first repository: mirror, suite, components.
    pub mirror: String,
    pub suite: String,
    pub components: Vec<String>,
    /// The other repositories, as sources.list lines.
    pub sources: Vec<String>,
    /// Bootstrap and image packages.
    pub packages: Vec<String>,
    /// Actions before mmdebstrap runs (the files its hooks copy in).
    pub before: Vec<Action>,
    /// mmdebstrap arguments (customize hooks), in order.
    pub hooks: Vec<Text>,
    /// Inputs: the description folder.
    pub inputs: Vec<Input>,
}

/// The recipe's description for a build: read (its first problem is the error), its warnings
/// and what liveboot does not apply given to the build's warnings.
pub(crate) fn description(b: &mut Builder, k: &Kiwi) -> Result<Description, Diagnostic> {
    let read = read(b.recipe, k).map_err(|mut e| e.remove(0))?;
    for w in &read.warnings {
        b.warn(w.to_string());
    }
    let d = read.description;
    if !d.users.is_empty() {
        let names: Vec<&str> = d.users.iter().map(|u| u.name.as_str()).collect();
        b.warn(format!(
            "{}: <users> ({}) are not created by liveboot yet; the cloud-init seed makes the users",
            b.shown(&d.file),
            names.join(", ")
        ));
    }
    if !d.packages.ignore.is_empty() {
        b.warn(format!(
            "{}: <ignore> ({}) is not applied: those packages are installed if others need them",
            b.shown(&d.file),
            d.packages.ignore.join(", ")
        ));
    }
    Ok(d)
}

/// The mmdebstrap steps of a Debian description.
pub(crate) fn apt_steps(b: &mut Builder, k: &Kiwi) -> Result<AptSteps, Diagnostic> {
    let d = &description(b, k)?;
    let dir = b.source_path(key_path!["source", "kiwi", "description"], &k.description);
    let repos = repositories(d, k);
    let first = repos.first().expect("validated: a repository");
    let mut steps = AptSteps {
        mirror: first.url.clone(),
        suite: first.distribution.clone().expect("validated: the first repository has a distribution"),
        components: first.components.as_deref().unwrap_or("main").split_whitespace().map(str::to_string).collect(),
        sources: repos
            .iter()
            .skip(1)
            .map(|r| {
                format!("deb {} {} {}", r.url, r.distribution.as_deref().unwrap_or("./"), r.components.as_deref().unwrap_or(""))
                    .trim()
                    .to_string()
            })
            .collect(),
        inputs: vec![b.dir(&dir)?],
        ..Default::default()
    };
    steps.packages.extend(d.packages.bootstrap.iter().chain(&d.packages.image).cloned());
    for a in d.packages.bootstrap_archives.iter().chain(&d.packages.image_archives) {
        steps.hooks.push(Text::from("--customize-hook=tar -C \"$1\" -xf ").then(child(&dir, a)));
    }
    if d.overlay {
        steps.hooks.push(Text::from("--customize-hook=sync-in ").then(child(&dir, "root")).then_lit(" /"));
    }
    if d.scripts.iter().any(|s| s == "config.sh") {
        steps.before.extend([
            Action::Write { dest: "{self}/kiwi/.profile".into(), content: profile(d, &k.profile), mode: Some("0644".into()) },
            Action::Write { dest: "{self}/kiwi/.kconfig".into(), content: KCONFIG.into(), mode: Some("0644".into()) },
        ]);
        steps.hooks.extend([
            Text::from("--customize-hook=copy-in {self}/kiwi/.profile {self}/kiwi/.kconfig ").then(child(&dir, "config.sh")).then_lit(" /"),
            // As kiwi-ng runs it: in the root, from /, its failure fails the build.
            "--customize-hook=chroot \"$1\" /bin/bash -c 'cd / && bash /config.sh'".into(),
            "--customize-hook=rm -f \"$1\"/config.sh \"$1\"/.profile \"$1\"/.kconfig".into(),
        ]);
    }
    // After config.sh, as kiwi-ng's system prepare does: uninstall (with what only they
    // needed), then delete (dependencies ignored).
    if !d.packages.uninstall.is_empty() {
        steps
            .hooks
            .push(Text::lit(format!("--customize-hook=chroot \"$1\" apt-get -y purge --auto-remove {}", d.packages.uninstall.join(" "))));
    }
    if !d.packages.delete.is_empty() {
        steps.hooks.push(Text::lit(format!("--customize-hook=chroot \"$1\" dpkg --purge --force-depends {}", d.packages.delete.join(" "))));
    }
    Ok(steps)
}

pub(crate) const KCONFIG: &str = include_str!("kconfig.sh");

pub(crate) fn child(dir: &Place, name: &str) -> Place {
    match dir {
        Place::Project(p) => Place::Project(format!("{p}/{name}")),
        other => Place::Host(format!("{other}/{name}")),
    }
}

/// `/.profile`: the description's settings as the variables kiwi-ng exports to config.sh.
pub(crate) fn profile(d: &Description, profile: &Option<String>) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let mut vars: Vec<(&str, String)> = vec![
        ("kiwi_iname", d.name.clone()),
        ("kiwi_iversion", d.version.clone().unwrap_or_default()),
        ("kiwi_profiles", if d.profiles.is_empty() { profile.clone().unwrap_or_default() } else { d.profiles.join(",") }),
        ("kiwi_type", d.build_type.image.clone()),
        ("kiwi_initrd_system", d.build_type.initrd_system.clone()),
    ];
    if let Some(l) = &d.locale {
        vars.push(("kiwi_language", l.join(",")));
    }
    if let Some(k) = &d.keytable {
        vars.push(("kiwi_keytable", k.clone()));
    }
    if let Some(t) = &d.timezone {
        vars.push(("kiwi_timezone", t.clone()));
    }
    if let Some(v) = &d.displayname {
        vars.push(("kiwi_displayname", v.clone()));
    }
    vars.iter().map(|(k, v)| format!("{k}={}\n", q(v))).collect()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// `/.profile` as bash reads it, and `/.kconfig`'s answer to a helper it lacks.
    #[test]
    fn profile_and_kconfig_in_bash() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.kiwi");
        std::fs::write(
            &file,
            r#"<image schemaversion="7.5" name="it's"><description type="system"><author>a</author><contact>c</contact><specification>s</specification></description>
<preferences><version>1.2</version><packagemanager>apt</packagemanager><locale>en_US,de_DE</locale><type image="iso"/></preferences></image>"#,
        )
        .unwrap();
        let d = liveboot_kiwi::read(&file, Options { profiles: &[], build_type: None, arch: "x86_64" }).unwrap().description;
        std::fs::write(dir.path().join(".profile"), profile(&d, &None)).unwrap();
        std::fs::write(dir.path().join(".kconfig"), KCONFIG).unwrap();
        let out = Command::new("bash")
            .current_dir(dir.path())
            .args([
                "-c",
                ". ./.kconfig; . ./.profile; echo \"$kiwi_iname|$kiwi_iversion|$kiwi_type|$kiwi_language\"; Echo hello; suseSetupProduct x",
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's|1.2|iso|en_US,de_DE\nhello\n");
        assert_eq!(out.status.code(), Some(127));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("config.sh calls 'suseSetupProduct': not a command in the image, and not one of the KIWI helper functions liveboot provides"), "{err}");
    }
}
