//! debian12-kiwi: a KIWI description (`kiwi/debian12`, packagemanager apt) built by liveboot
//! and booted as KIWI's live ISOs boot: dracut's dmsquash-live from a CD (BIOS, and UEFI with
//! Secure Boot), and over the network the way the stateless-PXE setups boot it, the initrd
//! fetching the whole ISO over HTTP (`root=live:http://…/image.iso`) and loop-mounting it from
//! RAM. Each boot checks what the description put into the root: config.sh ran with KIWI's
//! variables, the `root/` overlay is there, the `delete` package is gone. Slow: `cargo xtask e2e`.

use liveboot_e2e::*;

const RECIPE: &str = "debian12-kiwi";

/// What every boot runs after SSH answers; [`described`] checks their outputs.
const CHECKS: [&str; 4] = ["cat /proc/cmdline", "cat /etc/liveboot-kiwi", "cat /etc/issue.net", "command -v less || echo deleted"];

/// The description's marks on the running system; returns the kernel command line.
fn described(v: &serde_json::Value) -> String {
    let out = |i: usize| v["commands"][i]["output"].as_str().unwrap_or_default().trim().to_string();
    // config.sh wrote the variables of /.profile that kiwi-ng would have exported.
    assert_eq!(out(1), "liveboot-debian12-kiwi 12.0.0 live iso", "{v}");
    assert_eq!(out(2), "Debian 12 live from a KIWI description, built by liveboot", "{v}");
    assert_eq!(out(3), "deleted", "the <packages type=\"delete\"> package is still there: {v}");
    out(0)
}

fn exec_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut args: Vec<&str> = CHECKS.iter().flat_map(|c| ["--exec", c]).collect();
    args.extend(extra);
    args
}

/// Boots the ISO from a CD; checks that dracut found the medium by this ISO's UUID.
fn boots_from_cd(extra: &[&'static str]) {
    let (_, out) = ensure_built_apart(RECIPE);
    let iso = out.join(format!("{RECIPE}/{RECIPE}.iso"));
    let uuid = liveboot_iso::IsoReader::open(std::fs::File::open(&iso).unwrap()).unwrap().uuid;
    let v = try_boot(&iso, &exec_args(extra));
    // try_boot's own first command comes before ours.
    let v = serde_json::json!({ "commands": v["commands"].as_array().unwrap()[1..] });
    let cmdline = described(&v);
    assert!(cmdline.contains(&format!("root=live:UUID={uuid}")), "{cmdline}");
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w1_kiwi_description_boots_bios_from_cd() {
    boots_from_cd(&[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w2_kiwi_description_boots_with_secure_boot_from_cd() {
    boots_from_cd(&["--secure-boot"]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn w3_kiwi_description_boots_over_the_network_fetching_the_whole_iso() {
    let (_, out) = ensure_built_apart(RECIPE);
    // The bundle serves the ISO output's own file: the one a BMC's virtual media would mount.
    let bundle = out.join(format!("{RECIPE}/pxe"));
    let iso = std::fs::read(out.join(format!("{RECIPE}/{RECIPE}.iso"))).unwrap();
    assert!(std::fs::read(bundle.join("image.iso")).unwrap() == iso, "pxe/image.iso is not the ISO");
    assert!(!bundle.join("squashfs.img").exists(), "the bundle serves the root image too");
    let out = out.to_string_lossy().into_owned();
    let mac = "52:54:00:e2:00:a3";
    let mut args = vec!["try", RECIPE, "--out", &out, "--pxe", "ipxe", "--mac", mac, "--json"];
    args.extend(exec_args(&[]));
    let o = liveboot(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try --pxe ipxe failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], "try-debian12-kiwi-00a3", "{v}");
    let cmdline = described(&v);
    assert!(cmdline.contains("root=live:http://10.0.2.2:") && cmdline.contains("/image.iso"), "{cmdline}");
    println!("time to SSH ({} {}): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
}
