//! The whole loop on a virtual server, as an operator does it with a real one: build, publish,
//! boot through Redfish virtual media (the real sushy-tools emulator driving a libvirt/QEMU
//! machine), SSH in with the slice's key; boot again; survive a BMC that dies midway; boot
//! from disk.

use std::time::{Duration, Instant};

use liveboot_e2e::vlab::VirtualLab;
use liveboot_e2e::*;
use serde_json::Value;

fn json(o: &std::process::Output) -> Vec<Value> {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn ok(o: &std::process::Output, what: &str) -> Value {
    assert!(o.status.success(), "{what} failed: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let v = json(o);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["ok"], true, "{what}: {}", v[0]);
    v[0].clone()
}

fn sha256_of_url(url: &str) -> String {
    let o = std::process::Command::new("sh").args(["-c", &format!("curl -sf '{url}' | sha256sum")]).output().unwrap();
    assert!(o.status.success(), "GET {url}");
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap().to_string()
}

fn sha256_of_file(p: &std::path::Path) -> String {
    let o = std::process::Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn g_boot_through_redfish_ssh_in_survive_a_dead_bmc_and_boot_from_disk() {
    let (_, out) = ensure_built();
    let iso = out.join("debian12/debian12.iso");
    let accel = detect_accel(&out);
    let lab = VirtualLab::start(&work().join("vlab"), &accel);
    let mut lab = lab;
    println!("virtual server: libvirt domain type {}", if accel == "kvm" { "kvm" } else { "qemu (TCG)" });

    // 1. boot --wait: image and seed through virtual media, one-time boot from CD, power cycle.
    let start = Instant::now();
    let boot = ok(&lab.liveboot(&["boot", "vnode", "--image", iso.to_str().unwrap(), "--wait", "--timeout", "900", "--json"]), "boot");
    println!("liveboot boot vnode --wait: SSH answered {:.0} s after the boot command", start.elapsed().as_secs_f64());
    let image_url = boot["image"].as_str().unwrap().to_string();
    assert_eq!(boot["boot"]["image_slot"], "Cd");
    assert_eq!(boot["boot"]["seed_slot"], "Floppy (vfat)");
    // The emulator fetched the image and the seed from liveboot serve.
    let log = lab.serve_log();
    let name = image_url.rsplit('/').next().unwrap();
    assert!(log.lines().any(|l| l.starts_with(&format!("GET /{name} 200"))), "{log}");
    assert!(log.lines().any(|l| l.starts_with("GET /cidata-vnode-") && l.contains(".img 200")), "{log}");
    // SSH as root with the slice's key; the inventory's host name; cloud-init done.
    let out1 = lab.ssh("hostname; cloud-init status --wait; cat /proc/cmdline").expect("root login with the slice's key");
    assert!(out1.starts_with("vnode-live\n"), "{out1}");
    assert!(out1.contains("status: done"), "{out1}");
    let live_key = lab.host_key().expect("the live system's host key");

    // status while it runs: power, media, SSH.
    let st = ok(&lab.liveboot(&["status", "vnode", "--json"]), "status");
    assert_eq!(st["power"], "On");
    let media = st["media"].as_array().unwrap();
    assert!(media.iter().any(|m| m["id"] == "Cd" && m["image"] == image_url.as_str()), "{st}");
    assert!(media.iter().any(|m| m["id"] == "Floppy" && m["image"].as_str().is_some_and(|i| i.contains("/cidata-vnode-"))), "{st}");
    assert!(st["ssh"].as_str().unwrap().starts_with("answers (SSH-2.0-OpenSSH"), "{st}");

    // 2. A second image published while the first is mounted: the first URL keeps its bytes.
    let before = sha256_of_url(&image_url);
    assert_eq!(before, sha256_of_file(&iso));
    let other = work().join("vlab/other.iso");
    std::fs::copy(&iso, &other).unwrap();
    std::fs::OpenOptions::new().append(true).open(&other).unwrap().set_len(std::fs::metadata(&iso).unwrap().len() + 2048).unwrap();
    let p = liveboot(&["publish", other.to_str().unwrap(), "--dir", lab.dir.join("pub").to_str().unwrap(), "--json"]);
    let published: Vec<Value> = serde_json::from_slice(&p.stdout).unwrap();
    assert_ne!(published[0]["name"].as_str().unwrap(), name);
    assert_eq!(sha256_of_url(&image_url), before, "the first URL's bytes changed");

    // 3. Boot again right away: media already inserted, node already on.
    ok(&lab.liveboot(&["boot", "vnode", "--image", iso.to_str().unwrap(), "--json"]), "second boot in a row");

    // 4. The BMC dies after the media went in, before power: a clear failure, then a rerun works.
    lab.kill_before_power.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = lab.liveboot(&["boot", "vnode", "--image", iso.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1), "boot with a dead BMC must fail");
    assert!(!lab.sushy_running(), "the emulator was killed before power");
    let v = json(&o);
    let err = v[0]["error"].as_str().unwrap();
    assert_eq!(v[0]["step"], "power cycle", "{err}");
    assert!(err.starts_with("vnode: power cycle: ") && !err.contains('\n'), "{err}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("error: vnode: power cycle:") && stderr.contains("1 of 1 nodes failed"), "{stderr}");
    assert!(err.contains("the BMC dropped the connection without answering") || err.contains("cannot connect to the BMC"), "{err}");
    lab.start_sushy();
    let start = Instant::now();
    ok(
        &lab.liveboot(&["boot", "vnode", "--image", iso.to_str().unwrap(), "--wait", "--timeout", "900", "--json"]),
        "boot after the BMC came back",
    );
    println!("boot after restarting the emulator: SSH answered after {:.0} s", start.elapsed().as_secs_f64());
    let out2 = lab.ssh("hostname; cloud-init status --wait").expect("SSH after the rerun");
    assert!(out2.starts_with("vnode-live\n") && out2.contains("status: done"), "{out2}");
    // A fresh system answered, not the one of the first boot: the live image makes new host keys at each boot.
    let new_key = lab.host_key().expect("host key after the rerun");
    assert_ne!(new_key, live_key, "SSH still answers with the first boot's host key");
    let live_key = new_key;

    // 5. diskboot: media ejected, the node boots its empty disk: the live system is gone, power On.
    let d = ok(&lab.liveboot(&["diskboot", "vnode", "--json"]), "diskboot");
    assert!(d["result"].as_str().unwrap().contains("Hdd"), "{d}");
    let gone = Instant::now();
    while lab.host_key().as_deref() == Some(live_key.as_str()) {
        assert!(gone.elapsed() < Duration::from_secs(120), "the live system still answers after diskboot");
        std::thread::sleep(Duration::from_secs(3));
    }
    std::thread::sleep(Duration::from_secs(10));
    assert_ne!(lab.host_key().as_deref(), Some(live_key.as_str()), "the live host key answers again");
    let st = ok(&lab.liveboot(&["status", "vnode", "--json"]), "status after diskboot");
    assert_eq!(st["power"], "On", "{st}");
    assert!(st["media"].as_array().unwrap().iter().all(|m| m["image"].is_null()), "{st}");
    assert!(st["ssh"].as_str().unwrap().starts_with("no"), "{st}");
    assert!(lab.virsh(&["domstate", "vnode"]).contains("running"));
}

/// kvm when a probe boot of the image's own kernel works here, else tcg (as `liveboot try`).
fn detect_accel(out: &std::path::Path) -> String {
    let runner = liveboot_runner::Runner::new();
    let iso = out.join("debian12/debian12.iso");
    let w = work().join("accel-probe");
    std::fs::create_dir_all(&w).unwrap();
    liveboot_qemu::detect_accel_cached(&runner, &w, &w.join("accel"), |k| liveboot_qemu::kernel_from_iso(&iso, &["live/vmlinuz"], k))
        .unwrap()
        .as_str()
        .to_string()
}
