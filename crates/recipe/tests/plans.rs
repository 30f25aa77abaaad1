//! Invariants of the plans of every shipped recipe, the plans recorded before the families and
//! outputs became modules, and the extension points (a family added from outside the crate).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liveboot_recipe::family::{Facts, Family, Release, LIVE_BOOT};
use liveboot_recipe::plan::{plan, Action, Builder, Place, PlanOptions, Root};
use liveboot_recipe::{Check, Recipe, Registry};
use liveboot_yaml::Diagnostic;

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize().unwrap()
}

fn names() -> Vec<String> {
    let names = liveboot_recipe::recipe_names(&root().join("recipes")).unwrap();
    assert_eq!(names.len(), 11);
    names
}

fn plan_of(project: &Path, name: &str, tools: BTreeMap<String, String>) -> liveboot_recipe::plan::Plan {
    let r = liveboot_recipe::load_by_name(&project.join("recipes"), name).unwrap();
    plan(&r, &PlanOptions { tools, ..PlanOptions::for_project(project) }).unwrap()
}

#[test]
fn every_reference_names_a_declared_output_of_a_stage_it_comes_after() {
    for name in names() {
        let p = plan_of(&root(), &name, BTreeMap::new());
        for s in &p.stages {
            for place in s.actions.iter().flat_map(Action::texts).flat_map(|t| t.places()) {
                let Place::Stage { stage, path } = place else { continue };
                assert!(s.after.contains(stage), "{name}: stage '{}' refers to {place}, which it does not come after", s.name);
                let other = p.stages.iter().find(|x| &x.name == stage).unwrap();
                let first = path.split('/').next().unwrap();
                assert!(first.is_empty() || other.outputs.iter().any(|o| o == first), "{name}: {place} is not declared by {stage}");
            }
            for a in &s.after {
                assert!(
                    s.actions.iter().flat_map(Action::texts).flat_map(|t| t.places()).any(|p| p.stage_name() == Some(a)),
                    "{name}: {} comes after {a} without reading it",
                    s.name
                );
            }
        }
        for a in &p.artifacts {
            let stage = a.from.stage_name().expect("artifacts come from stages");
            assert!(p.stages.iter().any(|s| s.name == stage), "{name}: artifact {} from unknown stage {stage}", a.name);
        }
    }
}

#[test]
fn keys_change_exactly_with_their_inputs() {
    let r = liveboot_recipe::load_by_name(&root().join("recipes"), "debian12").unwrap();
    let opts = PlanOptions::for_project(&root());
    let base = plan(&r, &opts).unwrap();
    let mut changed = r.clone();
    changed.spec.boot.kernel_args.push("quiet".into());
    let other = plan(&changed, &opts).unwrap();
    let differ: Vec<&str> = base.stages.iter().zip(&other.stages).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.name.as_str()).collect();
    // The ISO's menus, the ISO, and the network bundle's description (bundle.json).
    assert_eq!(differ, ["bootmenu", "iso", "pxe"]);
    let later = plan(&r, &PlanOptions { source_date_epoch: Some(1_800_000_000), ..opts.clone() }).unwrap();
    let differ: Vec<&str> = base.stages.iter().zip(&later.stages).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.name.as_str()).collect();
    assert_eq!(differ, ["rootfs", "customize", "squashfs", "efi", "iso", "pxe"], "the epoch reaches every stage that carries times");
}

/// `tests/plans/<recipe>.json` is each recipe's plan as JSON, planned with every host tool at
/// version "pinned" (so that keys do not depend on this host). They were first recorded by
/// commit 1daf69c, before families and outputs became modules (issue 10), and that commit's
/// successor matched them but for project-relative names. A plan that changes on purpose is
/// re-recorded with `UPDATE_EXPECT=1`; the diff is the review.
#[test]
fn plans_are_the_recorded_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let tools: BTreeMap<String, String> =
        Registry::builtin().host_packages().iter().map(|p| (p.to_string(), "pinned".to_string())).collect();
    let mut differ = Vec::new();
    for name in names() {
        let path = dir.join(format!("{name}.json"));
        let new = serde_json::to_string_pretty(&plan_of(&root(), &name, tools.clone())).unwrap() + "\n";
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &new).unwrap();
        } else if std::fs::read_to_string(&path).unwrap_or_default() != new {
            differ.push(name);
        }
    }
    assert!(differ.is_empty(), "the plans of {differ:?} differ from tests/plans/ (UPDATE_EXPECT=1 re-records them; review the diff)");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn keys_and_inputs_do_not_depend_on_where_the_project_lies() {
    let tmp = tempfile::tempdir().unwrap();
    let checkouts = [tmp.path().join("a"), tmp.path().join("deeper/checkout-b")];
    for c in &checkouts {
        for d in ["recipes", "templates", "kickstarts", "kiwi"] {
            copy_tree(&root().join(d), &c.join(d));
        }
    }
    for name in names() {
        let [a, b] = [&checkouts[0], &checkouts[1]].map(|c| plan_of(c, &name, BTreeMap::new()));
        assert_eq!(a.recipe_hash, b.recipe_hash, "{name}");
        for (x, y) in a.stages.iter().zip(&b.stages) {
            assert_eq!(x.key, y.key, "{name}: stage {} has another key in another checkout", x.name);
        }
        let json = serde_json::to_string(&a).unwrap();
        assert!(!json.contains(&tmp.path().display().to_string()), "{name}: the plan names where the project lies: {json}");
    }
}

/// A family that exists only in this test: one stage makes kernel, initrd and root image.
struct TestOs {
    /// The stage output the family says its kernel is in.
    kernel: Place,
}

const TESTOS: Facts = Facts {
    name: "testos",
    releases: &[Release { release: "1", codename: "one", released: 1_000_000_000 }],
    sources: &["bootstrap"],
    schemes: &[&LIVE_BOOT],
    host_packages: &[],
};

impl Family for TestOs {
    fn facts(&self) -> &Facts {
        &TESTOS
    }
    fn validate(&self, _: &Recipe, _: &mut Check) {}
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        b.add(
            "make",
            "make everything at once",
            &["vmlinuz", "initrd.img", "root.squashfs"],
            vec![b.part("packages", &b.recipe.spec.packages)],
            vec![Action::run(["testos-make", "{self}"])],
        )?;
        Ok(Root {
            kernel: self.kernel.clone(),
            initrd: Place::stage("make", "initrd.img"),
            image: Place::stage("make", "root.squashfs"),
            scheme: &LIVE_BOOT,
            remaster: None,
            loaders: None,
        })
    }
    fn buildable(&self, _: &Recipe) -> Result<(), String> {
        Ok(())
    }
}

fn testos_recipe(dir: &Path) -> PathBuf {
    let file = dir.join("t1.yaml");
    std::fs::write(
        &file,
        "name: t1\ntitle: Test OS\nlabel: T1\ndistro:\n  family: testos\n  release: \"1\"\nsource:\n  bootstrap: {}\npackages: [kernel]\n",
    )
    .unwrap();
    file
}

#[test]
fn a_family_added_from_outside_the_crate_plans_with_the_common_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = testos_recipe(tmp.path());
    // Without it the family is unknown.
    let e = liveboot_recipe::load(&file).unwrap_err().to_string();
    assert!(e.contains("t1.yaml:5:11: unknown distribution family 'testos'"), "{e}");

    let registry = Registry::builtin().with_family(Arc::new(TestOs { kernel: Place::stage("make", "vmlinuz") }));
    let r = liveboot_recipe::load_with(&file, &registry).unwrap();
    let p = plan(&r, &PlanOptions::for_project(&root())).unwrap();
    let stages: Vec<(&str, Vec<&str>)> = p.stages.iter().map(|s| (s.name.as_str(), s.after.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        stages,
        [("make", vec![]), ("bootmenu", vec![]), ("efi", vec![]), ("iso", vec!["make", "bootmenu", "efi"]), ("pxe", vec!["make"])]
    );
    assert_eq!(p.source_date_epoch, 1_000_000_000, "the family's release day is the default epoch");
    let iso = p.stages.iter().find(|s| s.name == "iso").unwrap();
    assert!(iso.actions.iter().any(|a| a.describe() == "copy   {make}/vmlinuz -> {self}/tree/live/vmlinuz"), "{p}");
}

#[test]
fn a_reference_to_a_missing_stage_or_output_fails_at_plan_time_with_the_recipe_location() {
    let tmp = tempfile::tempdir().unwrap();
    let file = testos_recipe(tmp.path());
    for (kernel, expect) in [
        (Place::stage("make", "bzImage"), "stage 'iso' refers to {make}/bzImage: stage 'make' declares no output 'bzImage'"),
        (Place::stage("kernel", "vmlinuz"), "stage 'iso' refers to {kernel}/vmlinuz: no stage 'kernel' comes before it"),
    ] {
        let registry = Registry::builtin().with_family(Arc::new(TestOs { kernel }));
        let r = liveboot_recipe::load_with(&file, &registry).unwrap();
        let e = plan(&r, &PlanOptions::for_project(&root())).unwrap_err().to_string();
        // Located at the output that asked for the stage (outputs default to the base's).
        assert!(e.contains(expect), "{e}");
        assert!(e.contains("t1.yaml:"), "no recipe location: {e}");
    }
}

#[test]
fn pxe_root_iso_serves_the_iso_outputs_file_or_says_why_it_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path();
    copy_tree(&root().join("recipes"), &project.join("recipes"));
    copy_tree(&root().join("templates"), &project.join("templates"));
    let write = |name: &str, extra: &str| {
        std::fs::write(project.join(format!("recipes/{name}.yaml")), format!("extends: debian12-dracut\nname: {name}\n{extra}")).unwrap();
    };
    write("whole", "pxe:\n  root: iso\n");
    let p = plan_of(project, "whole", BTreeMap::new());
    let pxe = p.stages.iter().find(|s| s.name == "pxe").unwrap();
    assert!(pxe.actions.iter().any(|a| a.describe() == "link   {iso}/whole.iso -> {self}/image.iso"), "{p}");
    let bundle = pxe.actions.iter().find_map(|a| if let Action::Write { content, .. } = a { Some(content.clone()) } else { None }).unwrap();
    let bundle: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(bundle["root"], "image.iso", "{bundle}");
    assert_eq!(bundle["netboot_arg"], "root=live:{url}/image.iso ip=dhcp rd.neednet=1", "{bundle}");

    for (name, extra, expect) in [
        (
            "after",
            "pxe:\n  root: iso\noutputs: [pxe, iso]\n",
            "after.yaml:4:9: pxe.root: iso serves the ISO output, which this recipe does not build before pxe",
        ),
        ("noiso", "pxe:\n  root: iso\noutputs: [pxe]\n", "noiso.yaml:4:9: pxe.root: iso serves the ISO output"),
    ] {
        write(name, extra);
        let r = liveboot_recipe::load_by_name(&project.join("recipes"), name).unwrap();
        let e = plan(&r, &PlanOptions::for_project(project)).unwrap_err().to_string();
        assert!(e.contains(expect), "{e}");
        assert!(e.contains("outputs: [iso, pxe]"), "{e}");
    }
    // live-boot fetches a root image, not an ISO.
    std::fs::write(project.join("recipes/lb.yaml"), "extends: debian12\nname: lb\npxe:\n  root: iso\n").unwrap();
    let r = liveboot_recipe::load_by_name(&project.join("recipes"), "lb").unwrap();
    let e = plan(&r, &PlanOptions::for_project(project)).unwrap_err().to_string();
    assert!(e.contains("lb.yaml:4:9: the live-boot live root cannot boot from a whole ISO fetched over the network"), "{e}");
    assert!(e.contains("pxe: {root: image}"), "{e}");
}
