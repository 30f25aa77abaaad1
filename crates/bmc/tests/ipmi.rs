//! IPMI through the real ipmitool against ipmi_sim (OpenIPMI's BMC simulator) on loopback:
//! power and boot device, and the password never on ipmitool's command line.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use liveboot_bmc::{Driver, Power, Protocol, Secret, SeedUrls, Target, Timing, Tls};
use liveboot_bmc_mock::IpmiSim;

const PASSWORD: &str = "ipmi-Pa55-6617";

fn target(sim: &IpmiSim) -> Target {
    Target {
        node: "i1".into(),
        address: format!("127.0.0.1:{}", sim.port()),
        protocol: Protocol::Ipmi,
        vendor: None,
        username: "admin".into(),
        password: Secret::new(PASSWORD),
        tls: Tls::Insecure,
        cipher_suite: Some(3),
        system: None,
    }
}

fn timing() -> Timing {
    Timing {
        request: Duration::from_secs(2),
        attempts: 2,
        poll: Duration::from_millis(100),
        settle: Duration::from_secs(10),
        ..Timing::default()
    }
}

/// Every ipmitool process seen while the watcher runs: (argv, environment).
fn watch(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<(String, String)>> {
    std::thread::spawn(move || {
        let seen = Mutex::new(Vec::new());
        let mut pids = std::collections::HashSet::new();
        while !stop.load(Ordering::SeqCst) {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().to_string();
                if !name.bytes().all(|b| b.is_ascii_digit()) || pids.contains(&name) {
                    continue;
                }
                if std::fs::read_to_string(p.join("comm")).map(|c| c.trim() == "ipmitool").unwrap_or(false) {
                    let cmdline = std::fs::read(p.join("cmdline")).unwrap_or_default();
                    let environ = std::fs::read(p.join("environ")).unwrap_or_default();
                    if !cmdline.is_empty() {
                        pids.insert(name);
                        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).replace('\0', " ");
                        seen.lock().unwrap().push((text(cmdline), text(environ)));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        seen.into_inner().unwrap()
    })
}

fn hook_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("hook.log")).unwrap_or_default()
}

#[test]
fn power_and_boot_device_through_ipmitool_with_the_password_off_its_argv() {
    let sim = IpmiSim::start(PASSWORD);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(stop.clone());
    let mut d = Driver::connect(&target(&sim), &timing()).unwrap();
    assert_eq!(d.power().unwrap(), Power::Off);
    d.on().unwrap();
    assert_eq!(d.power().unwrap(), Power::On);
    let seed = SeedUrls::default();
    let r = d.boot("http://unused/", &seed).unwrap();
    assert_eq!(r.boot_once, "bootdev pxe (EFI)");
    assert_eq!(std::fs::read_to_string(sim.dir().join("boot")).unwrap().trim(), "pxe");
    d.diskboot().unwrap();
    assert_eq!(std::fs::read_to_string(sim.dir().join("boot")).unwrap().trim(), "default");
    assert_eq!(d.off(Duration::from_secs(3)).unwrap(), "shut down");
    assert_eq!(d.power().unwrap(), Power::Off);
    assert!(d.bios_get(None).unwrap_err().to_string().starts_with("i1: read BIOS: not available over IPMI"));
    stop.store(true, Ordering::SeqCst);
    // Only this test's ipmitools (the other test talks to another simulator at the same time).
    let mine = format!(" -p {} ", sim.port());
    let seen: Vec<_> = watcher.join().unwrap().into_iter().filter(|(argv, _)| argv.contains(&mine)).collect();
    let log = hook_log(sim.dir());
    assert!(log.contains("power 1") && log.contains("boot pxe") && log.contains("shutdown 1"), "{log}");
    assert!(seen.len() >= 3, "saw {} ipmitool processes", seen.len());
    for (argv, env) in &seen {
        assert!(argv.starts_with("ipmitool -I lanplus -H 127.0.0.1 -p "), "{argv}");
        assert!(argv.contains(" -E ") && argv.contains(" -C 3 "), "{argv}");
        assert!(!argv.contains(PASSWORD), "the password is on ipmitool's argv: {argv}");
        assert!(env.contains(&format!("IPMI_PASSWORD={PASSWORD}")), "the password goes through the environment");
    }
}

#[test]
fn a_wrong_password_fails_in_one_line_without_the_password() {
    let sim = IpmiSim::start(PASSWORD);
    let mut t = target(&sim);
    t.password = Secret::new("not-the-password");
    let start = Instant::now();
    let e = Driver::connect(&t, &timing()).unwrap().power().unwrap_err();
    let line = e.to_string();
    assert!(line.starts_with("i1: read power state: ipmitool failed: "), "{line}");
    assert!(line.contains("check the address, the credentials and bmc.cipher_suite"), "{line}");
    assert!(!line.contains("not-the-password") && !line.contains('\n'));
    assert!(start.elapsed() < Duration::from_secs(30));
}
