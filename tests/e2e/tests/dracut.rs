//! debian12-dracut: the dracut LiveOS layout (LiveOS/squashfs.img, images/pxeboot) booted by
//! dracut's dmsquash-live, the medium named by its volume UUID. Slow: `cargo xtask e2e`.

use liveboot_e2e::*;

/// Boots debian12-dracut and checks that dracut found the medium by this ISO's UUID.
fn boots(extra: &[&str]) {
    let (_, out) = ensure_built_apart("debian12-dracut");
    let iso = out.join("debian12-dracut/debian12-dracut.iso");
    let uuid = liveboot_iso::IsoReader::open(std::fs::File::open(&iso).unwrap()).unwrap().uuid;
    let mut args = vec!["--exec", "cat /proc/cmdline", "--exec", "findmnt -n -o FSTYPE /"];
    args.extend(extra);
    let v = try_boot(&iso, &args);
    let cmdline = v["commands"][1]["output"].as_str().unwrap();
    assert!(cmdline.contains(&format!("root=live:UUID={uuid}")), "{cmdline}");
    assert!(!cmdline.contains("boot=live"), "live-boot's argument in a dracut image: {cmdline}");
    assert_eq!(v["commands"][2]["output"].as_str().unwrap().trim(), "overlay", "{v}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f1_dracut_boots_bios_from_cd() {
    boots(&[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f2_dracut_boots_with_secure_boot_from_cd() {
    boots(&["--secure-boot"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f3_dracut_boots_as_a_usb_disk() {
    boots(&["--usb"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f4_dracut_boots_over_the_network_through_ipxe() {
    // dracut's livenet fetches LiveOS/squashfs.img over HTTP (root=live:http://…).
    let (_, out) = ensure_built_apart("debian12-dracut");
    let out = out.to_string_lossy().into_owned();
    let mac = "52:54:00:e2:00:f4";
    let o = liveboot(&["try", "debian12-dracut", "--out", &out, "--pxe", "ipxe", "--mac", mac, "--json", "--exec", "cat /proc/cmdline"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try --pxe ipxe failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], "try-debian12-dracut-00f4", "{v}");
    let cmdline = v["commands"][0]["output"].as_str().unwrap();
    assert!(cmdline.contains("root=live:http://10.0.2.2:") && cmdline.contains("/squashfs.img"), "{cmdline}");
    println!("time to SSH ({} {}): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn f5_dracut_copy_to_ram_entry_runs_without_its_medium_under_secure_boot() {
    // GRUB's second entry (rd.live.ram=1) chosen on the serial console; the CD ejected once SSH
    // answers, then the whole root read.
    let (_, out) = ensure_built_apart("debian12-dracut");
    let iso = out.join("debian12-dracut/debian12-dracut.iso");
    let v = try_boot(&iso, &["--secure-boot", "--to-ram", "--exec", "cat /proc/cmdline"]);
    assert_eq!(v["to_ram"], true, "{v}");
    let cmdline = v["commands"][1]["output"].as_str().unwrap();
    assert!(cmdline.contains("rd.live.ram=1"), "{cmdline}");
}
