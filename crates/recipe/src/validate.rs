//! Checks that need more than types: ranges, character sets, files that must exist, and which
//! combinations make sense. Every problem is reported with the place of the value concerned.
//! The checks every recipe gets are here; each family adds its own ([`Family::validate`]).

use std::path::{Path, PathBuf};

use liveboot_yaml::{closest, outside, Diagnostic, Diagnostics, Node, PathSeg};

use crate::family::Family;
use crate::{Loader, Recipe, RecipeSpec, Registry};

/// A path into the recipe tree, written like `key_path!["boot", "serial", 0]`.
macro_rules! key_path {
    ($($seg:expr),* $(,)?) => { &[$(liveboot_yaml::PathSeg::from($seg)),*][..] };
}
pub(crate) use key_path;

/// The problems found in a recipe so far; family modules add theirs.
pub struct Check<'a> {
    tree: &'a Node,
    problems: Vec<Diagnostic>,
}

/// The project of a recipe or fragment file: the folder holding its `recipes/` folder, or its
/// own folder when it lies elsewhere. The files a file names must lie in its project.
pub fn project_of(recipe_file: &Path) -> PathBuf {
    let dir = recipe_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let project = if dir.file_name().is_some_and(|n| n == "recipes") { dir.parent().unwrap_or(dir) } else { dir };
    if project.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        project.to_path_buf()
    }
}

impl Check<'_> {
    /// Reports a problem with the value at `path`, and its fix.
    pub fn at(&mut self, path: &[PathSeg], message: impl Into<String>, help: impl Into<String>) {
        let span = &self.tree.locate(path).span;
        self.problems.push(Diagnostic::at(span, message).with_help(help));
    }

    /// Reports a problem found in another file (a kickstart the recipe names), located there.
    pub fn push(&mut self, problem: Diagnostic) {
        self.problems.push(problem);
    }

    /// A file named in the recipe must exist (relative to the file that names it).
    pub fn file_exists(&mut self, path: &[PathSeg], written: &str, what: &str, dir: bool) {
        let span = &self.tree.locate(path).span;
        let resolved = span.resolve(written);
        let ok = if dir { resolved.is_dir() } else { resolved.is_file() };
        if !ok {
            self.at(
                path,
                format!("{what} '{written}' not found ({} does not exist)", resolved.display()),
                "fix the path; relative paths are taken from the folder of the file that names them",
            );
        } else if let Some((message, help)) = outside(&resolved, &project_of(&span.file), what) {
            // The project of the file that names it: a fragment that `extends:` brings in from
            // its own project may name that project's files.
            self.at(path, message, help);
        }
    }

    /// Every item of `packages:` must be a valid package name of the family.
    pub fn package_names(&mut self, recipe: &Recipe, valid: impl Fn(&str) -> bool) {
        for (i, p) in recipe.spec.packages.iter().enumerate() {
            if !valid(p) {
                self.at(
                    key_path!["packages", i],
                    format!("'{p}' is not a valid package name"),
                    "write one package name per item, without versions or spaces",
                );
            }
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

/// Checks a deserialized recipe: the common checks, its family and outputs in `registry`, then
/// its family's own checks. Every problem is reported, not only the first.
pub(crate) fn validate(
    spec: RecipeSpec,
    file: &Path,
    extends: Vec<PathBuf>,
    tree: Node,
    registry: &Registry,
) -> Result<Recipe, Diagnostics> {
    let mut c = Check { tree: &tree, problems: Vec::new() };
    common(&spec, file, &mut c);

    let family = registry.family(&spec.distro.family).cloned();
    match &family {
        None => {
            let names = registry.family_names();
            c.at(
                key_path!["distro", "family"],
                format!("unknown distribution family '{}'", spec.distro.family),
                match closest(&spec.distro.family, &names) {
                    Some(n) => format!("did you mean '{n}'?"),
                    None => format!("use one of {}", names.join(", ")),
                },
            );
        }
        Some(f) => family_fits(f.as_ref(), &spec, &mut c),
    }
    let mut outputs = Vec::new();
    for (i, name) in spec.outputs.iter().enumerate() {
        match registry.output(name) {
            Some(_) if spec.outputs[..i].contains(name) => {
                c.at(key_path!["outputs", i], format!("'{name}' is listed twice"), "list each output once");
            }
            Some(o) => outputs.push(o.clone()),
            None => {
                let names = registry.output_names();
                c.at(
                    key_path!["outputs", i],
                    format!("unknown output '{name}'"),
                    match closest(name, &names) {
                        Some(n) => format!("did you mean '{n}'?"),
                        None => format!("use one of {}", names.join(", ")),
                    },
                );
            }
        }
    }
    let mut problems = std::mem::take(&mut c.problems);
    let Some(family) = family else { return Err(Diagnostics(problems)) };
    let recipe = Recipe { spec, family, outputs, file: file.to_path_buf(), extends, tree };
    if recipe.family.sources().contains(&recipe.spec.source.kind()) {
        let mut c = Check { tree: &recipe.tree, problems: Vec::new() };
        recipe.family.validate(&recipe, &mut c);
        problems.extend(c.problems);
    }
    if problems.is_empty() {
        Ok(recipe)
    } else {
        Err(Diagnostics(problems))
    }
}

/// The release and the source kind must be the family's.
fn family_fits(family: &dyn Family, spec: &RecipeSpec, c: &mut Check) {
    if !family.releases().iter().any(|r| r.release == spec.distro.release) {
        c.at(
            key_path!["distro", "release"],
            format!("unknown {} release '{}'", family.name(), spec.distro.release),
            format!("use one of {}", family.releases().iter().map(|r| r.release).collect::<Vec<_>>().join(", ")),
        );
    }
    if let Some(s) = &spec.live_root {
        let schemes: Vec<&str> = family.facts().schemes.iter().map(|s| s.name).collect();
        if !schemes.contains(&s.as_str()) {
            c.at(
                key_path!["live_root"],
                format!("a {} image cannot boot with the live-root scheme '{s}'", family.name()),
                format!("use live_root: {}", schemes.join(" or ")),
            );
        }
    }
    let allowed = family.sources();
    if !allowed.contains(&spec.source.kind()) {
        c.at(
            key_path!["source"],
            format!("a {} image cannot be built from '{}'", family.name(), spec.source.kind()),
            format!("use source: {}", allowed.join(" or ")),
        );
    }
}

/// The checks every recipe gets, whatever its family.
fn common(spec: &RecipeSpec, file: &Path, c: &mut Check) {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if spec.name != stem {
        c.at(
            key_path!["name"],
            format!("the recipe's name '{}' differs from its file name '{stem}.yaml'", spec.name),
            format!("write 'name: {stem}' or rename the file to '{}.yaml'", spec.name),
        );
    }
    let name_ok = spec.name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && spec.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !name_ok {
        // The name is a folder of the output (out/<name>/) and a file name: '..' would leave it.
        c.at(
            key_path!["name"],
            format!("'{}' is not a recipe name", spec.name.escape_debug()),
            "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, e.g. 'debian12'",
        );
    }
    if spec.title.trim().is_empty() {
        c.at(key_path!["title"], "the title is empty", "write a title, e.g. 'Debian 12 live'");
    } else if let Some(bad) = spec.title.chars().find(|ch| ch.is_control() || matches!(ch, '"' | '\\' | '{' | '}' | ';' | '$' | '`')) {
        // The title goes into GRUB, isolinux and iPXE menus: none of these may end or open a
        // quoted string, a block, a command or a variable there.
        c.at(
            key_path!["title"],
            format!("the title contains {:?}, which boot menus would read as syntax", bad),
            "use letters, digits, spaces and simple punctuation such as ( ) . , - :",
        );
    }
    if let Some((message, help)) = label_problem(&spec.label) {
        c.at(key_path!["label"], message, help);
    }

    for (i, arg) in spec.boot.kernel_args.iter().enumerate() {
        if arg.is_empty() || arg.chars().any(|ch| ch.is_whitespace() || ch == '"') {
            c.at(
                key_path!["boot", "kernel_args", i],
                format!("kernel argument '{arg}' is empty or contains a space or quote"),
                "write one argument per list item",
            );
        }
    }
    if spec.boot.timeout > 600 {
        c.at(
            key_path!["boot", "timeout"],
            format!("a menu timeout of {} s is more than 10 minutes", spec.boot.timeout),
            "use a number of seconds from 0 to 600",
        );
    }
    if spec.boot.loaders.is_empty() {
        c.at(key_path!["boot", "loaders"], "no boot loaders", "list bios, uefi or both");
    }
    for (i, l) in spec.boot.loaders.iter().enumerate() {
        if spec.boot.loaders[..i].contains(l) {
            c.at(
                key_path!["boot", "loaders", i],
                format!("'{}' is listed twice", if *l == Loader::Bios { "bios" } else { "uefi" }),
                "list each loader once",
            );
        }
    }
    if let Some(s) = &spec.boot.serial {
        let digits = s.port.strip_prefix("ttyS").or_else(|| s.port.strip_prefix("ttyAMA")).unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            c.at(
                key_path!["boot", "serial", "port"],
                format!("'{}' is not a serial console device", s.port),
                "write a device such as ttyS0 or ttyS1",
            );
        }
        const SPEEDS: &[u32] = &[9600, 19200, 38400, 57600, 115200];
        if !SPEEDS.contains(&s.speed) {
            c.at(
                key_path!["boot", "serial", "speed"],
                format!("{} is not a serial speed firmware supports", s.speed),
                "use 9600, 19200, 38400, 57600 or 115200",
            );
        }
    }

    if !spec.cloud_init.datasources.iter().any(|d| d == "NoCloud") {
        c.at(
            key_path!["cloud_init", "datasources"],
            "cloud-init's datasources do not include NoCloud",
            "add NoCloud: liveboot's seeds are NoCloud seeds",
        );
    }

    let loc = &spec.cloud_init.locale;
    if loc.is_empty() || !loc.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)) {
        c.at(key_path!["cloud_init", "locale"], format!("'{loc}' is not a locale name"), "write a locale such as C.UTF-8 or en_US.UTF-8");
    }

    for (i, o) in spec.overlay.iter().enumerate() {
        c.file_exists(key_path!["overlay", i, "src"], &o.src, "overlay file", false);
        if !o.dest.starts_with('/') || o.dest.ends_with('/') || o.dest.split('/').any(|s| s == "..") || o.dest.chars().any(char::is_control)
        {
            c.at(
                key_path!["overlay", i, "dest"],
                format!("the overlay destination '{}' is not the absolute path of a file", o.dest.escape_debug()),
                "write the full path inside the image, e.g. /etc/motd",
            );
        }
        if let Some(m) = &o.mode {
            if m.len() < 3 || m.len() > 4 || u32::from_str_radix(m, 8).is_err() {
                c.at(key_path!["overlay", i, "mode"], format!("'{m}' is not an octal file mode"), "quote an octal mode such as \"0644\"");
            }
        }
    }

    let sq = &spec.squashfs;
    match (sq.compression.levels(), sq.level) {
        (Some((lo, hi, _)), Some(l)) if l < lo || l > hi => c.at(
            key_path!["squashfs", "level"],
            format!("{} level {l} is out of range", sq.compression.as_str()),
            format!("use a level from {lo} to {hi}"),
        ),
        (None, Some(_)) => c.at(key_path!["squashfs", "level"], format!("{} takes no level", sq.compression.as_str()), "remove 'level:'"),
        _ => {}
    }
    if spec.outputs.is_empty() {
        c.at(key_path!["outputs"], "no outputs", "list iso, pxe or both");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_recipe_named_dot_or_dotdot_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/_good.yaml");
        for name in [".", ".."] {
            let file = d.path().join(format!("{name}.yaml"));
            std::fs::write(&file, format!("extends: {}\nname: '{name}'\n", base.display())).unwrap();
            let e = crate::load(&file).unwrap_err().to_string();
            assert!(e.contains(&format!("'{name}' is not a recipe name")), "{e}");
        }
    }
}
