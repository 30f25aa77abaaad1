//! openSUSE Leap: a KIWI image description built by kiwi-ng; dracut's kiwi-live boots it.

use liveboot_yaml::Diagnostic;

use super::fedora::is_rpm_package_name;
use super::{release, Facts, Family, KIWI_LIVE};
use crate::plan::{Action, Builder, Place, Remaster, Root, Text};
use crate::{key_path, Check, Recipe, Source};

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
    schemes: &[&KIWI_LIVE],
    host_packages: &[],
};

impl Family for Suse {
    fn facts(&self) -> &Facts {
        &FACTS
    }
    fn validate(&self, recipe: &Recipe, c: &mut Check) {
        if let Source::Kiwi(k) = &recipe.spec.source {
            let at = key_path!["source", "kiwi", "description"];
            c.file_exists(at, &k.description, "KIWI description folder", true);
            if recipe.resolve(at, &k.description).is_dir() {
                // The description is read as kiwi-ng reads it: every problem at its file and line.
                if let Err(errors) = super::kiwi::read(recipe, k) {
                    for e in errors {
                        c.push(e);
                    }
                }
            }
        }
        c.package_names(recipe, is_rpm_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        let spec = &b.recipe.spec;
        let Source::Kiwi(k) = &spec.source else { unreachable!("validated: opensuse-leap builds from KIWI descriptions") };
        let dir = b.source_path(&["source".into(), "kiwi".into(), "description".into()], &k.description);
        let mut argv: Vec<Text> = vec!["kiwi-ng".into(), "--type=iso".into()];
        if let Some(p) = &k.profile {
            argv.push(Text::lit(format!("--profile={p}")));
        }
        let inputs_dir = b.dir(&dir)?;
        argv.extend(["system".into(), "build".into(), Text::from("--description=").then(dir), "--target-dir={self}/kiwi".into()]);
        let mut inputs = vec![inputs_dir, b.part("packages", &spec.packages), b.part("cloud_init", &spec.cloud_init)];
        inputs.extend(b.epoch());
        let env = b.epoch_env();
        b.add("kiwi", "build the live image from the KIWI description", &["kiwi"], inputs, vec![Action::Run { argv, env }])?;
        Ok(Root {
            kernel: Place::stage("kiwi", "kiwi/build/image-root/boot/vmlinuz"),
            initrd: Place::stage("kiwi", "kiwi/build/image-root/boot/initrd"),
            image: Place::stage("kiwi", "kiwi/LiveOS/squashfs.img"),
            scheme: &KIWI_LIVE,
            remaster: Some(Remaster { iso: Place::stage("kiwi", "kiwi/liveboot-leap15.x86_64-15.6.0.iso"), files: Vec::new() }),
            loaders: None,
        })
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        super::not_yet(recipe)
    }
}
