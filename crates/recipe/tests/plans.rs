//! Invariants of the plans of every shipped recipe.

use std::collections::BTreeMap;
use std::path::Path;

use liveboot_recipe::plan::{plan, Action, PlanOptions};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        out.push(rest[i + 1..i + j].to_string());
        rest = &rest[i + j + 1..];
    }
    out
}

fn texts(a: &Action) -> Vec<String> {
    match serde_json::to_value(a).unwrap() {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter(|(k, _)| k != "vars" && k != "content")
            .flat_map(|(_, v)| match v {
                serde_json::Value::String(s) => vec![s],
                serde_json::Value::Array(items) => items.into_iter().filter_map(|i| i.as_str().map(String::from)).collect(),
                serde_json::Value::Object(env) => env.into_iter().filter_map(|(_, v)| v.as_str().map(String::from)).collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_placeholder_names_self_the_cache_or_a_stage_it_comes_after() {
    let recipes = root().join("recipes");
    let names = liveboot_recipe::recipe_names(&recipes).unwrap();
    assert_eq!(names.len(), 9);
    for name in names {
        let r = liveboot_recipe::load_by_name(&recipes, &name).unwrap();
        let p = plan(&r, &PlanOptions { templates: root().join("templates"), source_date_epoch: None, tools: BTreeMap::new() }).unwrap();
        for s in &p.stages {
            for a in &s.actions {
                for t in texts(a) {
                    for ph in placeholders(&t) {
                        let ok = ph == "self" || ph == "cache" || s.after.contains(&ph);
                        assert!(ok, "{name}: stage '{}' refers to '{{{ph}}}' in {t:?}, which it does not come after", s.name);
                    }
                }
            }
        }
        // Artifacts come from stages that exist.
        for a in &p.artifacts {
            let stage = placeholders(&a.from)[0].clone();
            assert!(p.stages.iter().any(|s| s.name == stage), "{name}: artifact {} from unknown stage {stage}", a.name);
        }
    }
}

#[test]
fn keys_change_exactly_with_their_inputs() {
    let recipes = root().join("recipes");
    let r = liveboot_recipe::load_by_name(&recipes, "debian12").unwrap();
    let opts = PlanOptions { templates: root().join("templates"), source_date_epoch: None, tools: BTreeMap::new() };
    let base = plan(&r, &opts).unwrap();
    let mut changed = r.clone();
    changed.spec.boot.kernel_args.push("quiet".into());
    let other = plan(&changed, &opts).unwrap();
    let differ: Vec<&str> = base.stages.iter().zip(&other.stages).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.name.as_str()).collect();
    assert_eq!(differ, ["bootmenu", "iso"]);
    let later = plan(&r, &PlanOptions { source_date_epoch: Some(1_800_000_000), ..opts.clone() }).unwrap();
    let differ: Vec<&str> = base.stages.iter().zip(&later.stages).filter(|(a, b)| a.key != b.key).map(|(a, _)| a.name.as_str()).collect();
    assert_eq!(differ, ["rootfs", "customize", "squashfs", "efi", "iso", "pxe"], "the epoch reaches every stage that carries times");
}
