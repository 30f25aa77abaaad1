//! `liveboot kiwi show` on real and broken descriptions: what it prints, the JSON, profiles and
//! type chosen, every problem with its place and exit status 1, warnings on stderr.

mod common;
use common::*;

fn kiwi(rel: &str) -> String {
    root().join("crates/kiwi/tests").join(rel).display().to_string()
}

#[test]
fn show_prints_the_applied_profile_s_build() {
    let out = liveboot(&["kiwi", "show", &kiwi("real/kiwi-build-tests/x86/debian/test-image-live-disk"), "--profile", "Live"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "profiles: Live   declared: Live Virtual Disk",
        "type: iso (",
        "firmware=efi flags=overlay kernelcmdline=\"console=ttyS0\"",
        "bootloader grub2 console serial/serial timeout 10s",
        "package manager: apt",
        "apt-deb obs://Debian:13/standard (distribution trixie, components main contrib non-free)",
        "bootstrap (1): ca-certificates",
        " dracut-kiwi-live ",
        "users: root (groups root, password set), someone (groups users root, password set)",
        "scripts: config.sh",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    // The Disk profile's packages are not in; the password itself never is.
    assert!(!text.contains("dracut-kiwi-oem-repart") && !text.contains("$1$"), "{text}");
}

#[test]
fn show_json_with_type_chosen() {
    let out = liveboot(&["kiwi", "show", &kiwi("real/kiwi-build-tests/x86/debian/test-image-live-disk"), "--profile", "Disk", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["description"];
    assert_eq!(d["type"]["image"], "oem");
    assert_eq!(d["profiles"], serde_json::json!(["Disk"]));
    let image: Vec<&str> = d["packages"]["image"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(image.contains(&"dracut-kiwi-oem-repart") && !image.contains(&"dracut-kiwi-live"), "{image:?}");
    // <oemconfig> applies to the chosen type and liveboot does not act on it: said so.
    let warnings: Vec<&str> = v["warnings"].as_array().unwrap().iter().map(|w| w["message"].as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.starts_with("<oemconfig> is not used by liveboot")), "{warnings:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("$1$"));

    let out =
        liveboot(&["kiwi", "show", &kiwi("real/kiwi-build-tests/x86/tumbleweed/test-image-pxe"), "--profile", "Flat", "--type", "iso"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no <type image=\"iso\"> for the profiles applied (Flat)") && err.contains("these have: pxe"), "{err}");
}

#[test]
fn show_reports_every_problem_with_its_place() {
    let out = liveboot(&["kiwi", "show", &kiwi("broken/several-problems.kiwi")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    for want in [
        "several-problems.kiwi:10:9: unknown package manager 'yum'",
        "several-problems.kiwi:13:5: <repository priority=\"high\">",
        "several-problems.kiwi:17:9: <package> has no name",
        "3 error(s)",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
    assert!(out.stdout.is_empty());
    let out = liveboot(&["kiwi", "show", &kiwi("real/kiwi-build-tests/x86/debian/test-image-live-disk"), "--profile", "Liev", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["errors"][0]["message"],
        format!("profile 'Liev' is not declared in {}/appliance.kiwi", kiwi("real/kiwi-build-tests/x86/debian/test-image-live-disk"))
    );
    assert_eq!(v["errors"][0]["help"], "its profiles are: Live, Virtual, Disk");
    let empty = tempfile::tempdir().unwrap();
    let out = liveboot(&["kiwi", "show", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no KIWI description (config.xml, config.kiwi or *.kiwi)"));
}
