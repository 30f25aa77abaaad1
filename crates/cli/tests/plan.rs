//! `liveboot plan` and `liveboot check` over the shipped recipes.

mod common;
use common::*;

const RECIPES: [&str; 9] = ["debian12", "f37", "f38", "rocky9", "u18", "u20", "u22", "u24", "leap15"];

#[test]
fn every_shipped_recipe_plans_for_people_and_for_scripts() {
    for r in RECIPES {
        let human = liveboot(&["plan", r]);
        assert!(human.status.success(), "{r}: {}", String::from_utf8_lossy(&human.stderr));
        let text = String::from_utf8(human.stdout).unwrap();
        assert!(text.starts_with(&format!("recipe  {r} — ")), "{text}");
        assert!(text.contains("artifacts: "), "{text}");

        let json = liveboot(&["plan", r, "--json"]);
        assert!(json.status.success());
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["recipe"], r);
        let stages = v["stages"].as_array().unwrap();
        assert!(stages.len() >= 3, "{r}: {stages:?}");
        for s in stages {
            let key = s["key"].as_str().unwrap();
            assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(!s["actions"].as_array().unwrap().is_empty());
            // A stage only comes after stages listed before it.
            for a in s["after"].as_array().unwrap() {
                let pos = stages.iter().position(|t| t["name"] == *a).expect("after names a stage");
                assert!(pos < stages.iter().position(|t| t["name"] == s["name"]).unwrap());
            }
        }
        assert!(v["artifacts"].as_array().unwrap().iter().any(|a| a["name"] == format!("{r}.iso").as_str()));
    }
}

#[test]
fn plans_show_the_commands_each_source_runs() {
    let first_program = |r: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&liveboot(&["plan", r, "--json"]).stdout).unwrap();
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["actions"].as_array().unwrap().clone())
            .filter_map(|a| a["argv"][0].as_str().map(String::from))
            .collect()
    };
    assert!(first_program("debian12").contains(&"mmdebstrap".to_string()));
    assert!(first_program("debian12").contains(&"xorriso".to_string()));
    // Kickstarts build natively: dnf --installroot, through `env HOME=…` for rpm's macros.
    assert!(first_program("f37").contains(&"env".to_string()));
    // KIWI descriptions with packagemanager zypper build natively too: the host's zypper.
    let leap15 = String::from_utf8(liveboot(&["plan", "leap15", "--json"]).stdout).unwrap();
    assert!(leap15.contains("\"zypper\"") && !leap15.contains("kiwi-ng"), "{leap15}");
    let u22: serde_json::Value = serde_json::from_slice(&liveboot(&["plan", "u22", "--json"]).stdout).unwrap();
    let text = u22.to_string();
    assert!(text.contains("\"action\":\"fetch\"") && text.contains("ds=nocloud console=tty0 console=ttyS0,115200n8 ---"), "{text}");
}

#[test]
fn source_date_epoch_is_carried_into_the_plan() {
    let out = liveboot(&["plan", "debian12", "--json", "--source-date-epoch", "1700000000"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["source_date_epoch"], 1_700_000_000);
}

#[test]
fn check_passes_on_everything_shipped() {
    let out = liveboot(&["check", "--inventory", &root().join("examples/inventory.yaml").to_string_lossy(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Eleven recipes and the inventory.
    assert_eq!(v.as_array().unwrap().len(), 12);
    assert!(v.as_array().unwrap().iter().all(|r| r["ok"] == true));
}

#[test]
fn an_unknown_recipe_is_a_clear_error_with_a_suggestion() {
    let out = liveboot(&["plan", "debian21"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: no recipe 'debian21'"), "{err}");
    assert!(err.contains("help: did you mean 'debian12'?"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .arg("-C")
        .arg(root())
        .args(["plan", "debian12"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code().is_some_and(|c| c == 0), "{:?}", out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// The dnf command line of a kickstart recipe's plan, as one string.
fn dnf_of(args: &[&str]) -> (String, serde_json::Value) {
    let out = liveboot(&[&["plan", "--json"][..], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rootfs = v["stages"].as_array().unwrap().iter().find(|s| s["name"] == "rootfs").unwrap().clone();
    let dnf = rootfs["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["argv"].as_array())
        .map(|argv| argv.iter().map(|x| x.as_str().unwrap().to_string()).collect::<Vec<_>>().join(" "))
        .find(|line| line.contains(" dnf "))
        .unwrap();
    (dnf, v)
}

#[test]
fn a_kickstart_plan_installs_its_packages_from_its_repositories() {
    let (dnf, v) = dnf_of(&["rocky9"]);
    // The kickstart's %packages, the recipe's packages, what a live root and Secure Boot need.
    for spec in [" install @core ", " kernel ", " cloud-init ", " dracut-live ", " shim-x64 ", " grub2-efi-x64-cdboot"] {
        assert!(dnf.contains(spec), "{spec}: {dnf}");
    }
    assert!(dnf.contains("--exclude=plymouth") && dnf.contains("--releasever=9") && dnf.contains("--installroot={self}/rootfs"), "{dnf}");
    let text = v.to_string();
    assert!(text.contains("baseurl=https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"), "{text}");
    assert!(text.contains("[AppStream]"), "{text}");
    assert!(text.contains("%_dbpath /var/lib/rpm"), "RHEL 9 keeps its rpm database in /var/lib/rpm: {text}");
    let warnings: Vec<&str> = v["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.contains(&"kickstarts/rocky9.ks:15: 'part' is not applied: a live image has no disk layout; its boot menus come from the recipe's boot settings"), "{warnings:?}");
}

#[test]
fn mirrors_replace_the_kickstarts_sources() {
    // A mirror replaces the url source and leaves the repo lines out...
    let (_, v) = dnf_of(&["rocky9", "--mirror", "http://mirror.lab/rocky/9/BaseOS/x86_64/os/"]);
    let text = v.to_string();
    assert!(text.contains("[mirror]") && text.contains("baseurl=http://mirror.lab/rocky/9/BaseOS/x86_64/os/"), "{text}");
    assert!(!text.contains("dl.rockylinux.org"), "{text}");
    // ...unless one is named: then it stays, from its own mirror.
    let (_, v) = dnf_of(&["rocky9", "--mirror", "http://mirror.lab/base/", "--mirror", "AppStream=http://mirror.lab/appstream/"]);
    let text = v.to_string();
    assert!(text.contains("[AppStream]") && text.contains("baseurl=http://mirror.lab/appstream/"), "{text}");
    // A name the kickstart does not have, and a URL that is none, are refused.
    let out = liveboot(&["plan", "rocky9", "--mirror", "Appstream=http://mirror.lab/appstream/"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the kickstart has no repository 'Appstream'") && err.contains("AppStream"), "{err}");
    let out = liveboot(&["plan", "rocky9", "--mirror", "mirror.lab/x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("'mirror.lab/x' is not a URL"));
    // Debian recipes take one mirror.
    let out = liveboot(&["plan", "debian12", "--json", "--mirror", "http://deb.lab/debian"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("http://deb.lab/debian"));
}
