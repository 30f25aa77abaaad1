//! Output kinds: one module each, behind the [`OutputKind`] trait.
//!
//! Once the family has made its kernel, initrd and root image (a [`Root`]), each output the
//! recipe lists in `outputs:` adds its stages. Boot menus of every output are rendered in one
//! shared stage, `bootmenu`, so that a kernel-argument change reruns that stage and the outputs
//! that use the menus, and nothing else: an output says which menus it needs
//! ([`OutputKind::menus`]) and refers to them as `{bootmenu}/...`.
//!
//! Adding an output (a disk image, a remastered ISO) is a new module here and one line in
//! [`builtin`]; one may also be registered from outside the crate with
//! [`Registry::with_output`](crate::Registry::with_output).

mod efi;
mod iso;
pub mod pxe;

use std::sync::Arc;

use liveboot_yaml::{Diagnostic, Span};

use crate::plan::{Action, Artifact, Builder, Root};

pub use iso::Iso;
pub use pxe::Pxe;

/// A menu an output needs rendered in the `bootmenu` stage.
#[derive(Debug, Clone)]
pub struct Menu {
    /// Template under the project's `templates/`.
    pub template: &'static str,
    /// Where it goes in the `bootmenu` stage's folder; the first component is the output the
    /// stage declares (`grub.cfg`, `pxe`).
    pub dest: String,
    /// The template's variables.
    pub vars: serde_json::Value,
}

/// One kind of build output.
pub trait OutputKind: Send + Sync {
    /// Its name in a recipe's `outputs:`.
    fn name(&self) -> &'static str;

    /// Debian packages of the build host whose programs or files its stages use.
    fn host_packages(&self) -> &'static [&'static str] {
        &[]
    }

    /// The boot menus it needs rendered (none by default). The builder holds the family's
    /// stages (their keys, say).
    fn menus(&self, _b: &Builder, _root: &Root) -> Result<Vec<Menu>, Diagnostic> {
        Ok(Vec::new())
    }

    /// Adds its stages (after the family's and the `bootmenu` stage); returns the artifacts.
    fn stages(&self, b: &mut Builder, root: &Root) -> Result<Vec<Artifact>, Diagnostic>;
}

impl std::fmt::Debug for dyn OutputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputKind({})", self.name())
    }
}

/// The outputs liveboot ships.
pub fn builtin() -> Vec<Arc<dyn OutputKind>> {
    vec![Arc::new(Iso), Arc::new(Pxe)]
}

/// The name of the shared menu stage.
pub const BOOTMENU: &str = "bootmenu";

/// Adds the shared `bootmenu` stage (when any output needs a menu), then each output's stages.
pub(crate) fn plan_outputs(b: &mut Builder, root: &Root, outputs: &[(&dyn OutputKind, Span)]) -> Result<Vec<Artifact>, Diagnostic> {
    let mut inputs = Vec::new();
    let mut actions = Vec::new();
    let mut declared: Vec<String> = Vec::new();
    for (o, at) in outputs {
        b.set_origin(at.clone());
        for m in o.menus(b, root)? {
            inputs.push(b.template(m.template)?);
            let first = m.dest.split('/').next().unwrap_or_default().to_string();
            if !declared.contains(&first) {
                declared.push(first);
            }
            actions.push(Action::Render { template: m.template.into(), dest: format!("{{self}}/{}", m.dest).into(), vars: m.vars });
        }
    }
    if !actions.is_empty() {
        let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
        b.add(BOOTMENU, "render the boot menus (GRUB and isolinux for the ISO)", &declared, inputs, actions)?;
    }
    let mut artifacts = Vec::new();
    for (o, at) in outputs {
        b.set_origin(at.clone());
        artifacts.extend(o.stages(b, root)?);
    }
    Ok(artifacts)
}
