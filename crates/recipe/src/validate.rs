//! Checks that need more than types: ranges, character sets, files that must exist, and which
//! combinations make sense. Every problem is reported with the place of the value concerned.

use liveboot_yaml::{Diagnostic, PathSeg};

use crate::releases::{release_info, releases_of, sources_for};
use crate::{Loader, Recipe, Source};

/// A path into the recipe tree, written like `path!["boot", "serial", 0]`.
macro_rules! path {
    ($($seg:expr),* $(,)?) => { &[$(PathSeg::from($seg)),*][..] };
}

struct Check<'a> {
    recipe: &'a Recipe,
    problems: Vec<Diagnostic>,
}

impl Check<'_> {
    fn at(&mut self, path: &[PathSeg], message: impl Into<String>, help: impl Into<String>) {
        let span = &self.recipe.tree.locate(path).span;
        self.problems.push(Diagnostic::at(span, message).with_help(help));
    }

    /// A file named in the recipe must exist (relative to the file that names it).
    fn file_exists(&mut self, path: &[PathSeg], written: &str, what: &str, dir: bool) {
        let resolved = self.recipe.resolve(path, written);
        let ok = if dir { resolved.is_dir() } else { resolved.is_file() };
        if !ok {
            self.at(
                path,
                format!("{what} '{written}' not found ({} does not exist)", resolved.display()),
                "fix the path; relative paths are taken from the folder of the file that names them",
            );
        }
    }
}

/// ISO 9660 volume identifiers: d-characters (A-Z, 0-9, `_`) plus `-`, which every firmware and
/// udev's /dev/disk/by-label accept and which distributions use in their labels.
fn label_problem(label: &str) -> Option<(String, String)> {
    if label.is_empty() {
        return Some(("the ISO volume label is empty".into(), "write a label such as 'DEBIAN12_LIVE'".into()));
    }
    if label.chars().count() > 32 {
        return Some((
            format!("the ISO volume label '{label}' is {} characters long; ISO 9660 allows 32", label.chars().count()),
            format!("shorten it, e.g. '{}'", label.chars().take(32).collect::<String>().to_uppercase()),
        ));
    }
    if let Some(bad) = label.chars().find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_' || *c == '-')) {
        let fixed: String = label
            .chars()
            .map(|c| c.to_ascii_uppercase())
            .map(|c| if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' { c } else { '_' })
            .collect();
        return Some((
            format!("the ISO volume label '{label}' contains '{bad}', which ISO 9660 does not allow"),
            format!("use only A-Z, 0-9, '_' and '-', e.g. '{fixed}'"),
        ));
    }
    None
}

fn is_debian_package_name(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 2
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(c))
}

fn is_rpm_package_name(p: &str) -> bool {
    // Names, groups (@core) and exclusions (-pkg) as kickstart %packages takes them.
    let name = p.trim_start_matches(['@', '-']);
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
}

/// Returns every problem found in the recipe.
pub(crate) fn validate(recipe: &Recipe) -> Vec<Diagnostic> {
    let spec = &recipe.spec;
    let mut c = Check { recipe, problems: Vec::new() };

    let stem = recipe.file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if spec.name != stem {
        c.at(
            path!["name"],
            format!("the recipe's name '{}' differs from its file name '{stem}.yaml'", spec.name),
            format!("write 'name: {stem}' or rename the file to '{}.yaml'", spec.name),
        );
    }
    if spec.title.trim().is_empty() {
        c.at(path!["title"], "the title is empty", "write a title, e.g. 'Debian 12 live'");
    }
    if let Some((message, help)) = label_problem(&spec.label) {
        c.at(path!["label"], message, help);
    }

    let family = spec.distro.family;
    if release_info(family, &spec.distro.release).is_none() {
        c.at(
            path!["distro", "release"],
            format!("unknown {} release '{}'", family.as_str(), spec.distro.release),
            format!("use one of {}", releases_of(family).join(", ")),
        );
    }
    let allowed = sources_for(family);
    if !allowed.contains(&spec.source.kind()) {
        c.at(
            path!["source"],
            format!("a {} image cannot be built from '{}'", family.as_str(), spec.source.kind()),
            format!("use source: {}", allowed.join(" or ")),
        );
    }

    match &spec.source {
        Source::Bootstrap(b) => {
            if !b.mirror.starts_with("http://") && !b.mirror.starts_with("https://") && !b.mirror.starts_with("file:/") {
                c.at(
                    path!["source", "bootstrap", "mirror"],
                    format!("the mirror '{}' is not a URL", b.mirror),
                    "write an http://, https:// or file:/ URL",
                );
            }
            if b.components.is_empty() {
                c.at(path!["source", "bootstrap", "components"], "no archive components", "list at least 'main'");
            }
            const VARIANTS: &[&str] =
                &["extract", "custom", "essential", "apt", "required", "minbase", "buildd", "important", "debootstrap", "standard"];
            if !VARIANTS.contains(&b.variant.as_str()) {
                c.at(
                    path!["source", "bootstrap", "variant"],
                    format!("unknown mmdebstrap variant '{}'", b.variant),
                    format!("use one of {}", VARIANTS.join(", ")),
                );
            }
        }
        Source::Kickstart(k) => c.file_exists(path!["source", "kickstart", "file"], &k.file, "kickstart file", false),
        Source::Kiwi(k) => {
            let at = path!["source", "kiwi", "description"];
            c.file_exists(at, &k.description, "KIWI description folder", true);
            let dir = recipe.resolve(at, &k.description);
            if dir.is_dir() && !dir.join("config.kiwi").is_file() && !dir.join("config.xml").is_file() {
                c.at(
                    at,
                    format!("the KIWI description folder '{}' has no config.kiwi or config.xml", k.description),
                    "add the KIWI image description file to that folder",
                );
            }
        }
        Source::UpstreamIso(u) => {
            if !u.url.starts_with("http://") && !u.url.starts_with("https://") {
                c.at(path!["source", "upstream_iso", "url"], format!("'{}' is not an http(s) URL", u.url), "write the ISO's download URL");
            }
            match (&u.sha256, &u.sha256sums) {
                (None, None) => c.at(
                    path!["source", "upstream_iso"],
                    "the upstream ISO has no checksum",
                    "add 'sha256: <64 hex digits>' or 'sha256sums: <URL of the release's SHA256SUMS>'",
                ),
                (Some(h), _) if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) => c.at(
                    path!["source", "upstream_iso", "sha256"],
                    format!("'{h}' is not a SHA-256 (64 hexadecimal digits)"),
                    "copy the ISO's checksum from the release's SHA256SUMS",
                ),
                _ => {}
            }
            for (i, p) in u.patches.iter().enumerate() {
                if p.find.is_empty() {
                    c.at(
                        path!["source", "upstream_iso", "patches", i, "find"],
                        "a patch with an empty 'find'",
                        "write the text to replace",
                    );
                }
                if p.file.starts_with('/') || p.file.split('/').any(|s| s == "..") {
                    c.at(
                        path!["source", "upstream_iso", "patches", i, "file"],
                        format!("'{}' is not a relative path inside the ISO", p.file),
                        "write it like 'boot/grub/grub.cfg'",
                    );
                }
            }
        }
    }

    let rpm = matches!(family, crate::Family::Fedora | crate::Family::Rocky | crate::Family::OpensuseLeap);
    for (i, p) in spec.packages.iter().enumerate() {
        let ok = if rpm { is_rpm_package_name(p) } else { is_debian_package_name(p) };
        if !ok {
            c.at(
                path!["packages", i],
                format!("'{p}' is not a valid package name"),
                "write one package name per item, without versions or spaces",
            );
        }
    }

    for (i, arg) in spec.boot.kernel_args.iter().enumerate() {
        if arg.is_empty() || arg.chars().any(|ch| ch.is_whitespace() || ch == '"') {
            c.at(
                path!["boot", "kernel_args", i],
                format!("kernel argument '{arg}' is empty or contains a space or quote"),
                "write one argument per list item",
            );
        }
    }
    if spec.boot.timeout > 600 {
        c.at(
            path!["boot", "timeout"],
            format!("a menu timeout of {} s is more than 10 minutes", spec.boot.timeout),
            "use a number of seconds from 0 to 600",
        );
    }
    if spec.boot.loaders.is_empty() {
        c.at(path!["boot", "loaders"], "no boot loaders", "list bios, uefi or both");
    }
    for (i, l) in spec.boot.loaders.iter().enumerate() {
        if spec.boot.loaders[..i].contains(l) {
            c.at(
                path!["boot", "loaders", i],
                format!("'{}' is listed twice", if *l == Loader::Bios { "bios" } else { "uefi" }),
                "list each loader once",
            );
        }
    }
    if let Some(s) = &spec.boot.serial {
        let digits = s.port.strip_prefix("ttyS").or_else(|| s.port.strip_prefix("ttyAMA")).unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            c.at(
                path!["boot", "serial", "port"],
                format!("'{}' is not a serial console device", s.port),
                "write a device such as ttyS0 or ttyS1",
            );
        }
        const SPEEDS: &[u32] = &[9600, 19200, 38400, 57600, 115200];
        if !SPEEDS.contains(&s.speed) {
            c.at(
                path!["boot", "serial", "speed"],
                format!("{} is not a serial speed firmware supports", s.speed),
                "use 9600, 19200, 38400, 57600 or 115200",
            );
        }
    }

    if !spec.cloud_init.datasources.iter().any(|d| d == "NoCloud") {
        c.at(
            path!["cloud_init", "datasources"],
            "cloud-init's datasources do not include NoCloud",
            "add NoCloud: liveboot's seeds are NoCloud seeds",
        );
    }

    let loc = &spec.cloud_init.locale;
    if loc.is_empty() || !loc.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)) {
        c.at(path!["cloud_init", "locale"], format!("'{loc}' is not a locale name"), "write a locale such as C.UTF-8 or en_US.UTF-8");
    }

    for (i, o) in spec.overlay.iter().enumerate() {
        c.file_exists(path!["overlay", i, "src"], &o.src, "overlay file", false);
        if !o.dest.starts_with('/') || o.dest.split('/').any(|s| s == "..") {
            c.at(
                path!["overlay", i, "dest"],
                format!("the overlay destination '{}' is not an absolute path", o.dest),
                "write the full path inside the image, e.g. /etc/motd",
            );
        }
        if let Some(m) = &o.mode {
            if m.len() < 3 || m.len() > 4 || u32::from_str_radix(m, 8).is_err() {
                c.at(path!["overlay", i, "mode"], format!("'{m}' is not an octal file mode"), "quote an octal mode such as \"0644\"");
            }
        }
    }

    let sq = &spec.squashfs;
    match (sq.compression.levels(), sq.level) {
        (Some((lo, hi, _)), Some(l)) if l < lo || l > hi => c.at(
            path!["squashfs", "level"],
            format!("{} level {l} is out of range", sq.compression.as_str()),
            format!("use a level from {lo} to {hi}"),
        ),
        (None, Some(_)) => c.at(path!["squashfs", "level"], format!("{} takes no level", sq.compression.as_str()), "remove 'level:'"),
        _ => {}
    }
    if spec.outputs.is_empty() {
        c.at(path!["outputs"], "no outputs", "list iso, pxe or both");
    }
    c.problems
}
