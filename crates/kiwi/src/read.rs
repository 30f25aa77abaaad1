//! Reading a description: the XML (with positions), the checks kiwi-ng's schema makes that
//! matter here, and kiwi-ng's rules for profiles, sections, build type and single values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use liveboot_yaml::{Diagnostic, Span};
use roxmltree::{Document, Node};

use crate::model::{Description, ImageType, Packages, Profile, Repository, User};
use crate::schema;

/// How to read a description.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// The profiles to apply (`--profile`); none: the `import="true"` ones.
    pub profiles: &'a [String],
    /// The build type (`--type`); none: the primary one, else the first.
    pub build_type: Option<&'a str>,
    /// The architecture `arch="…"` attributes are matched against (kiwi-ng: the host's).
    pub arch: &'a str,
}

/// A description read: what it says, and what liveboot does not use of it.
#[derive(Debug, Clone)]
pub struct Read {
    pub description: Description,
    /// Elements that apply but that liveboot does not act on, one per element name.
    pub warnings: Vec<Diagnostic>,
}

/// The hook scripts KIWI runs from a description folder.
const SCRIPTS: &[&str] = &[
    "post_bootstrap.sh",
    "config.sh",
    "config-overlay.sh",
    "config-host-overlay.sh",
    "images.sh",
    "pre_disk_sync.sh",
    "disk.sh",
    "edit_boot_config.sh",
    "edit_boot_install.sh",
];

/// The description file of the folder `dir`, as kiwi-ng picks it: `config.xml`, else
/// `config.kiwi`, else the one `*.kiwi` file.
pub fn find(dir: &Path) -> Result<PathBuf, Diagnostic> {
    for name in ["config.xml", "config.kiwi"] {
        if dir.join(name).is_file() {
            return Ok(dir.join(name));
        }
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::nowhere(format!("{}: {e}", dir.display())).with_help("name the folder that holds the KIWI description"))?;
    let mut kiwis: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "kiwi")).collect();
    kiwis.sort();
    match kiwis.len() {
        1 => Ok(kiwis.remove(0)),
        0 => Err(Diagnostic::nowhere(format!("{}: no KIWI description (config.xml, config.kiwi or *.kiwi)", dir.display()))
            .with_help("name the folder that holds the description, or the description file itself")),
        _ => Err(Diagnostic::nowhere(format!(
            "{}: {} *.kiwi files ({}); kiwi-ng takes exactly one",
            dir.display(),
            kiwis.len(),
            kiwis.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect::<Vec<_>>().join(", ")
        ))
        .with_help("name the description file itself, or rename it config.kiwi")),
    }
}

/// Reads the description at `path` (a folder, or the file); every problem found, or the
/// description.
pub fn read(path: &Path, options: Options<'_>) -> Result<Read, Vec<Diagnostic>> {
    let file = if path.is_dir() { find(path).map_err(|d| vec![d])? } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| vec![Diagnostic::nowhere(format!("{}: {e}", file.display())).with_help("name a readable KIWI description")])?;
    let doc = roxmltree::Document::parse_with_options(&text, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() }).map_err(
        |e| {
            let pos = e.pos();
            let message = e.to_string();
            let message = message.strip_suffix(&format!(" at {}:{}", pos.row, pos.col)).unwrap_or(&message).to_string();
            vec![Diagnostic::at(&Span::new(&file, pos.row, pos.col), format!("not well-formed XML: {message}"))
                .with_help("fix the XML at that place (an unclosed element, a stray '<' or '&', a wrong quote)")]
        },
    )?;
    let mut r = Reader { file: file.clone(), doc: &doc, options, errors: Vec::new(), warnings: Vec::new() };
    let description = r.description();
    match description {
        Some(d) if r.errors.is_empty() => Ok(Read { description: d, warnings: r.warnings }),
        _ => Err(r.errors),
    }
}

struct Reader<'d, 'o> {
    file: PathBuf,
    doc: &'d Document<'d>,
    options: Options<'o>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl<'d> Reader<'d, '_> {
    fn span(&self, node: Node) -> Span {
        let pos = self.doc.text_pos_at(node.range().start);
        Span::new(&self.file, pos.row, pos.col)
    }

    fn at(&self, node: Node) -> String {
        let s = self.span(node);
        format!("{}:{}", s.file.display(), s.line)
    }

    fn error(&mut self, node: Node, message: impl Into<String>, help: impl Into<String>) {
        let d = Diagnostic::at(&self.span(node), message).with_help(help);
        self.errors.push(d);
    }

    /// An attribute that must be `true` or `false` (XML Schema's boolean: also 1 and 0).
    fn boolean(&mut self, node: Node, name: &str) -> Option<bool> {
        let v = node.attribute(name)?;
        self.parse_bool(node, &format!("{name}=\"{v}\""), v)
    }

    fn parse_bool(&mut self, node: Node, what: &str, v: &str) -> Option<bool> {
        match v.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.error(node, format!("{what} is not a boolean"), "write true or false");
                None
            }
        }
    }

    fn matches_arch(&self, node: Node) -> bool {
        node.attribute("arch").is_none_or(|a| a.split(',').any(|x| x.trim() == self.options.arch))
    }

    fn description(&mut self) -> Option<Description> {
        let image = self.doc.root_element();
        if image.tag_name().name() != "image" {
            self.error(
                image,
                format!("the root element is <{}>, not <image>", image.tag_name().name()),
                "a KIWI description is an <image> element",
            );
            return None;
        }
        self.check_elements(image);
        let Some(name) = image.attribute("name") else {
            self.error(image, "<image> has no name attribute", "add name=\"…\": the image's file names come from it");
            return None;
        };
        let schemaversion = image.attribute("schemaversion").unwrap_or("").to_string();
        if !schema::VERSIONS.contains(&schemaversion.as_str()) {
            let what = if schemaversion.is_empty() { "no schemaversion".to_string() } else { format!("schemaversion {schemaversion}") };
            self.error(
                image,
                format!("<image> has {what}; liveboot reads schema {} to {}", schema::VERSIONS[0], schema::VERSIONS[schema::VERSIONS.len() - 1]),
                "convert an older description with `kiwi-ng image info --description DIR --print-xml` (kiwi-ng upgrades it), then set schemaversion",
            );
        }
        let sections: Vec<Node> = image.children().filter(Node::is_element).collect();
        let (author, contact, specification) = self.about(image, &sections);
        let declared = self.declared_profiles(&sections);
        let profiles = self.selected_profiles(image, &declared)?;
        self.check_profile_references(&sections, &declared);
        let applies =
            |n: &Node| -> bool { n.attribute("profiles").is_none_or(|p| p.split(',').any(|x| profiles.iter().any(|s| s == x.trim()))) };
        let preferences: Vec<Node> =
            sections.iter().copied().filter(|n| n.has_tag_name("preferences") && applies(n) && self.matches_arch(*n)).collect();
        let repositories: Vec<Node> =
            sections.iter().copied().filter(|n| n.has_tag_name("repository") && applies(n) && self.matches_arch(*n)).collect();
        let packages: Vec<Node> = sections.iter().copied().filter(|n| n.has_tag_name("packages") && applies(n)).collect();
        let users: Vec<Node> =
            sections.iter().copied().filter(|n| n.has_tag_name("users") && applies(n) && self.matches_arch(*n)).collect();
        let (build_type, other_types) = self.build_type(image, &preferences, &profiles)?;
        let first = |tag: &str| -> Option<(Node<'d, 'd>, String)> {
            preferences
                .iter()
                .flat_map(|p| p.children().filter(|c| c.has_tag_name(tag)))
                .next()
                .map(|n| (n, n.text().unwrap_or("").to_string()))
        };
        let packagemanager = match first("packagemanager") {
            // Schema 7's `dnf` is schema 8's `dnf4` (kiwi-ng's conversion).
            Some((_, pm)) if pm.trim() == "dnf" => "dnf4".to_string(),
            Some((node, pm)) => {
                if !schema::PACKAGE_MANAGERS.contains(&pm.trim()) {
                    self.error(
                        node,
                        format!("unknown package manager '{pm}'"),
                        format!("use one of {}", schema::PACKAGE_MANAGERS.join(", ")),
                    );
                }
                pm.trim().to_string()
            }
            None => "zypper".to_string(),
        };
        let flag = |r: &mut Self, tag: &str| -> bool {
            match first(tag) {
                Some((node, v)) => r.parse_bool(node, &format!("<{tag}>{v}</{tag}>"), &v).unwrap_or(false),
                None => false,
            }
        };
        let rpm_check_signatures = flag(self, "rpm-check-signatures");
        let rpm_excludedocs = flag(self, "rpm-excludedocs");
        for c in preferences.iter().flat_map(|p| p.children().filter(|c| c.is_element() && !c.has_tag_name("type"))) {
            self.unused(c);
        }
        let repositories = repositories.iter().filter_map(|n| self.repository(*n)).collect();
        let packages = self.packages(&packages, &build_type.image);
        let users = self.users(&users);
        let dir = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let scripts = SCRIPTS.iter().filter(|s| dir.join(s).is_file()).map(|s| s.to_string()).collect();
        let cdroot = std::fs::read_dir(&dir)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with("config-cdroot.tar"))
            .min();
        for s in &sections {
            if !["description", "preferences", "profiles", "users", "repository", "packages"].contains(&s.tag_name().name()) && applies(s) {
                self.unused(*s);
            }
        }
        Some(Description {
            file: self.file.clone(),
            name: name.to_string(),
            displayname: image.attribute("displayname").map(str::to_string),
            schemaversion,
            author,
            contact,
            specification,
            declared_profiles: declared,
            profiles,
            build_type,
            other_types,
            version: first("version").map(|(_, v)| v),
            packagemanager,
            locale: first("locale").map(|(_, v)| v.split(',').map(str::to_string).collect()),
            keytable: first("keytable").map(|(_, v)| v),
            timezone: first("timezone").map(|(_, v)| v),
            rpm_check_signatures,
            rpm_excludedocs,
            repositories,
            packages,
            users,
            scripts,
            overlay: dir.join("root").is_dir(),
            cdroot,
        })
    }

    /// Every element is one of KIWI's schema (extension namespaces aside); `<include>` is refused
    /// rather than skipped.
    fn check_elements(&mut self, image: Node) {
        for n in image.descendants().filter(Node::is_element) {
            if n.tag_name().namespace().is_some() || n.ancestors().any(|a| a.has_tag_name("extension")) {
                continue;
            }
            let name = n.tag_name().name();
            if !schema::ELEMENTS.contains(&name) {
                let near =
                    schema::ELEMENTS.iter().filter(|e| strsim::levenshtein(e, name) <= 2).min_by_key(|e| strsim::levenshtein(e, name));
                let help = match near {
                    Some(e) => format!("did you mean <{e}>?"),
                    None => "remove it, or see the KIWI schema for the element meant".to_string(),
                };
                self.error(n, format!("<{name}> is not an element of KIWI's schema"), help);
            } else if name == "include" {
                self.error(
                    n,
                    format!("<include from=\"{}\"> is not supported by liveboot yet", n.attribute("from").unwrap_or("")),
                    "inline the included file's sections into the description",
                );
            }
        }
    }

    fn about(&mut self, image: Node, sections: &[Node]) -> (String, String, String) {
        let Some(d) = sections.iter().find(|n| n.has_tag_name("description")) else {
            self.error(
                image,
                "<image> has no <description>",
                "add <description type=\"system\"> with <author>, <contact> and <specification>",
            );
            return Default::default();
        };
        let field = |r: &mut Self, tag: &str| -> String {
            match d.children().find(|c| c.has_tag_name(tag)) {
                Some(n) => n.text().unwrap_or("").to_string(),
                None => {
                    r.error(*d, format!("<description> has no <{tag}>"), format!("add <{tag}>…</{tag}>"));
                    String::new()
                }
            }
        };
        let author = field(self, "author");
        let contact = field(self, "contact");
        let specification = field(self, "specification").trim().to_string();
        (author, contact, specification)
    }

    fn declared_profiles(&mut self, sections: &[Node]) -> Vec<Profile> {
        let mut out: Vec<Profile> = Vec::new();
        for p in sections.iter().filter(|n| n.has_tag_name("profiles")).flat_map(|n| n.children().filter(|c| c.has_tag_name("profile"))) {
            if !self.matches_arch(p) {
                continue;
            }
            let Some(name) = p.attribute("name") else {
                self.error(p, "<profile> has no name", "add name=\"…\"");
                continue;
            };
            if let Some(i) = out.iter().position(|o| o.name == name) {
                // kiwi-ng reads it (the later declaration wins): so does liveboot, saying so.
                let d = Diagnostic::at(&self.span(p), format!("profile '{name}' is declared twice; the later declaration is used"))
                    .with_help("give each <profile> its own name");
                self.warnings.push(d);
                out.remove(i);
            }
            let import = self.boolean(p, "import").unwrap_or(false);
            let requires = p
                .children()
                .filter(|c| c.has_tag_name("requires") && self.matches_arch(*c))
                .filter_map(|c| c.attribute("profile").map(str::to_string))
                .collect();
            out.push(Profile {
                name: name.to_string(),
                description: p.attribute("description").unwrap_or("").to_string(),
                import,
                requires,
            });
        }
        out
    }

    fn selected_profiles(&mut self, image: Node, declared: &[Profile]) -> Option<Vec<String>> {
        if self.options.profiles.is_empty() {
            return Some(declared.iter().filter(|p| p.import).map(|p| p.name.clone()).collect());
        }
        let mut out: Vec<String> = Vec::new();
        for want in self.options.profiles {
            if !declared.iter().any(|p| &p.name == want) {
                let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
                let help = if names.is_empty() {
                    "this description has no profiles: build it without one".to_string()
                } else {
                    format!("its profiles are: {}", names.join(", "))
                };
                self.error(image, format!("profile '{want}' is not declared in {}", self.file.display()), help);
                return None;
            }
            // Depth first, each profile once, as kiwi-ng resolves <requires>.
            let mut todo = vec![want.clone()];
            while let Some(p) = todo.pop() {
                if out.contains(&p) {
                    continue;
                }
                out.push(p.clone());
                let d = declared.iter().find(|d| d.name == p).expect("declared: checked before it was queued");
                for r in &d.requires {
                    if !declared.iter().any(|x| &x.name == r) {
                        let node = self
                            .doc
                            .descendants()
                            .find(|n| n.has_tag_name("requires") && n.attribute("profile") == Some(r.as_str()))
                            .unwrap_or(image);
                        let names: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
                        self.error(
                            node,
                            format!("profile '{p}' requires profile '{r}', which is not declared"),
                            format!("the profiles are: {}", names.join(", ")),
                        );
                        return None;
                    }
                }
                todo.extend(d.requires.iter().rev().cloned());
            }
        }
        Some(out)
    }

    /// A `profiles="…"` attribute naming an undeclared profile is a warning: kiwi-ng reads such a
    /// description and drops the section from every build; a typo must not do that silently.
    fn check_profile_references(&mut self, sections: &[Node], declared: &[Profile]) {
        for n in sections {
            let Some(list) = n.attribute("profiles") else { continue };
            for p in list.split(',').map(str::trim) {
                if !declared.iter().any(|d| d.name == p) {
                    let near = declared.iter().find(|d| strsim::levenshtein(&d.name, p) <= 2);
                    let help = match near {
                        Some(d) => format!("did you mean '{}'?", d.name),
                        None => format!(
                            "declare it in <profiles>, or use one of: {}",
                            declared.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    // kiwi-ng skips the section in every build; liveboot does too, but says so.
                    let d = Diagnostic::at(
                        &self.span(*n),
                        format!(
                            "<{} profiles=\"{list}\">: no profile '{p}' is declared, so this section applies to no build",
                            n.tag_name().name()
                        ),
                    )
                    .with_help(help);
                    self.warnings.push(d);
                }
            }
        }
    }

    fn build_type(&mut self, image: Node, preferences: &[Node<'d, 'd>], profiles: &[String]) -> Option<(ImageType, Vec<String>)> {
        let types: Vec<Node> = preferences.iter().flat_map(|p| p.children().filter(|c| c.has_tag_name("type"))).collect();
        for t in &types {
            match t.attribute("image") {
                Some(i) if schema::IMAGE_TYPES.contains(&i) => {}
                Some(i) => self.error(
                    *t,
                    format!("<type image=\"{i}\">: unknown image type"),
                    format!("use one of {}", schema::IMAGE_TYPES.join(", ")),
                ),
                None => self.error(*t, "<type> has no image attribute", "add image=\"iso\" (or oem, pxe, kis, …)"),
            }
        }
        let chosen = match self.options.build_type {
            Some(want) => types.iter().find(|t| t.attribute("image") == Some(want)).copied().or_else(|| {
                let offered: Vec<&str> = types.iter().filter_map(|t| t.attribute("image")).collect();
                self.error(
                    image,
                    format!("no <type image=\"{want}\"> for the profiles applied ({})", shown(profiles)),
                    if offered.is_empty() {
                        "choose a profile that has a <type>".to_string()
                    } else {
                        format!("these have: {}", offered.join(", "))
                    },
                );
                None
            })?,
            None => match types.iter().find(|t| t.attribute("primary").is_some_and(|p| p == "true" || p == "1")).or(types.first()) {
                Some(t) => *t,
                None => {
                    self.error(
                        image,
                        format!("no <type> in the <preferences> that apply (profiles applied: {})", shown(profiles)),
                        "choose a profile with --profile, or add a <type> to a <preferences> without profiles",
                    );
                    return None;
                }
            },
        };
        let others = types.iter().filter(|t| **t != chosen).filter_map(|t| t.attribute("image").map(str::to_string)).collect();
        let image_kind = chosen.attribute("image").unwrap_or("").to_string();
        let initrd_system = match image_kind.as_str() {
            "iso" => "dracut".to_string(),
            other => chosen.attribute("initrd_system").map(str::to_string).unwrap_or_else(|| {
                match other {
                    "oem" | "kis" => "dracut",
                    "pxe" => "kiwi",
                    _ => "none",
                }
                .to_string()
            }),
        };
        let bootloader = chosen.children().find(|c| c.has_tag_name("bootloader"));
        let console = bootloader.map(|b| {
            // Schema 7's `console` becomes both of schema 8's; the input console defaults to the
            // output one; `none` is no console (kiwi-ng's reading).
            let output = b.attribute("output_console").or(b.attribute("console"));
            let input = b.attribute("input_console").or(b.attribute("console")).or(output);
            let shown = |c: Option<&str>| c.filter(|c| *c != "none").unwrap_or("").to_string();
            vec![shown(output), shown(input)]
        });
        let timeout = bootloader.and_then(|b| b.attribute("timeout")).and_then(|t| match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.error(bootloader.unwrap(), format!("<bootloader timeout=\"{t}\"> is not a number of seconds"), "write a whole number");
                None
            }
        });
        let hybridpersistent = self.boolean(chosen, "hybridpersistent");
        let primary = self.boolean(chosen, "primary").unwrap_or(false);
        self.unused(chosen);
        let t = ImageType {
            image: image_kind,
            primary,
            firmware: chosen.attribute("firmware").map(str::to_string),
            kernelcmdline: chosen.attribute("kernelcmdline").map(str::to_string),
            volid: chosen.attribute("volid").map(str::to_string),
            flags: chosen.attribute("flags").map(str::to_string),
            filesystem: chosen.attribute("filesystem").map(str::to_string),
            hybridpersistent,
            hybridpersistent_filesystem: chosen.attribute("hybridpersistent_filesystem").map(str::to_string),
            initrd_system,
            bootloader: bootloader.and_then(|b| b.attribute("name")).map(str::to_string),
            bootloader_console: console,
            bootloader_timeout: timeout,
            attributes: chosen.attributes().map(|a| (a.name().to_string(), a.value().to_string())).collect::<BTreeMap<_, _>>(),
            at: self.at(chosen),
        };
        Some((t, others))
    }

    fn repository(&mut self, n: Node) -> Option<Repository> {
        // Schema 8.0's `rpm-dir` is dropped by kiwi-ng's conversion to 8.1 (a folder of rpms).
        let kind = n.attribute("type").filter(|k| *k != "rpm-dir").map(str::to_string);
        if let Some(kind) = kind.as_deref().filter(|k| !schema::REPOSITORY_TYPES.contains(k)) {
            self.error(
                n,
                format!("<repository type=\"{kind}\">: unknown repository type"),
                format!("use one of {}", schema::REPOSITORY_TYPES.join(", ")),
            );
        }
        let priority = match n.attribute("priority") {
            Some(p) => match p.trim().parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(n, format!("<repository priority=\"{p}\"> is not a number"), "write a whole number (lower is preferred)");
                    None
                }
            },
            None => None,
        };
        let imageinclude = self.boolean(n, "imageinclude").unwrap_or(false);
        let Some(path) = n.children().find(|c| c.has_tag_name("source")).and_then(|s| s.attribute("path")) else {
            self.error(n, "<repository> has no <source path=\"…\">", "add <source path=\"http://…\"/> inside it");
            return None;
        };
        Some(Repository {
            kind,
            alias: n.attribute("alias").map(str::to_string),
            priority,
            imageinclude,
            path: path.to_string(),
            distribution: n.attribute("distribution").map(str::to_string),
            components: n.attribute("components").map(str::to_string),
            at: self.at(n),
        })
    }

    fn packages(&mut self, sections: &[Node], build: &str) -> Packages {
        let mut by_type: BTreeMap<&str, Vec<Node>> = BTreeMap::new();
        for s in sections {
            match s.attribute("type") {
                Some(t) if schema::PACKAGES_TYPES.contains(&t) => by_type.entry(t).or_default().push(*s),
                Some(t) => self.error(
                    *s,
                    format!("<packages type=\"{t}\">: unknown type"),
                    format!("use one of {}", schema::PACKAGES_TYPES.join(", ")),
                ),
                None => self.error(*s, "<packages> has no type", "add type=\"image\" (or bootstrap, delete, uninstall)"),
            }
            for p in s.children().filter(|c| {
                c.has_tag_name("package") || c.has_tag_name("ignore") || c.has_tag_name("namedCollection") || c.has_tag_name("archive")
            }) {
                if p.attribute("name").is_none_or(|n| n.trim().is_empty()) {
                    self.error(p, format!("<{}> has no name", p.tag_name().name()), "add name=\"…\"");
                }
            }
            self.unused(*s);
        }
        let of = |types: &[&str]| -> Vec<Node> { types.iter().flat_map(|t| by_type.get(t).cloned().unwrap_or_default()).collect() };
        let names = |r: &Self, sections: &[Node], tag: &str, arch: bool, sort_unique: bool| -> Vec<String> {
            let mut v: Vec<String> = sections
                .iter()
                .flat_map(|s| s.children().filter(|c| c.has_tag_name(tag)))
                .filter(|p| !arch || r.matches_arch(*p))
                .filter_map(|p| p.attribute("name").map(|n| n.trim().to_string()))
                .collect();
            v.sort();
            if sort_unique {
                v.dedup();
            }
            v
        };
        let bootstrap = of(&["bootstrap"]);
        let image = of(&["image", build]);
        Packages {
            bootstrap: names(self, &bootstrap, "package", true, true),
            image: names(self, &image, "package", true, true),
            delete: names(self, &of(&["delete"]), "package", true, true),
            uninstall: names(self, &of(&["uninstall"]), "package", true, true),
            // kiwi-ng counts the build type's sections for bootstrap collections too.
            bootstrap_collections: names(self, &of(&["bootstrap", build]), "namedCollection", true, true),
            image_collections: names(self, &image, "namedCollection", true, true),
            bootstrap_archives: names(self, &bootstrap, "archive", false, false),
            image_archives: names(self, &image, "archive", false, false),
            ignore: names(self, &image, "ignore", true, false),
        }
    }

    fn users(&mut self, sections: &[Node]) -> Vec<User> {
        let mut out: Vec<User> = Vec::new();
        for u in sections.iter().flat_map(|s| s.children().filter(|c| c.has_tag_name("user"))) {
            let Some(name) = u.attribute("name") else {
                self.error(u, "<user> has no name", "add name=\"…\"");
                continue;
            };
            let groups: Vec<String> = u.attribute("groups").map(|g| g.split(',').map(str::to_string).collect()).unwrap_or_default();
            match out.iter_mut().find(|o| o.name == name) {
                Some(o) => {
                    for g in groups {
                        if !o.groups.contains(&g) {
                            o.groups.push(g);
                        }
                    }
                }
                None => {
                    let mut unique: Vec<String> = Vec::new();
                    for g in groups {
                        if !unique.contains(&g) {
                            unique.push(g);
                        }
                    }
                    out.push(User {
                        name: name.to_string(),
                        groups: unique,
                        home: u.attribute("home").map(str::to_string),
                        shell: u.attribute("shell").map(str::to_string),
                        password: u.attribute("password").is_some(),
                    })
                }
            }
        }
        out
    }

    /// Warns once per element name for the elements under `section` (or `section` itself) that
    /// liveboot does not act on.
    fn unused(&mut self, section: Node) {
        for n in section.descendants().filter(Node::is_element) {
            let name = n.tag_name().name();
            if n.tag_name().namespace().is_some() || schema::USED.contains(&name) || !schema::ELEMENTS.contains(&name) || name == "include"
            {
                continue;
            }
            if n.ancestors().skip(1).any(|a| a.is_element() && !schema::USED.contains(&a.tag_name().name())) {
                continue; // named through its unused parent
            }
            let message = format!(
                "<{name}> is not used by liveboot (it builds live images from what the description installs); kiwi-ng would act on it"
            );
            if !self.warnings.iter().any(|w| w.message == message) {
                let d = Diagnostic::at(&self.span(n), message);
                self.warnings.push(d);
            }
        }
    }
}

fn shown(profiles: &[String]) -> String {
    if profiles.is_empty() {
        "none".to_string()
    } else {
        profiles.join(", ")
    }
}
