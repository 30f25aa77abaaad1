//! liveboot's KIWI reading checked against kiwi-ng itself (kiwi 11.1.6, pinned in the test venv)
//! on real descriptions written by others: every build-test description of KIWI's own repository
//! (`tests/real/`, sources in `tests/real/SOURCE.md`), read with no profile and with each profile
//! it declares. Where kiwi-ng refuses a choice (no build type for those profiles), liveboot must
//! refuse it too; otherwise every field liveboot uses must equal kiwi-ng's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/venv/bin/python");
    assert!(p.exists(), "{} is missing: run `cargo xtask deps` (the README's test command does)", p.display());
    p
}

/// kiwi-ng's reading of each `(file, profiles, type)` (two processes: kiwi-ng validates each
/// description against its schema, about half a second each).
fn kiwi_ng(cases: &[(PathBuf, Vec<String>, Option<String>)]) -> Vec<Value> {
    let half = cases.len().div_ceil(2);
    let children: Vec<_> = cases
        .chunks(half.max(1))
        .map(|chunk| {
            let mut child = Command::new(python())
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kiwi_read.py"))
                .current_dir(std::env::temp_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run kiwi_read.py");
            let mut input = String::new();
            for (f, p, t) in chunk {
                input.push_str(&json!([f, p, t]).to_string());
                input.push('\n');
            }
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child
        })
        .collect();
    let mut lines = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kiwi_read.py failed: {}", String::from_utf8_lossy(&out.stderr));
        lines.extend(String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    assert_eq!(lines.len(), cases.len());
    lines
}

fn descriptions() -> Vec<PathBuf> {
    let mut out = Vec::new();
    // KIWI's own descriptions, and the project's (the recipes' descriptions must read as
    // kiwi-ng reads them too).
    let mut todo = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiwi")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "kiwi" || x == "xml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// liveboot's reading in kiwi_read.py's shape.
fn ours(d: &liveboot_kiwi::Description) -> Value {
    let t = &d.build_type;
    let p = &d.packages;
    json!({
        "name": d.name,
        "displayname": d.displayname,
        "author": d.author,
        "contact": d.contact,
        "specification": d.specification,
        "profiles": d.profiles,
        "type": {
            "image": t.image,
            "primary": t.primary,
            "firmware": t.firmware,
            "kernelcmdline": t.kernelcmdline,
            "volid": t.volid,
            "flags": t.flags,
            "filesystem": t.filesystem,
            "hybridpersistent": t.hybridpersistent,
            "hybridpersistent_filesystem": t.hybridpersistent_filesystem,
            "initrd_system": t.initrd_system,
            "bootloader": t.bootloader,
            "bootloader_console": t.bootloader_console,
            "bootloader_timeout": t.bootloader_timeout,
        },
        "version": d.version,
        "packagemanager": d.packagemanager,
        "locale": d.locale,
        "keytable": d.keytable,
        "timezone": d.timezone,
        "rpm_check_signatures": d.rpm_check_signatures,
        "rpm_excludedocs": d.rpm_excludedocs,
        "repositories": d.repositories.iter().map(|r| json!({
            "type": r.kind, "alias": r.alias, "priority": r.priority, "imageinclude": r.imageinclude,
            "path": r.path, "distribution": r.distribution, "components": r.components,
        })).collect::<Vec<_>>(),
        "packages": {
            "bootstrap": p.bootstrap, "image": p.image, "delete": p.delete, "uninstall": p.uninstall,
            "bootstrap_collections": p.bootstrap_collections, "image_collections": p.image_collections,
            "bootstrap_archives": p.bootstrap_archives, "image_archives": p.image_archives, "ignore": p.ignore,
        },
        "users": d.users.iter().map(|u| json!({
            "name": u.name, "groups": u.groups, "home": u.home, "shell": u.shell, "password": u.password,
        })).collect::<Vec<_>>(),
    })
}

fn read(file: &Path, profiles: &[String]) -> Result<liveboot_kiwi::Read, Vec<liveboot_kiwi::Diagnostic>> {
    liveboot_kiwi::read(file, liveboot_kiwi::Options { profiles, build_type: None, arch: "x86_64" })
}

#[test]
fn every_real_description_reads_as_kiwi_ng_reads_it() {
    let files = descriptions();
    assert!(files.len() >= 77, "{} descriptions", files.len());
    // Each description with its default profiles, then with each profile it declares.
    let mut cases = Vec::new();
    for f in &files {
        cases.push((f.clone(), Vec::new(), None));
        let declared = match read(f, &[]) {
            Ok(r) => r.description.declared_profiles,
            Err(_) => {
                // No build type without a profile: the profiles are still read from the file.
                let text = std::fs::read_to_string(f).unwrap();
                let doc = roxmltree_names(&text);
                doc.into_iter()
                    .map(|name| liveboot_kiwi::Profile { name, description: String::new(), import: false, requires: vec![] })
                    .collect()
            }
        };
        for p in declared {
            cases.push((f.clone(), vec![p.name], None));
        }
    }
    let reference = kiwi_ng(&cases);
    let (mut same, mut refused) = (0, 0);
    let mut differ = Vec::new();
    for ((f, profiles, _), want) in cases.iter().zip(&reference) {
        let name = format!("{} {:?}", f.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(f).display(), profiles);
        match (read(f, profiles), want["error"].as_str()) {
            (Ok(r), None) => {
                let got = ours(&r.description);
                if &got == want {
                    same += 1;
                } else {
                    let keys: Vec<String> = want
                        .as_object()
                        .unwrap()
                        .keys()
                        .filter(|k| got[k.as_str()] != want[k.as_str()])
                        .map(|k| format!("{k}: ours {} kiwi-ng {}", got[k.as_str()], want[k.as_str()]))
                        .collect();
                    differ.push(format!("{name}: {}", keys.join("; ")));
                }
            }
            (Err(_), Some(_)) => refused += 1,
            (Ok(_), Some(e)) => differ.push(format!("{name}: kiwi-ng refuses it ({e}), liveboot reads it")),
            (Err(e), None) => differ.push(format!(
                "{name}: liveboot refuses what kiwi-ng reads: {}",
                e.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ")
            )),
        }
    }
    assert!(differ.is_empty(), "{} of {} readings differ:\n{}", differ.len(), cases.len(), differ.join("\n"));
    eprintln!("{same} readings equal to kiwi-ng's, {refused} refused by both, of {} descriptions", files.len());
    assert!(same >= 100, "only {same} readings compared");
}

/// The `<profile name>`s of a description, read plainly (for descriptions that cannot be read
/// without choosing one).
fn roxmltree_names(text: &str) -> Vec<String> {
    text.match_indices("<profile ")
        .filter_map(|(i, _)| {
            let rest = &text[i..];
            let end = rest.find('>')?;
            let tag = &rest[..end];
            let at = tag.find("name=\"")? + 6;
            Some(tag[at..].split('"').next()?.to_string())
        })
        .collect()
}

#[test]
fn the_element_list_is_kiwi_ng_s_schema() {
    let out = Command::new(python())
        .args(["-c", "import kiwi, os; from lxml import etree\nt = etree.parse(os.path.join(os.path.dirname(kiwi.__file__), 'schema/kiwi.rng'))\nns = {'rng': 'http://relaxng.org/ns/structure/1.0'}\nprint('\\n'.join(sorted({e.get('name') for e in t.iterfind('.//rng:element', ns) if e.get('name')})))"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    let mut ours: Vec<String> = liveboot_kiwi::schema::ELEMENTS.iter().map(|s| s.to_string()).collect();
    ours.sort();
    assert_eq!(ours, theirs, "crates/kiwi/src/schema.rs ELEMENTS is not kiwi-ng's schema's element list");
}
