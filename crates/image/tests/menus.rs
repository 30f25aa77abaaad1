//! Ubuntu's real boot menus (`tests/menus/`, sources in `tests/menus/SOURCE.md`) patched by the
//! shipped recipes' rules, through the plan and the `remaster::edit` a build runs, then read back
//! line by line without our menu parser: only the kernel lines change, each gains the recipe's
//! arguments just before `---`, and every menu a firmware boots is patched.

use std::path::{Path, PathBuf};

use liveboot_recipe::plan::{plan, Action, Place, PlanOptions};

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize().unwrap()
}

fn menus() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/menus")).to_path_buf()
}

/// One rule of a recipe as the plan renders it: the file on the ISO, and the edit.
struct Rule {
    file: String,
    find: String,
    replace: String,
    min: u32,
    help: String,
}

fn rules(recipe: &str) -> Vec<Rule> {
    let r = liveboot_recipe::load_by_name(&root().join("recipes"), recipe).unwrap();
    let p = plan(&r, &PlanOptions::for_project(&root())).unwrap();
    let patch = p.stages.iter().find(|s| s.name == "patch").expect("an upstream-ISO recipe has a patch stage");
    patch
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Edit { file, find, replace, min_matches, help } => {
                let Some(Place::Own(path)) = file.places().next() else { panic!("{recipe}: edit outside the stage: {file}") };
                let file = path.strip_prefix("iso/").expect("menus are edited in the extracted iso/ folder").to_string();
                Some(Rule { file, find: find.clone(), replace: replace.clone(), min: *min_matches, help: help.clone() })
            }
            _ => None,
        })
        .collect()
}

/// The files of an ISO folder, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// Is this line one that boots a casper kernel (so must carry the arguments)? Read plainly:
/// GRUB's `linux /casper/…`, syslinux's `append` under a `kernel /casper/…`.
fn kernel_lines(file: &str, text: &str) -> Vec<bool> {
    let mut casper_label = false;
    text.lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            if file.starts_with("isolinux/") {
                match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
                    Some("label") => {
                        casper_label = false;
                        false
                    }
                    Some("kernel") => {
                        casper_label = words.get(1).is_some_and(|k| k.starts_with("/casper/"));
                        false
                    }
                    Some("append") => casper_label,
                    _ => false,
                }
            } else {
                words.first() == Some(&"linux") && words.get(1).is_some_and(|k| k.starts_with("/casper/"))
            }
        })
        .collect()
}

/// Patches the ISO folder `iso` with `recipe`'s rules and checks the result; returns the files
/// patched.
fn check(iso: &str, recipe: &str, args: &str) -> Vec<String> {
    let src = menus().join(iso);
    let dir = tempfile::tempdir().unwrap();
    let on_iso = files(&src);
    for f in &on_iso {
        let to = dir.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(f), to).unwrap();
    }
    let rules = rules(recipe);
    assert!(!rules.is_empty(), "{recipe}: no patch rules");
    let mut patched = Vec::new();
    for r in &rules {
        assert!(on_iso.contains(&r.file), "{recipe}: a rule names {}, which {iso} does not have", r.file);
        liveboot_image::remaster::edit(&dir.path().join(&r.file), &r.file, &r.find, &r.replace, r.min, &r.help)
            .unwrap_or_else(|e| panic!("{recipe} on {iso}: {e}"));
        patched.push(r.file.clone());
    }
    // Every menu a firmware boots is patched: GRUB's (BIOS on 22.04+, UEFI always) and
    // isolinux's (BIOS on 20.04 and before).
    for booted in ["boot/grub/grub.cfg", "isolinux/txt.cfg"] {
        if on_iso.iter().any(|f| f == booted) {
            assert!(
                patched.iter().any(|f| f == booted),
                "{recipe} leaves {booted} of {iso} unpatched: that boot path would miss the arguments"
            );
        }
    }
    for f in &on_iso {
        let before = std::fs::read_to_string(src.join(f)).unwrap();
        let after = std::fs::read_to_string(dir.path().join(f)).unwrap();
        if !patched.contains(f) {
            assert_eq!(before, after, "{iso}/{f} is not patched and must not change");
            continue;
        }
        let kernel = kernel_lines(f, &before);
        assert!(kernel.iter().any(|k| *k), "{iso}/{f} has no casper kernel line");
        let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        assert_eq!(b.len(), a.len(), "{iso}/{f}: the patch added or removed lines");
        for (i, ((b, a), is_kernel)) in b.iter().zip(&a).zip(&kernel).enumerate() {
            let n = i + 1;
            if !is_kernel {
                assert_eq!(b, a, "{iso}/{f}:{n} is not a kernel line and changed");
                continue;
            }
            // The arguments go right before the first `---` (what follows it is for the installed
            // system), the rest of the line as it was.
            let at = b.find(" ---").unwrap_or_else(|| panic!("{iso}/{f}:{n} has no ` ---`: {b}"));
            let want = format!("{} {args}{}", &b[..at], &b[at..]);
            assert_eq!(*a, want, "{iso}/{f}:{n}");
        }
    }
    patched
}

const ARGS: &str = "ds=nocloud console=tty0 console=ttyS0,115200n8";

#[test]
fn focal_server_menus_both_loaders() {
    let patched = check("ubuntu-20.04.1-live-server-amd64", "u20", ARGS);
    assert_eq!(patched, ["boot/grub/grub.cfg", "isolinux/txt.cfg"]);
}

#[test]
fn jammy_server_menu() {
    assert_eq!(check("ubuntu-22.04.1-live-server-amd64", "u22", ARGS), ["boot/grub/grub.cfg"]);
}

#[test]
fn jammy_desktop_menus() {
    // The desktop ISO's loopback.cfg (read only when another GRUB loop-mounts the ISO file) is
    // left as it is.
    assert_eq!(check("ubuntu-22.04.2-desktop-amd64", "u22", ARGS), ["boot/grub/grub.cfg"]);
}

#[test]
fn noble_server_menu_with_hwe_kernel() {
    assert_eq!(check("ubuntu-24.04.3-live-server-amd64", "u24", ARGS), ["boot/grub/grub.cfg"]);
}

#[test]
fn noble_desktop_menu_arguments_before_the_separator() {
    // 24.04 desktop puts `quiet splash` after `---`: the arguments must go before it.
    assert_eq!(check("ubuntu-24.04-desktop-amd64", "u24", ARGS), ["boot/grub/grub.cfg"]);
}

#[test]
fn every_menu_folder_is_checked() {
    let mut dirs: Vec<String> = std::fs::read_dir(menus())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let this = include_str!("menus.rs");
    for d in dirs {
        assert!(this.contains(&format!("check(\"{d}\"")), "tests/menus/{d} is not checked by a test");
    }
}

/// `liveboot remaster --kernel-args` finds the menus itself and adds the arguments to every kernel
/// line of each (loopback.cfg included), quoted for its loader: on the real menus, each kernel
/// line's words before `---` gain exactly the arguments, nothing else changes.
#[test]
fn remaster_adds_arguments_to_every_real_menu_in_its_loaders_quoting() {
    use liveboot_recipe::menu::MenuSyntax;
    let args = vec!["ds=nocloud;s=/cdrom/nocloud/".to_string(), "console=ttyS0,115200n8".to_string()];
    let mut seen = 0;
    for dir in std::fs::read_dir(menus()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let on_iso = files(&dir);
        for (f, syntax) in liveboot_image::remaster::menus(&on_iso) {
            let before = std::fs::read_to_string(dir.join(&f)).unwrap();
            let quoted = syntax.quote(&args).unwrap();
            let rendered: Vec<&str> = match syntax {
                MenuSyntax::Grub => vec!["\"ds=nocloud;s=/cdrom/nocloud/\"", "console=ttyS0,115200n8"],
                MenuSyntax::Syslinux => vec!["ds=nocloud;s=/cdrom/nocloud/", "console=ttyS0,115200n8"],
            };
            let (after, changed) = syntax.add_args(&before, &quoted);
            let kernel = kernel_lines(&f, &before);
            let where_ = format!("{}/{f}", dir.file_name().unwrap().to_string_lossy());
            assert_eq!(changed, kernel.iter().filter(|k| **k).count(), "{where_}: lines changed");
            for ((b, a), is_kernel) in before.lines().zip(after.lines()).zip(&kernel) {
                if !is_kernel {
                    assert_eq!(b, a, "{where_}");
                    continue;
                }
                let (bw, aw): (Vec<&str>, Vec<&str>) = (b.split_whitespace().collect(), a.split_whitespace().collect());
                let sep = bw.iter().position(|w| *w == "---").unwrap();
                let mut want = bw[..sep].to_vec();
                want.extend(&rendered);
                want.extend(&bw[sep..]);
                assert_eq!(aw, want, "{where_}: {a}");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 7, "menus found on the fixture ISOs");
}
