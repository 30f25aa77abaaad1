//! Reading a recipe: parse, apply `extends:`, deserialize strictly, validate.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use liveboot_yaml::{closest, from_node, load_file, merge, Diagnostic, Diagnostics, Node, NodeKind};

use crate::family::{Family, Release};
use crate::output::OutputKind;
use crate::validate::validate;
use crate::{RecipeSpec, Registry};

/// A loaded, valid recipe.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The typed recipe.
    pub spec: RecipeSpec,
    /// Its family.
    pub family: Arc<dyn Family>,
    /// The outputs it asks for, in its order.
    pub outputs: Vec<Arc<dyn OutputKind>>,
    /// The recipe file.
    pub file: PathBuf,
    /// The files it extends, in the order they were applied.
    pub extends: Vec<PathBuf>,
    /// The merged tree, for locating values and resolving relative paths.
    pub tree: Node,
}

impl Recipe {
    /// Its release's entry in the family's table (checked when it was loaded).
    pub fn release(&self) -> &'static Release {
        let r = &self.spec.distro.release;
        self.family.releases().iter().find(|x| x.release == r).expect("validated when loaded")
    }

    /// Resolves a path written in the recipe (or in the fragment that wrote it) at `path`.
    pub fn resolve(&self, path: &[liveboot_yaml::PathSeg], written: &str) -> PathBuf {
        self.tree.locate(path).span.resolve(written)
    }
}

/// Fragments (`_name.yaml`) hold shared settings for `extends:`; they are not recipes.
fn is_fragment(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('_'))
}

/// The recipes in a folder (fragments left out), sorted.
pub fn recipe_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") && !is_fragment(&path) {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                names.push(stem.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Loads `name` from `dir`, or a path when `name` ends in `.yaml`, with liveboot's own
/// families and outputs.
pub fn load_by_name(dir: &Path, name: &str) -> Result<Recipe, Diagnostics> {
    load_by_name_with(dir, name, &Registry::builtin())
}

/// [`load_by_name`] with the families and outputs of `registry`.
pub fn load_by_name_with(dir: &Path, name: &str, registry: &Registry) -> Result<Recipe, Diagnostics> {
    if name.ends_with(".yaml") || name.contains('/') {
        return load_with(Path::new(name), registry);
    }
    let path = dir.join(format!("{name}.yaml"));
    if !path.exists() {
        let known = recipe_names(dir).unwrap_or_default();
        let help = match closest(name, &known) {
            Some(k) => format!("did you mean '{k}'?"),
            None if known.is_empty() => format!("no recipes in {}: pass --recipes DIR", dir.display()),
            None => format!("the recipes are: {}", known.join(", ")),
        };
        return Err(Diagnostic::nowhere(format!("no recipe '{name}' ({} does not exist)", path.display())).with_help(help).into());
    }
    load_with(&path, registry)
}

/// Loads and validates one recipe file, with liveboot's own families and outputs.
pub fn load(path: &Path) -> Result<Recipe, Diagnostics> {
    load_with(path, &Registry::builtin())
}

/// Loads and validates one recipe file; its family and outputs must be in `registry`.
pub fn load_with(path: &Path, registry: &Registry) -> Result<Recipe, Diagnostics> {
    if is_fragment(path) {
        return Err(Diagnostic::file(path, "this file is a fragment shared through 'extends:', not a recipe")
            .with_help("build a recipe that extends it, or rename the file without the leading '_'")
            .into());
    }
    let mut extends = Vec::new();
    let tree = load_with_extends(path, &mut Vec::new(), &mut extends, &mut Loaded::new())?;
    let spec: RecipeSpec = from_node(&tree)?;
    validate(spec, path, extends, tree, registry)
}

/// The most files one recipe may draw on through `extends:` (liveboot's own use three).
pub const MAX_EXTENDS: usize = 64;

/// Fragments already loaded (with everything they extend), by canonical path: a fragment that
/// several parents extend (a diamond) is read and merged once, not once per path to it, which
/// grows exponentially with the depth of such chains.
type Loaded = std::collections::HashMap<PathBuf, (Node, Vec<PathBuf>)>;

fn load_with_extends(path: &Path, chain: &mut Vec<PathBuf>, applied: &mut Vec<PathBuf>, loaded: &mut Loaded) -> Result<Node, Diagnostic> {
    let mut node = load_file(path)?;
    if !matches!(node.kind, NodeKind::Map(_)) {
        return Err(Diagnostic::at(&node.span, format!("expected a mapping of settings, found {}", node.type_name()))
            .with_help("a recipe is a set of 'key: value' lines"));
    }
    let parents = take_extends(&mut node)?;
    chain.push(path.to_path_buf());
    let mut base: Option<Node> = None;
    for parent in parents {
        let (written, span) = parent;
        let file = span.resolve(&if written.ends_with(".yaml") { written.clone() } else { format!("{written}.yaml") });
        if chain.iter().any(|c| same_file(c, &file)) {
            return Err(Diagnostic::at(&span, format!("'{written}' extends itself (through {})", show_chain(chain)))
                .with_help("remove one of the 'extends:' lines that form the loop"));
        }
        if !file.exists() {
            return Err(Diagnostic::at(&span, format!("cannot find '{written}' ({} does not exist)", file.display()))
                .with_help("name a file beside this recipe, without '.yaml', e.g. 'extends: _debian'"));
        }
        let key = file.canonicalize().unwrap_or_else(|_| file.clone());
        if !loaded.contains_key(&key) {
            if loaded.len() >= MAX_EXTENDS {
                return Err(Diagnostic::at(&span, format!("this recipe draws on more than {MAX_EXTENDS} files through 'extends:'"))
                    .with_help("share settings through fewer fragments"));
            }
            let mut its = Vec::new();
            let node = load_with_extends(&file, chain, &mut its, loaded)?;
            loaded.insert(key.clone(), (node, its));
        }
        let (node, its) = loaded[&key].clone();
        // Each file once, in the order first applied.
        for f in its.into_iter().chain(Some(file)) {
            if !applied.iter().any(|a| same_file(a, &f)) {
                applied.push(f);
            }
        }
        base = Some(match base {
            Some(b) => merge_recipe(b, node),
            None => node,
        });
    }
    chain.pop();
    Ok(match base {
        Some(b) => merge_recipe(b, node),
        None => node,
    })
}

/// Merges a recipe over the one it extends. `source:` names one kind of source, so a child's
/// `source:` replaces the parent's instead of merging into it (a child that switches from
/// `bootstrap` to `kickstart` must not end up with both).
fn merge_recipe(mut parent: Node, child: Node) -> Node {
    if child.get("source").is_some() {
        parent.remove("source");
    }
    merge(parent, child)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn show_chain(chain: &[PathBuf]) -> String {
    chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> ")
}

/// Removes `extends:` from a mapping and returns the names it lists with their places.
fn take_extends(node: &mut Node) -> Result<Vec<(String, liveboot_yaml::Span)>, Diagnostic> {
    let NodeKind::Map(entries) = &mut node.kind else {
        return Ok(Vec::new());
    };
    let Some(i) = entries.iter().position(|(k, _)| k.as_str() == Some("extends")) else {
        return Ok(Vec::new());
    };
    let (_, value) = entries.remove(i);
    let items = match value.kind {
        NodeKind::Seq(items) => items,
        _ => vec![value],
    };
    items
        .into_iter()
        .map(|n| match (&n.kind, n.is_null()) {
            (NodeKind::Scalar { text, .. }, false) => Ok((text.clone(), n.span.clone())),
            _ => Err(Diagnostic::at(&n.span, format!("expected the name of a recipe fragment, found {}", n.type_name()))
                .with_help("write 'extends: _name' or a list of names")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_deep_chain_of_diamonds_loads_each_fragment_once() {
        // _f0 is extended by _a1 and _b1, both by _f1, ... : 2^20 paths to _f0, 41 files.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("_f0.yaml"), "title: deep\n").unwrap();
        for i in 1..=20 {
            let p = i - 1;
            std::fs::write(d.path().join(format!("_a{i}.yaml")), format!("extends: _f{p}\n")).unwrap();
            std::fs::write(d.path().join(format!("_b{i}.yaml")), format!("extends: _f{p}\n")).unwrap();
            std::fs::write(d.path().join(format!("_f{i}.yaml")), format!("extends: [_a{i}, _b{i}]\n")).unwrap();
        }
        std::fs::write(d.path().join("deep.yaml"), "extends: _f20\nname: deep\n").unwrap();
        // It fails for lack of settings, but only after reading the whole graph, quickly.
        let e = super::load(&d.path().join("deep.yaml")).unwrap_err().to_string();
        assert!(e.contains("missing key"), "{e}");
    }
}
