//! A family's own ISO, built by someone else (Ubuntu's live server ISO, or any ISO of a
//! family's live scheme): `fetch` downloads and verifies it (`crates/image/src/fetch.rs`),
//! `patch` takes the menus the recipe's rules name off it and edits them, the ISO output
//! remasters it with its boot setup replayed. Shared by the families that build from
//! `source: upstream_iso`.

use liveboot_yaml::Diagnostic;

use super::LiveScheme;
use crate::menu::MenuSyntax;
use crate::plan::{kernel_args, Action, Builder, Place, Remaster, Root};
use crate::{key_path, Check, Recipe, UpstreamIso};

/// How a user points an upstream-ISO build elsewhere when the release server cannot be reached.
const ELSEWHERE: &str = "download the ISO and the release's SHA256SUMS elsewhere and pass --iso FILE (SHA256SUMS beside it), or --mirror URL naming a folder that holds both";

pub(crate) fn validate_upstream(recipe: &Recipe, u: &UpstreamIso, c: &mut Check) {
    for (what, url) in [("url", Some(&u.url)), ("sha256sums", u.sha256sums.as_ref())] {
        let Some(url) = url else { continue };
        if !["http://", "https://", "file://"].iter().any(|p| url.starts_with(p)) || url.chars().any(char::is_whitespace) {
            c.at(key_path!["source", "upstream_iso", what], format!("'{url}' is not an http(s) URL"), "write the download URL");
        }
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
    if let Some(k) = &u.keyring {
        c.file_exists(key_path!["source", "upstream_iso", "keyring"], k, "keyring", false);
    }
    if u.keyring.is_some() && u.sha256sums.is_none() {
        c.at(
            key_path!["source", "upstream_iso", "keyring"],
            "a keyring checks the signature of SHA256SUMS, and the recipe names none",
            "add 'sha256sums: <URL>' (its signature is read from <URL>.gpg), or remove 'keyring'",
        );
    }
    let args = kernel_args(recipe);
    for (i, p) in u.patches.iter().enumerate() {
        if p.find.is_empty() {
            c.at(key_path!["source", "upstream_iso", "patches", i, "find"], "a patch with an empty 'find'", "write the text to replace");
        }
        if p.file.starts_with('/') || p.file.split('/').any(|s| s == ".." || s.is_empty()) {
            c.at(
                key_path!["source", "upstream_iso", "patches", i, "file"],
                format!("'{}' is not a relative path inside the ISO", p.file),
                "write it like 'boot/grub/grub.cfg'",
            );
            continue;
        }
        if !p.replace.contains("{kernel_args}") {
            continue;
        }
        match MenuSyntax::of(&p.file) {
            None => c.at(
                key_path!["source", "upstream_iso", "patches", i, "file"],
                format!("cannot tell which boot loader reads '{}', so '{{kernel_args}}' cannot be quoted for it", p.file),
                "liveboot knows GRUB menus (under boot/grub/, grub*.cfg, loopback.cfg) and syslinux menus (under isolinux/ or syslinux/)",
            ),
            Some(syntax) => {
                if let Err(e) = syntax.quote(&args) {
                    c.at(
                        key_path!["boot", "kernel_args"],
                        format!("kernel argument {:?} cannot be written in {}: {}", e.arg, p.file, e.why),
                        "remove the blank from the argument",
                    );
                }
            }
        }
    }
}

/// `fetch` downloads and verifies the ISO; `patch` takes the menus the rules name (and the
/// kernel and initrd, for the network bundle) off it and edits them; the ISO output remasters
/// the ISO with the patched menus.
pub(crate) fn upstream_stages(b: &mut Builder, u: &UpstreamIso, scheme: &'static LiveScheme) -> Result<Root, Diagnostic> {
    let keyring = u.keyring.as_ref().map(|k| b.source_path(key_path!["source", "upstream_iso", "keyring"], k));
    let mut inputs = vec![b.part("source.url", &u.url), b.part("source.checksum", &(&u.sha256, &u.sha256sums))];
    if let Some(k) = &keyring {
        inputs.push(b.file(k)?);
    }
    b.add(
        "fetch",
        "download and verify the upstream ISO",
        &["upstream.iso"],
        inputs,
        vec![Action::Fetch {
            url: u.url.clone(),
            sha256: u.sha256.clone(),
            sums: u.sha256sums.clone(),
            keyring: keyring.map(Into::into),
            dest: "{self}/upstream.iso".into(),
            help: ELSEWHERE.into(),
        }],
    )?;
    let mut files: Vec<String> = u.patches.iter().map(|p| p.file.clone()).collect();
    files.dedup();
    let mut paths: Vec<String> = vec![scheme.kernel.to_string(), scheme.initrd.to_string()];
    paths.extend(files.iter().cloned());
    let mut actions = vec![Action::Extract { iso: "{fetch}/upstream.iso".into(), paths, dest: "{self}/iso".into() }];
    let args = kernel_args(b.recipe);
    let name = b.shown(&b.recipe.file);
    for (i, p) in u.patches.iter().enumerate() {
        // Validated: the syntax is known and the arguments can be written in it.
        let quoted = MenuSyntax::of(&p.file).and_then(|s| s.quote(&args).ok()).unwrap_or_else(|| args.join(" "));
        actions.push(Action::Edit {
            file: Place::own(&format!("iso/{}", p.file)).into(),
            find: p.find.clone(),
            replace: p.replace.replace("{kernel_args}", &quoted),
            min_matches: p.min_matches,
            help: format!("upstream changed its menu: adjust source.upstream_iso.patches[{i}] in {name}"),
        });
    }
    // The remastered ISO takes the files' times from them.
    actions.push(Action::PinTimes { dir: "{self}/iso".into() });
    let mut inputs = vec![b.part("source.patches", &u.patches), b.part("boot", &b.recipe.spec.boot), b.tool("xorriso")];
    inputs.extend(b.epoch());
    b.add("patch", "patch the boot menus with the recipe's kernel arguments", &["iso"], inputs, actions)?;
    Ok(Root {
        kernel: Place::stage("patch", &format!("iso/{}", scheme.kernel)),
        initrd: Place::stage("patch", &format!("iso/{}", scheme.initrd)),
        image: Place::stage("fetch", "upstream.iso"),
        scheme,
        remaster: Some(Remaster {
            iso: Place::stage("fetch", "upstream.iso"),
            files: files.iter().map(|f| (Place::stage("patch", &format!("iso/{f}")), f.clone())).collect(),
        }),
        loaders: None,
    })
}
