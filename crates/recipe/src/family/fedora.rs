//! Fedora and Rocky: a kickstart, flattened, built into a live root by livemedia-creator (or
//! livecd-creator for old releases). dracut's dmsquash-live boots it. The two differ only in
//! their releases, as Rocky's installer in mkosi inherits CentOS's.

use liveboot_yaml::Diagnostic;

use super::{release, Facts, Family, DRACUT};
use crate::plan::{Action, Builder, Place, Remaster, Root, Text};
use crate::{key_path, Check, KickstartTool, Recipe, Source};

/// A family whose images come from kickstarts: Fedora, Rocky.
pub struct Kickstarted(pub &'static Facts);

/// Fedora.
pub const FEDORA: Facts = Facts {
    name: "fedora",
    releases: &[
        release("37", "", 1668470400),
        release("38", "", 1681776000),
        release("39", "", 1699315200),
        release("40", "", 1713830400),
        release("41", "", 1730160000),
        release("42", "", 1744675200),
        release("43", "", 1761609600),
    ],
    sources: &["kickstart"],
    schemes: &[&DRACUT],
    host_packages: &[],
};

/// Rocky Linux.
pub const ROCKY: Facts = Facts {
    name: "rocky",
    releases: &[release("8", "", 1624233600), release("9", "", 1657756800), release("10", "", 1749600000)],
    ..FEDORA
};

/// RPM package names as kickstart `%packages` takes them: names, groups (`@core`) and
/// exclusions (`-pkg`).
pub(crate) fn is_rpm_package_name(p: &str) -> bool {
    let name = p.trim_start_matches(['@', '-']);
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
}

impl Family for Kickstarted {
    fn facts(&self) -> &Facts {
        self.0
    }
    fn validate(&self, recipe: &Recipe, check: &mut Check) {
        if let Source::Kickstart(k) = &recipe.spec.source {
            check.file_exists(key_path!["source", "kickstart", "file"], &k.file, "kickstart file", false);
        }
        check.package_names(recipe, is_rpm_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        let spec = &b.recipe.spec;
        let Source::Kickstart(ks) = &spec.source else { unreachable!("validated: {} builds from kickstarts", self.0.name) };
        let file = b.source_path(&["source".into(), "kickstart".into(), "file".into()], &ks.file);
        let mut post = format!("%packages\n{}\n%end\n\n%post\n", spec.packages.join("\n"));
        post.push_str(&format!("cat > /etc/cloud/cloud.cfg.d/90_liveboot.cfg <<'EOF'\n{}EOF\n%end\n", spec.cloud_init.image_config()));
        let tool = match ks.tool {
            KickstartTool::LivemediaCreator => vec![
                "livemedia-creator".into(),
                "--make-iso".into(),
                "--no-virt".into(),
                "--iso-only".into(),
                Text::lit(format!("--iso-name={}.iso", spec.name)),
                Text::lit(format!("--volid={}", spec.label)),
                Text::lit(format!("--project={}", spec.title)),
                Text::lit(format!("--releasever={}", spec.distro.release)),
                "--ks={self}/flat.ks".into(),
                "--resultdir={self}/result".into(),
            ],
            KickstartTool::LivecdCreator => vec![
                Text::from("livecd-creator"),
                "--config={self}/flat.ks".into(),
                Text::lit(format!("--fslabel={}", spec.label)),
                "--cache={cache}/livecd".into(),
                "--tmpdir={self}/tmp".into(),
            ],
        };
        let mut inputs = vec![
            b.file(&file)?,
            b.part("packages", &spec.packages),
            b.part("cloud_init", &spec.cloud_init),
            b.part("distro", &spec.distro),
            b.part("label", &spec.label),
        ];
        inputs.extend(b.epoch());
        let env = b.epoch_env();
        let config = Text::from("--config=").then(file);
        let actions = vec![
            Action::Run { argv: vec!["ksflatten".into(), config, "--output={self}/base.ks".into()], env: Default::default() },
            Action::Write { dest: "{self}/recipe.ks".into(), content: post, mode: None },
            Action::Write { dest: "{self}/main.ks".into(), content: "%include base.ks\n%include recipe.ks\n".into(), mode: None },
            Action::run(["ksflatten", "--config={self}/main.ks", "--output={self}/flat.ks"]),
            Action::run_env(tool, env),
        ];
        b.add(
            "live",
            "flatten the kickstart, add the recipe's packages and cloud-init settings, build the live root",
            &["base.ks", "recipe.ks", "main.ks", "flat.ks", "result"],
            inputs,
            actions,
        )?;
        Ok(Root {
            kernel: Place::stage("live", "result/images/pxeboot/vmlinuz"),
            initrd: Place::stage("live", "result/images/pxeboot/initrd.img"),
            image: Place::stage("live", "result/LiveOS/squashfs.img"),
            scheme: &DRACUT,
            remaster: Some(Remaster { iso: Place::stage("live", &format!("result/{}.iso", spec.name)), overlay: None }),
        })
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        super::not_yet(recipe)
    }
}
