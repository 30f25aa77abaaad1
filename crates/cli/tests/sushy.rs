//! The node commands against the real sushy-tools Redfish emulator (fake driver, basic
//! authentication from a bcrypt htpasswd file, a fresh state directory) with images served by
//! `liveboot serve`: the emulator really downloads the image and each node's seed.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use liveboot_runner::local::{self, Background as Killed};
use serde_json::Value;

const PASSWORD: &str = "sushy-Pa55-9923";
const NODES: [(&str, &str); 3] = [
    ("v1", "4d6a4f2e-0001-4b1e-9a2f-000000000001"),
    ("v2", "4d6a4f2e-0002-4b1e-9a2f-000000000002"),
    ("v3", "4d6a4f2e-0003-4b1e-9a2f-000000000003"),
];

fn free_port() -> u16 {
    local::free_port().unwrap()
}

fn wait_port(port: u16, what: &str, child: &mut Child, log: &Path) {
    local::wait_listening(port, Duration::from_secs(60), what, Some(child), Some(log)).unwrap();
}

struct Lab {
    dir: tempfile::TempDir,
    _sushy: Killed,
    _serve: Killed,
    serve_log: PathBuf,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("htpasswd"), liveboot_bmc_mock::htpasswd_line("admin", PASSWORD)).unwrap();
    std::fs::create_dir_all(d.join("state")).unwrap();
    std::fs::create_dir_all(d.join("tmp")).unwrap();
    std::fs::create_dir_all(d.join("pub")).unwrap();
    let sport = free_port();
    let systems: Vec<String> = NODES
        .iter()
        .map(|(n, u)| {
            format!(
                "{{'uuid': '{u}', 'name': '{n}', 'power_state': 'Off', 'nics': [{{'mac': '52:54:00:aa:00:0{}', 'ip': '127.0.0.1'}}]}}",
                &n[1..]
            )
        })
        .collect();
    let config = format!(
        "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\nSUSHY_EMULATOR_LISTEN_PORT = {sport}\nSUSHY_EMULATOR_AUTH_FILE = '{}'\nSUSHY_EMULATOR_FAKE_DRIVER = True\nSUSHY_EMULATOR_FAKE_SYSTEMS = [{}]\nSUSHY_EMULATOR_STATE_DIR = '{}'\n",
        d.join("htpasswd").display(),
        systems.join(", "),
        d.join("state").display()
    );
    std::fs::write(d.join("sushy.conf"), config).unwrap();
    let sushy_log = d.join("sushy.log");
    let mut sushy = Command::new(liveboot_bmc_mock::venv_bin("sushy-emulator"))
        .arg("--config")
        .arg(d.join("sushy.conf"))
        .env("TMPDIR", d.join("tmp"))
        .stdout(std::fs::File::create(&sushy_log).unwrap())
        .stderr(std::fs::File::create(d.join("sushy.err")).unwrap())
        .spawn()
        .unwrap();
    wait_port(sport, "sushy-emulator", &mut sushy, &d.join("sushy.err"));
    let pport = free_port();
    let serve_log = d.join("serve.log");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .args(["serve", "--log", "--bind", &format!("127.0.0.1:{pport}")])
        .arg(d.join("pub"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&serve_log).unwrap())
        .spawn()
        .unwrap();
    wait_port(pport, "liveboot serve", &mut serve, &serve_log);
    // A live image stand-in: sushy downloads it whole, it need not boot.
    std::fs::write(d.join("live.iso"), (0..3_000_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGldy3/auhiwTtw13k3y0JgINAiDdmUfsTI8goR+3LQw alice@lab";
    let mut inv = format!("publish:\n  base_url: http://127.0.0.1:{pport}\n  dir: pub\ndefaults:\n  bmc:\n    address: http://127.0.0.1:{sport}\n    protocol: redfish\n    username: admin\n    password_env: LB_SUSHY_PASSWORD\nnodes:\n");
    for (n, u) in NODES {
        inv.push_str(&format!("  {n}:\n    bmc:\n      system: {u}\n"));
    }
    inv.push_str(&format!("slices:\n  lab:\n    ssh_keys: [\"{key}\"]\n    nodes: [v1, v2, v3]\n"));
    std::fs::write(d.join("inventory.yaml"), inv).unwrap();
    Lab { dir, _sushy: Killed(sushy), _serve: Killed(serve), serve_log }
}

fn run(lab: &Lab, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .arg("-C")
        .arg(root())
        .args(args)
        .arg("--inventory")
        .arg(lab.dir.path().join("inventory.yaml"))
        .arg("--json")
        .env("LB_SUSHY_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    for text in [&o.stdout, &o.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(PASSWORD), "{args:?} shows the password");
    }
    assert!(o.status.success(), "{args:?}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    o
}

fn results(o: &Output) -> Vec<Value> {
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().all(|n| n["ok"] == true), "{v:?}");
    v
}

#[test]
fn boot_three_nodes_at_once_then_status_power_and_diskboot() {
    let lab = lab();
    let iso = lab.dir.path().join("live.iso");
    let boot = results(&run(&lab, &["boot", "lab", "--image", iso.to_str().unwrap()]));
    let image_url = boot[0]["image"].as_str().unwrap().to_string();
    let image_name = image_url.rsplit('/').next().unwrap().to_string();
    // The emulator fetched the image once per node and each node's FAT seed, from liveboot serve.
    let log = std::fs::read_to_string(&lab.serve_log).unwrap();
    let gets = |needle: &str| log.lines().filter(|l| l.starts_with("GET /") && l.contains(needle) && l.contains(" 200 ")).count();
    assert!(gets(&image_name) >= 3, "image downloads in:\n{log}");
    for (n, _) in NODES {
        assert!(gets(&format!("/cidata-{n}-")) >= 1, "{n}'s seed download in:\n{log}");
    }
    assert!(boot.iter().all(|n| n["boot"]["seed_slot"] == "Floppy (vfat)" && n["boot"]["image_slot"] == "Cd"), "{boot:?}");

    results(&run(&lab, &["on", "lab"]));
    let st = results(&run(&lab, &["status", "lab"]));
    for n in &st {
        assert_eq!(n["power"], "On", "{n}");
        let cd = n["media"].as_array().unwrap().iter().find(|s| s["id"] == "Cd").unwrap();
        assert_eq!(cd["image"], image_url, "{n}");
    }
    let off = results(&run(&lab, &["off", "lab", "--grace", "15"]));
    assert!(off.iter().all(|n| n["power"] == "Off"));
    results(&run(&lab, &["on", "v1", "v2", "v3"]));
    results(&run(&lab, &["reboot", "lab"]));
    results(&run(&lab, &["diskboot", "lab"]));
    for n in results(&run(&lab, &["status", "lab"])) {
        assert!(n["media"].as_array().unwrap().iter().all(|s| s["image"].is_null()), "diskboot ejected everything: {n}");
    }
}
