//! Ubuntu: the upstream live server ISO, its boot menus patched, remastered with its own boot
//! setup (xorriso replay); casper boots it. Built from packages, it takes Debian's stages.

use liveboot_yaml::Diagnostic;

use super::debian::{bootstrap_stages, is_debian_package_name, validate_bootstrap, HOST_PACKAGES};
use super::{release, Facts, Family, CASPER, LIVE_BOOT};
use crate::plan::{kernel_cmdline, Action, Builder, Place, Remaster, Root};
use crate::{key_path, Check, Recipe, Source, UpstreamIso};

/// Ubuntu.
pub struct Ubuntu;

const FACTS: Facts = Facts {
    name: "ubuntu",
    releases: &[
        release("18.04", "bionic", 1524700800),
        release("20.04", "focal", 1587600000),
        release("22.04", "jammy", 1650499200),
        release("24.04", "noble", 1714003200),
    ],
    sources: &["upstream_iso", "bootstrap"],
    schemes: &[&CASPER, &LIVE_BOOT],
    host_packages: HOST_PACKAGES,
};

impl Family for Ubuntu {
    fn facts(&self) -> &Facts {
        &FACTS
    }
    fn validate(&self, recipe: &Recipe, check: &mut Check) {
        match &recipe.spec.source {
            Source::Bootstrap(b) => validate_bootstrap(b, check),
            Source::UpstreamIso(u) => validate_upstream(u, check),
            _ => {}
        }
        check.package_names(recipe, is_debian_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        match &b.recipe.spec.source {
            Source::Bootstrap(bs) => bootstrap_stages(b, bs),
            Source::UpstreamIso(u) => upstream_stages(b, u),
            other => unreachable!("validated: ubuntu does not build from {}", other.kind()),
        }
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        match recipe.spec.source {
            Source::Bootstrap(_) => Ok(()),
            _ => super::not_yet(recipe),
        }
    }
}

fn validate_upstream(u: &UpstreamIso, c: &mut Check) {
    if !u.url.starts_with("http://") && !u.url.starts_with("https://") {
        c.at(key_path!["source", "upstream_iso", "url"], format!("'{}' is not an http(s) URL", u.url), "write the ISO's download URL");
    }
    match (&u.sha256, &u.sha256sums) {
        (None, None) => c.at(
            key_path!["source", "upstream_iso"],
            "the upstream ISO has no checksum",
            "add 'sha256: <64 hex digits>' or 'sha256sums: <URL of the release's SHA256SUMS>'",
        ),
        (Some(h), _) if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) => c.at(
            key_path!["source", "upstream_iso", "sha256"],
            format!("'{h}' is not a SHA-256 (64 hexadecimal digits)"),
            "copy the ISO's checksum from the release's SHA256SUMS",
        ),
        _ => {}
    }
    for (i, p) in u.patches.iter().enumerate() {
        if p.find.is_empty() {
            c.at(key_path!["source", "upstream_iso", "patches", i, "find"], "a patch with an empty 'find'", "write the text to replace");
        }
        if p.file.starts_with('/') || p.file.split('/').any(|s| s == "..") {
            c.at(
                key_path!["source", "upstream_iso", "patches", i, "file"],
                format!("'{}' is not a relative path inside the ISO", p.file),
                "write it like 'boot/grub/grub.cfg'",
            );
        }
    }
}

fn upstream_stages(b: &mut Builder, u: &UpstreamIso) -> Result<Root, Diagnostic> {
    let checksum = match (&u.sha256, &u.sha256sums) {
        (Some(h), _) => format!("sha256:{h}"),
        (None, Some(url)) => format!("listed in {url}"),
        (None, None) => unreachable!("validated"),
    };
    let inputs = vec![b.part("source.url", &u.url), b.part("source.checksum", &checksum)];
    b.add(
        "fetch",
        "download and verify the upstream ISO",
        &["upstream.iso"],
        inputs,
        vec![Action::Fetch { url: u.url.clone(), checksum, dest: "{self}/upstream.iso".into() }],
    )?;
    let cmdline = kernel_cmdline(b.recipe);
    let mut actions =
        vec![Action::run(["xorriso", "-osirrox", "on", "-indev", "{fetch}/upstream.iso", "-extract", "/boot", "{self}/patched/boot"])];
    actions.extend(u.patches.iter().map(|p| Action::Edit {
        file: Place::own(&format!("patched/{}", p.file)).into(),
        find: p.find.clone(),
        replace: p.replace.replace("{kernel_args}", &cmdline),
        min_matches: p.min_matches,
    }));
    let inputs = vec![b.part("source.patches", &u.patches), b.part("boot", &b.recipe.spec.boot)];
    b.add("patch", "patch the boot menus with the recipe's kernel arguments", &["patched"], inputs, actions)?;
    Ok(Root {
        kernel: Place::stage("patch", "patched/casper/vmlinuz"),
        initrd: Place::stage("patch", "patched/casper/initrd"),
        image: Place::stage("fetch", "upstream.iso"),
        scheme: &CASPER,
        remaster: Some(Remaster { iso: Place::stage("fetch", "upstream.iso"), overlay: Some(Place::stage("patch", "patched")) }),
        loaders: None,
    })
}
