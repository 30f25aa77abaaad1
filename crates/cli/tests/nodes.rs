//! The node commands end to end against vendor-shaped BMCs on loopback, with a known password
//! that must appear in no output, log line or error of any command.

mod common;
use common::*;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use liveboot_bmc_mock::{Faults, IpmiSim, MockBmc, Shape};
use serde_json::Value;

const PASSWORD: &str = "Kn0wn-Pa55word-7431";

/// A listener that greets like sshd (for `wait` and `status`).
fn fake_sshd() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        }
    });
    port
}

struct Lab {
    dir: tempfile::TempDir,
    dell: MockBmc,
    plain: MockBmc,
    ipmi: IpmiSim,
    _server: liveboot_publish::Server,
}

fn lab(password_of_dell: &str) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let pubdir = dir.path().join("pub");
    std::fs::create_dir(&pubdir).unwrap();
    let server = liveboot_publish::serve(&pubdir, "127.0.0.1:0", Default::default()).unwrap();
    let dell = MockBmc::start(Shape::DellNew, "root", password_of_dell, Faults::default());
    let plain = MockBmc::start(Shape::Generic, "admin", PASSWORD, Faults::default());
    let ipmi = IpmiSim::start(PASSWORD);
    let ssh = fake_sshd();
    std::fs::write(dir.path().join("live.iso"), vec![7u8; 100_000]).unwrap();
    std::fs::write(dir.path().join("bmc.pass"), format!("{PASSWORD}\n")).unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGldy3/auhiwTtw13k3y0JgINAiDdmUfsTI8goR+3LQw alice@lab";
    let inv = format!(
        "publish:\n  base_url: http://{addr}\n  dir: pub\nnodes:\n  d1:\n    ssh: 127.0.0.1:{ssh}\n    bios_attributes: [ProcVirtualization]\n    bmc:\n      address: {dell}\n      protocol: redfish\n      username: root\n      password_env: LB_TEST_BMC_PASSWORD\n  g1:\n    ssh: 127.0.0.1:{ssh}\n    bmc:\n      address: {plain}\n      protocol: redfish\n      username: admin\n      password_file: bmc.pass\n  i1:\n    ssh: 127.0.0.1:{ssh}\n    bmc:\n      address: 127.0.0.1:{ipmi_port}\n      protocol: ipmi\n      username: admin\n      cipher_suite: 3\n      password_env: LB_TEST_BMC_PASSWORD\nslices:\n  lab:\n    ssh_keys: [\"{key}\"]\n    nodes: [d1, g1, i1]\n",
        ipmi_port = ipmi.port(),
        addr = server.addr(),
        dell = dell.url(),
        plain = plain.url(),
    );
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    Lab { dir, dell, plain, ipmi, _server: server }
}

fn run(lab: &Lab, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .arg("-C")
        .arg(root())
        .args(args)
        .arg("--inventory")
        .arg(lab.dir.path().join("inventory.yaml"))
        .env("LB_TEST_BMC_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

fn json_of(o: &Output) -> Vec<Value> {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn no_password(o: &Output, what: &str) {
    for (name, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        assert!(!String::from_utf8_lossy(text).contains(PASSWORD), "{what}: the password appears on {name}");
    }
}

#[test]
fn every_node_command_works_and_none_shows_the_password() {
    let lab = lab(PASSWORD);
    let iso = lab.dir.path().join("live.iso");
    let iso = iso.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["on", "lab", "--json"],
        vec!["status", "lab", "--json"],
        vec!["status", "lab"],
        vec!["boot", "lab", "--image", iso, "--wait", "--timeout", "10", "--json"],
        vec!["boot", "lab", "--image", iso],
        vec!["reboot", "d1", "g1", "i1", "--json"],
        vec!["wait", "lab", "--timeout", "5", "--json"],
        vec!["bios", "get", "d1", "--match", "virt", "--json"],
        vec!["bios", "set", "d1", "ProcVirtualization=Disabled", "--json"],
        vec!["bios", "reset", "d1", "--json"],
        vec!["jobs", "list", "d1", "--json"],
        vec!["jobs", "clear", "d1", "--json"],
        vec!["diskboot", "lab", "--json"],
        vec!["off", "lab", "--grace", "1", "--json"],
        vec!["status", "lab", "--json"],
    ];
    let mut outputs = Vec::new();
    for c in &commands {
        let o = run(&lab, c);
        no_password(&o, &c.join(" "));
        assert!(o.status.success(), "{}: {}\n{}", c.join(" "), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        outputs.push(o);
    }
    // status: power, media, BIOS attribute, SSH banner, for both nodes.
    let st = json_of(&outputs[1]);
    assert_eq!(st.len(), 3);
    assert!(st.iter().all(|n| n["ok"] == true && n["power"] == "On"), "{st:?}");
    let d1 = st.iter().find(|n| n["node"] == "d1").unwrap();
    assert_eq!(d1["bios"]["ProcVirtualization"], "Enabled");
    assert!(d1["ssh"].as_str().unwrap().starts_with("answers (SSH-2.0-OpenSSH"), "{d1}");
    assert_eq!(d1["media"].as_array().unwrap().len(), 2);
    // boot: both nodes have the published image and their own seed, and SSH answered.
    let boot = json_of(&outputs[3]);
    let i1 = boot.iter().find(|n| n["node"] == "i1").unwrap();
    assert_eq!(i1["boot"]["boot_once"], "bootdev pxe (EFI)", "{i1}");
    assert!(std::fs::read_to_string(lab.ipmi.dir().join("hook.log")).unwrap().contains("boot pxe"));
    for n in &boot {
        assert_eq!(n["ok"], true, "{n}");
        assert!(n["ssh"].as_str().unwrap().starts_with("SSH-2.0-"));
        let url = n["image"].as_str().unwrap();
        assert!(url.contains("/live-") && url.ends_with(".iso"), "{url}");
    }
    let cd = boot[0]["image"].as_str().unwrap().to_string();
    let name = cd.rsplit('/').next().unwrap();
    assert_eq!(std::fs::read(lab.dir.path().join("pub").join(name)).unwrap().len(), 100_000);
    let seed = lab.plain.get(Shape::Generic.paths().seed)["Image"].clone();
    assert_eq!(seed, "", "diskboot ejected it: {seed}");
    // The Dell's seed slot got d1's seed as ISO; the generic node's floppy got g1's as FAT (seen in the records).
    let inserted: Vec<String> = lab
        .plain
        .record()
        .requests
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("InsertMedia"))
        .map(|(_, _, b)| b["Image"].as_str().unwrap().to_string())
        .collect();
    assert!(inserted.iter().any(|u| u.contains("/cidata-g1-") && u.ends_with(".img")), "{inserted:?}");
    let jobs = json_of(&outputs[10]);
    assert_eq!(jobs[0]["jobs"].as_array().unwrap().len(), 1, "the BIOS change made a job: {jobs:?}");
    assert_eq!(std::fs::read_to_string(lab.ipmi.dir().join("boot")).unwrap().trim(), "default", "diskboot on IPMI: bootdev disk");
    let off = json_of(&outputs[14]);
    assert!(off.iter().all(|n| n["power"] == "Off"));
    // Every session every command opened was closed.
    assert_eq!(lab.dell.open_sessions(), 0);
    assert_eq!(lab.plain.open_sessions(), 0);
    assert_eq!(lab.dell.record().sessions_created, commands.iter().filter(|c| c.contains(&"lab") || c.contains(&"d1")).count() as u32 - 1);
}

#[test]
fn failures_name_node_and_step_and_never_the_password() {
    // d1's BMC knows another password: the login fails; g1 still works.
    let lab = lab("different");
    let o = run(&lab, &["status", "lab", "--json"]);
    no_password(&o, "status with a wrong password");
    assert_eq!(o.status.code(), Some(1));
    let v = json_of(&o);
    let d1 = v.iter().find(|n| n["node"] == "d1").unwrap();
    assert_eq!(d1["ok"], false);
    assert_eq!(d1["step"], "log in");
    assert!(d1["error"].as_str().unwrap().starts_with("d1: log in: login failed: "), "{d1}");
    assert!(v.iter().any(|n| n["node"] == "g1" && n["ok"] == true));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("error: d1: log in:") && err.contains("1 of 3 nodes failed"), "{err}");
    // These mock BMCs speak plain HTTP: said once per node, every time.
    assert!(err.contains("warning: d1: the BMC address is http://: its password and session travel unencrypted"), "{err}");
    // A missing password variable names the variable, not a value.
    let o = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .args(["status", "d1", "--inventory"])
        .arg(lab.dir.path().join("inventory.yaml"))
        .env_remove("LB_TEST_BMC_PASSWORD")
        .output()
        .unwrap();
    // Said once: in the node's line of the report (standard output), not again on standard error.
    let said = "environment variable LB_TEST_BMC_PASSWORD (its BMC password) is not set";
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("d1") && out.contains("FAILED") && out.contains(said), "{out}");
    assert_eq!(out.matches(said).count() + err.matches(said).count(), 1, "stdout: {out}\nstderr: {err}");
    // Unknown names get a suggestion.
    let o = run(&lab, &["status", "d2"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no node or slice named 'd2' (did you mean 'd1'?)"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = Path::new("");
}

#[test]
fn signals_during_boot_on_three_nodes_leave_no_session_open() {
    // Three slow BMCs (each answer 150 ms late) so that a boot takes seconds; SIGINT or
    // SIGTERM at a random moment; every session created must have been deleted, and the exit
    // code must say which signal it was (or 0 when the boot was already done).
    let seed = std::env::var("LIVEBOOT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    println!("LIVEBOOT_TEST_SEED={seed}");
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut interrupted = 0;
    for round in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let pubdir = dir.path().join("pub");
        std::fs::create_dir(&pubdir).unwrap();
        let server = liveboot_publish::serve(&pubdir, "127.0.0.1:0", Default::default()).unwrap();
        let slow = Faults { slow: Some(std::time::Duration::from_millis(150)), ..Faults::default() };
        let bmcs: Vec<MockBmc> = (0..3).map(|_| MockBmc::start(Shape::Generic, "admin", PASSWORD, slow.clone())).collect();
        std::fs::write(dir.path().join("live.iso"), vec![7u8; 100_000]).unwrap();
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGldy3/auhiwTtw13k3y0JgINAiDdmUfsTI8goR+3LQw alice@lab";
        let mut inv = format!("publish:\n  base_url: http://{}\n  dir: pub\nnodes:\n", server.addr());
        for (i, b) in bmcs.iter().enumerate() {
            inv.push_str(&format!(
                "  n{i}:\n    bmc:\n      address: {}\n      protocol: redfish\n      username: admin\n      password_env: LB_TEST_BMC_PASSWORD\n",
                b.url()
            ));
        }
        inv.push_str(&format!("slices:\n  lab:\n    ssh_keys: [\"{key}\"]\n    nodes: [n0, n1, n2]\n"));
        std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_liveboot"))
            .arg("-C")
            .arg(root())
            .args(["boot", "lab", "--image"])
            .arg(dir.path().join("live.iso"))
            .arg("--inventory")
            .arg(dir.path().join("inventory.yaml"))
            .env("LB_TEST_BMC_PASSWORD", PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let signal = if next().is_multiple_of(2) { libc::SIGINT } else { libc::SIGTERM };
        let delay = std::time::Duration::from_millis(200 + next() % 2000);
        std::thread::sleep(delay);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = child.wait_with_output().unwrap();
        let code = out.status.code();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            code == Some(128 + signal) || code == Some(0),
            "round {round}: signal {signal} after {delay:?}: exit {:?}\n{err}",
            out.status
        );
        if code != Some(0) {
            interrupted += 1;
            assert!(err.contains("interrupted: ended"), "{err}");
        }
        for (i, b) in bmcs.iter().enumerate() {
            let r = b.record();
            assert_eq!(
                r.sessions_created, r.sessions_deleted,
                "round {round}, n{i}: signal {signal} after {delay:?} left a session open\n{err}"
            );
        }
        println!("round {round}: signal {signal} after {delay:?}: exit {code:?}");
    }
    assert!(interrupted >= 3, "the boots ended before the signals: make the BMCs slower");
}

#[test]
fn status_shows_what_operators_look_at_first() {
    let lab = lab(PASSWORD);
    let p = Shape::DellNew.paths();
    lab.dell.edit(p.system, |v| {
        v["Model"] = serde_json::json!("PowerEdge R660");
        v["SerialNumber"] = serde_json::json!("7XJ2KQ3");
        v["BiosVersion"] = serde_json::json!("2.3.5");
        v["Status"] = serde_json::json!({ "Health": "Warning", "State": "Enabled" });
        v["Boot"]["BootSourceOverrideEnabled"] = serde_json::json!("Once");
        v["Boot"]["BootSourceOverrideTarget"] = serde_json::json!("Cd");
    });
    lab.dell.edit(p.manager, |v| v["FirmwareVersion"] = serde_json::json!("7.10.30.00"));
    // A pending BIOS job (this mock completes a job once it has been read: put back each time).
    let job = format!("{}/Jobs/JID_000000000042", p.manager);
    let pending = || {
        lab.dell.edit(&job, |v| {
            *v = serde_json::json!({ "@odata.id": job, "Id": "JID_000000000042", "Name": "Configure: BIOS.Setup.1-1", "JobState": "Scheduled", "Message": "Task successfully scheduled." })
        });
    };
    pending();
    lab.dell.edit(&format!("{}/Jobs", p.manager), |v| v["Members"] = serde_json::json!([{ "@odata.id": job }]));
    let v = json_of(&run(&lab, &["status", "d1", "--json"]));
    let d1 = &v[0];
    for (k, want) in [
        ("vendor", "dell"),
        ("manufacturer", "Dell Inc."),
        ("model", "PowerEdge R660"),
        ("serial", "7XJ2KQ3"),
        ("system_id", "System.Embedded.1"),
        ("bios_version", "2.3.5"),
        ("bmc_firmware", "7.10.30.00"),
        ("boot_mode", "UEFI"),
        ("boot_override", "Cd once"),
        ("health", "Warning"),
    ] {
        assert_eq!(d1[k], want, "{k}: {d1}");
    }
    assert_eq!(d1["pending_jobs"][0]["id"], "JID_000000000042", "{d1}");
    assert_eq!(d1["media"][0]["inserted"], false, "{d1}");
    // Plain: one aligned block per node.
    pending();
    let o = run(&lab, &["status", "lab"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let block: Vec<&str> =
        out.lines().skip_while(|l| !l.starts_with("d1 ")).take_while(|l| l.starts_with("d1 ") || l.starts_with("    ")).collect();
    assert!(block[0].contains("power Off") && block[0].contains("ssh "), "{out}");
    for want in [
        "    system   Dell Inc. PowerEdge R660  serial 7XJ2KQ3  id System.Embedded.1  health Warning  (dell)",
        "    firmware BIOS 2.3.5  BMC 7.10.30.00",
        "    boot     UEFI  next boot: Cd once",
        "    job      JID_000000000042 Scheduled Configure: BIOS.Setup.1-1 Task successfully scheduled.",
    ] {
        assert!(block.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(block.iter().any(|l| l.starts_with("    media    1: empty (not inserted)")), "{out}");
    // IPMI tells what it can: the BMC's firmware.
    let i1: Vec<&str> =
        out.lines().skip_while(|l| !l.starts_with("i1 ")).take_while(|l| l.starts_with("i1 ") || l.starts_with("    ")).collect();
    assert!(
        i1.iter().any(|l| l.starts_with("    firmware BMC ")),
        "{out}\n{}",
        String::from_utf8_lossy(&run(&lab, &["status", "i1", "--json"]).stdout)
    );
}

/// iDRAC 10 and several Supermicro and AMI boards have one virtual-media slot: `boot` puts the
/// node's seed on a copy of the image (published content-addressed, like the seeds) and
/// inserts that, with no seed medium.
#[test]
fn a_single_slot_bmc_gets_the_image_with_the_seed_embedded() {
    let lab = lab(PASSWORD);
    let collection = "/redfish/v1/Systems/System.Embedded.1/VirtualMedia";
    lab.dell.edit(collection, |c| {
        c["Members"] = serde_json::json!([{ "@odata.id": format!("{collection}/1") }]);
        c["Members@odata.count"] = 1.into();
    });
    // A live-boot ISO (the kernel where live-boot has it, a GRUB menu).
    let tree = lab.dir.path().join("tree");
    std::fs::create_dir_all(tree.join("live")).unwrap();
    std::fs::create_dir_all(tree.join("boot/grub")).unwrap();
    std::fs::write(tree.join("live/vmlinuz"), "kernel").unwrap();
    std::fs::write(tree.join("boot/grub/grub.cfg"), "menuentry live {\n  linux /live/vmlinuz boot=live ds=nocloud\n}\n").unwrap();
    let iso = lab.dir.path().join("debian12.iso");
    stdout(tool("xorriso").args(["-as", "mkisofs", "-quiet", "-R", "-o"]).arg(&iso).arg(&tree));
    let o = run(&lab, &["boot", "d1", "--image", iso.to_str().unwrap(), "--json"]);
    no_password(&o, "boot");
    let result = json_of(&o);
    assert_eq!(result[0]["boot"]["seed_slot"], "none: embedded in the image (the BMC has one slot)", "{result:?}");
    let inserted = lab.dell.get(&format!("{collection}/1"))["Image"].as_str().unwrap().to_string();
    let name = inserted.rsplit('/').next().unwrap();
    assert!(name.starts_with("debian12-d1-") && name.ends_with(".iso"), "{inserted}");
    let published = lab.dir.path().join("pub").join(name);
    let extract = |path: &str| {
        let dest = lab.dir.path().join("extracted");
        let _ = std::fs::remove_file(&dest);
        stdout(tool("xorriso").args(["-osirrox", "on", "-indev"]).arg(&published).args(["-extract", path]).arg(&dest));
        std::fs::read_to_string(&dest).unwrap()
    };
    assert!(extract("/nocloud/meta-data").contains("d1"), "the node's own seed");
    assert!(extract("/nocloud/user-data").contains("alice@lab"), "with the slice's keys");
    let menu = extract("/boot/grub/grub.cfg");
    assert!(menu.contains("linux /live/vmlinuz boot=live ds=nocloud \"ds=nocloud;s=/run/live/medium/nocloud/\"\n"), "{menu}");
    // An image given by URL cannot be remastered here: the single-slot BMC then says what to do.
    let original = std::fs::read_dir(lab.dir.path().join("pub"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("debian12-") && !n.starts_with("debian12-d1-"))
        .unwrap();
    let url = format!("{}/{original}", inserted.rsplit_once('/').unwrap().0);
    let o = run(&lab, &["boot", "d1", "--image", &url]);
    assert_eq!(o.status.code(), Some(1));
    let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(err.contains("the BMC offers one virtual media slot (1 [CD,DVD,USBStick]); the seed needs a second one, or the image must carry it (give boot an ISO file, not a URL"), "{err}");
}
