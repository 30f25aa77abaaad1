//! `liveboot pxe` on a bundle of small stand-in files: the folder it lays out, seeds by MAC for
//! the example inventory, the dnsmasq config checked by dnsmasq itself, files of MACs no longer
//! listed removed, and clear errors. (The real bundle is booted by `tests/e2e/tests/pxe.rs`.)

mod common;
use common::*;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A bundle as `liveboot build` leaves it in `<out>/r/pxe`, with stand-in file contents.
fn fake_bundle(out: &Path) {
    let dir = out.join("r/pxe");
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = serde_json::json!({
        "recipe": "r", "title": "Test live", "timeout": 3, "serial": {"unit": 0, "speed": 115200},
        "kernel": "vmlinuz", "initrd": "initrd.img", "root": "filesystem.squashfs",
        "kernel_args": ["boot=live", "components"], "console_args": ["console=tty0", "console=ttyS0,115200n8"],
        "netboot_arg": "fetch={url}/filesystem.squashfs",
        "loaders": {"pxelinux": "pxelinux.0", "ipxe_bios": "undionly.kpxe", "ipxe_efi": "ipxe.efi", "uefi": "bootx64.efi"}
    });
    std::fs::write(dir.join("bundle.json"), serde_json::to_string_pretty(&bundle).unwrap()).unwrap();
    for f in [
        "vmlinuz",
        "initrd.img",
        "filesystem.squashfs",
        "pxelinux.0",
        "ldlinux.c32",
        "undionly.kpxe",
        "ipxe.efi",
        "bootx64.efi",
        "grubx64.efi",
        "mmx64.efi",
    ] {
        std::fs::write(dir.join(f), format!("stand-in {f}\n")).unwrap();
    }
}

fn pxe(out: &Path, dir: &Path, extra: &[&str]) -> std::process::Output {
    let inv = root().join("examples/inventory.yaml");
    let mut args =
        vec!["pxe", "r", "--out", out.to_str().unwrap(), "--dir", dir.to_str().unwrap(), "--inventory", inv.to_str().unwrap(), "--json"];
    args.extend(extra);
    liveboot(&args)
}

#[test]
fn lays_out_a_tftp_and_http_root_with_a_seed_per_mac() {
    let t = tempfile::tempdir().unwrap();
    let (out, dir) = (t.path().join("out"), t.path().join("netboot"));
    fake_bundle(&out);
    let o = pxe(
        &out,
        &dir,
        &["--all", "--http-url", "http://10.0.3.1:8080/", "--dhcp", "proxy", "--dhcp-range", "10.0.3.0", "--interface", "eth1"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["http_url"], "http://10.0.3.1:8080");
    let nodes: Vec<&str> = r["nodes"].as_array().unwrap().iter().map(|n| n["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, ["w1", "w2", "w3"]);
    for (node, mac) in [("w1", "52:54:00:00:01:01"), ("w2", "52:54:00:00:01:02"), ("w3", "52:54:00:00:01:03")] {
        let meta = std::fs::read_to_string(dir.join(format!("seeds/{mac}/meta-data"))).unwrap();
        let host = if node == "w3" { "worker3" } else { node };
        assert!(meta.contains(host), "{node}: {meta}");
        let cfg = std::fs::read_to_string(dir.join(format!("pxelinux.cfg/01-{}", mac.replace(':', "-")))).unwrap();
        assert!(cfg.contains(&format!("ds=nocloud-net;s=http://10.0.3.1:8080/seeds/{mac}/")), "{cfg}");
    }
    // The bundle's files are the bundle's (hard links on one file system), not copies.
    for f in ["vmlinuz", "filesystem.squashfs", "bootx64.efi", "grubx64.efi", "ldlinux.c32"] {
        assert_eq!(std::fs::metadata(dir.join(f)).unwrap().ino(), std::fs::metadata(out.join("r/pxe").join(f)).unwrap().ino(), "{f}");
    }
    let ipxe = std::fs::read_to_string(dir.join("boot.ipxe")).unwrap();
    assert!(ipxe.starts_with("#!ipxe\n"), "{ipxe}");
    let (ok, said) = {
        let o = tool("dnsmasq").arg("--test").arg("-C").arg(dir.join("dnsmasq.conf")).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    assert!(ok, "dnsmasq --test: {said}");
    let conf = std::fs::read_to_string(dir.join("dnsmasq.conf")).unwrap();
    assert!(conf.contains(&format!("tftp-root={}", dir.canonicalize().unwrap().display())) && conf.contains("interface=eth1"), "{conf}");
    assert!(stdout(tool("grub-script-check").arg(dir.join("grub/grub.cfg"))).is_empty());

    // Again for one slice: w3's seed and config go (its MAC could boot another node next).
    let o = pxe(&out, &dir, &["--slice", "alice", "--http-url", "http://10.0.3.1:8080"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let removed: Vec<&str> = r["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(removed.contains(&"pxelinux.cfg/01-52-54-00-00-01-03") && removed.contains(&"dnsmasq.conf"), "{removed:?}");
    assert!(!dir.join("seeds/52:54:00:00:01:03").exists());
    assert!(dir.join("seeds/52:54:00:00:01:01/user-data").exists());
    assert_eq!(std::fs::read(dir.join("seeds/52:54:00:00:01:01/vendor-data")).unwrap(), b"", "no vendor data: an empty file, not a 404");
    // Nothing else in the folder was touched, nothing written outside it.
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 15, "{names:?}");
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 2);
}

#[test]
fn says_what_is_wrong_and_what_to_do() {
    let t = tempfile::tempdir().unwrap();
    let (out, dir) = (t.path().join("out"), t.path().join("netboot"));
    let o = pxe(&out, &dir, &["--all", "--http-url", "http://10.0.3.1:8080"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("bundle.json") && e.contains("liveboot build"), "{e}");
    fake_bundle(&out);
    for (url, want) in [("https://10.0.3.1/", "not an http:// URL"), ("http://10.0.3.1/a;b", "syntax")] {
        let o = pxe(&out, &dir, &["--all", "--http-url", url]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && e.contains(want) && e.contains("help:"), "{url}: {e}");
    }
    let o = pxe(&out, &dir, &["--all", "--http-url", "http://10.0.3.1", "--dhcp", "full", "--dhcp-range", "10.0.3.5 10.0.3.9"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("--dhcp-range") && e.contains("help:"), "{e}");
    // A bundle whose description names a file outside it is refused.
    let b = out.join("r/pxe/bundle.json");
    std::fs::write(&b, std::fs::read_to_string(&b).unwrap().replace("\"vmlinuz\"", "\"../../etc/passwd\"")).unwrap();
    let o = pxe(&out, &dir, &["--all", "--http-url", "http://10.0.3.1"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("not a file of the bundle"), "{e}");
}
