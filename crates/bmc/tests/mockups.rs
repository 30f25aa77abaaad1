//! The driver against the DMTF's public Redfish mockups (`tests/mockups/dmtf`, Redfish-Publications
//! 2025.4), served by the DMTF's Redfish-Mockup-Server with actions that take effect
//! (`tests/mockups/state.py`; see `tests/mockups/SOURCE.md`).
//!
//! Every System of every mockup runs what the node commands run, in order: status (power and
//! media), on, off, reboot, boot, diskboot, each on a fresh connection as the CLI makes it. Each
//! either works or fails before it changed anything (no POST, PATCH, PUT or DELETE but the
//! session's own), with a one-line reason; every session created is deleted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use liveboot_bmc::{Driver, Protocol, SeedUrls, Target, Timing, Tls};
use liveboot_runner::local::{free_port, wait_listening, Background};
use serde_json::Value;

fn mockups() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mockups")
}

/// One mockup served on a free port, its requests logged.
struct Served {
    _server: Background,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(mockup: &Path) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let out = dir.path().join("server.log");
        let port = free_port().unwrap();
        let mut child = Command::new(liveboot_bmc_mock::venv_bin("python"))
            .arg(mockups().join("state.py"))
            .args(["-S", "-H", "127.0.0.1", "-p", &port.to_string(), "-D"])
            .arg(mockup)
            .env("MOCKUP_REQUEST_LOG", &log)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(port, Duration::from_secs(20), "the Redfish mockup server", Some(&mut child), Some(&dir.path().join("server.err")))
            .unwrap();
        Served { _server: Background(child), port, log, _dir: dir }
    }

    /// Every request answered so far.
    fn requests(&self) -> Vec<Request> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                Request {
                    method: v["method"].as_str().unwrap().to_string(),
                    path: v["path"].as_str().unwrap().to_string(),
                    status: v["status"].as_u64().unwrap() as u16,
                }
            })
            .collect()
    }
}

#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    status: u16,
}

fn is_session(path: &str) -> bool {
    path.contains("/SessionService/Sessions")
}

/// Requests the server carried out that change something, but for logging in and out.
fn writes(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD" && (200..300).contains(&r.status) && !is_session(&r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn fast() -> Timing {
    Timing {
        request: Duration::from_secs(5),
        attempts: 2,
        backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(1),
        settle: Duration::from_secs(3),
        poll: Duration::from_millis(50),
    }
}

fn target(port: u16, system: &str) -> Target {
    Target {
        node: "m1".into(),
        address: format!("http://127.0.0.1:{port}"),
        protocol: Protocol::Redfish,
        vendor: None,
        username: "root".into(),
        password: liveboot_bmc::Secret::new("mockup-Pa55"),
        tls: Tls::Insecure,
        cipher_suite: None,
        system: Some(system.into()),
    }
}

const COMMANDS: &[&str] = &["status", "on", "off", "reboot", "boot", "diskboot"];

fn run(d: &mut Driver, command: &str) -> Result<String, liveboot_bmc::BmcError> {
    let seed = SeedUrls {
        iso: "http://192.0.2.10:8080/cidata-m1-aa11.iso".into(),
        vfat: "http://192.0.2.10:8080/cidata-m1-bb22.img".into(),
        ..Default::default()
    };
    Ok(match command {
        "status" => {
            let power = d.power()?;
            let media = d.media()?;
            format!("{power}, {} media slots", media.len())
        }
        "on" => d.on().map(|_| "On".to_string())?,
        "off" => d.off(Duration::from_secs(2))?,
        "reboot" => d.reboot()?,
        "boot" => {
            let r = d.boot("http://192.0.2.10:8080/debian12-3f2a9c1b.iso", &seed)?;
            format!("image in {}, seed in {}, {}, {}", r.image_slot, r.seed_slot, r.boot_once, r.power)
        }
        "diskboot" => d.diskboot()?,
        _ => unreachable!(),
    })
}

/// The Systems of a mockup: the members of its Systems collection, by Id (a mockup may hold
/// other ComputerSystem resources, such as composition templates, that are no members).
fn systems(mockup: &Path) -> Vec<String> {
    let read = |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let col = read(&mockup.join("Systems/index.json"));
    let mut out: Vec<String> = col["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let path = m["@odata.id"].as_str().unwrap().trim_start_matches("/redfish/v1/");
            read(&mockup.join(path).join("index.json"))["Id"].as_str().unwrap().to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_dmtf_mockup_system_works_or_fails_before_changing_anything() {
    let mut names: Vec<PathBuf> =
        std::fs::read_dir(mockups().join("dmtf")).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    names.sort();
    assert!(names.len() >= 20, "the mockups are missing: {names:?}");
    let mut table = Vec::new();
    let mut broken = Vec::new();
    let mut worked = std::collections::BTreeMap::<&str, usize>::new();
    for mockup in &names {
        let name = mockup.file_name().unwrap().to_string_lossy().into_owned();
        for system in systems(mockup) {
            let served = Served::start(mockup);
            for command in COMMANDS {
                let before = served.requests().len();
                let result = Driver::connect(&target(served.port, &system), &fast()).and_then(|mut d| run(&mut d, command));
                let sent = served.requests()[before..].to_vec();
                let line = match &result {
                    Ok(what) => {
                        *worked.entry(command).or_default() += 1;
                        format!("ok: {what}")
                    }
                    Err(e) => {
                        let text = e.to_string();
                        if text.contains('\n') {
                            broken.push(format!("{name}/{system} {command}: the error is not one line: {text:?}"));
                        }
                        let changed = writes(&sent);
                        if !changed.is_empty() {
                            broken.push(format!("{name}/{system} {command}: failed after changing {changed:?}: {text}"));
                        }
                        format!("failed: {text}")
                    }
                };
                table.push(format!("{name:<32} {system:<34} {command:<9} {line}"));
            }
            let all = served.requests();
            let created = all.iter().filter(|r| r.method == "POST" && is_session(&r.path) && r.status < 300).count();
            let deleted = all.iter().filter(|r| r.method == "DELETE" && is_session(&r.path) && r.status < 300).count();
            if created != deleted {
                broken.push(format!("{name}/{system}: {created} sessions created, {deleted} deleted"));
            }
        }
    }
    println!("{}", table.join("\n"));
    println!("worked: {worked:?}");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // The mockups of whole servers with virtual media boot through it.
    for command in COMMANDS {
        assert!(worked.get(command).copied().unwrap_or(0) >= 2, "{command} worked on fewer than two mockups: {worked:?}");
    }
}
