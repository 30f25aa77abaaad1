//! The whole `boot` flow against vendor-shaped BMCs, one test per quirk, and injected faults.
//! Every test also counts sessions: each one created is logged out, errors included.

use std::time::Duration;

use liveboot_bmc::{BmcError, Driver, Protocol, SeedUrls, Target, Timing, Tls};
use liveboot_bmc_mock::{Faults, MockBmc, Shape};
use serde_json::{json, Value};

const PASSWORD: &str = "s3cr3t-Pa55";
const IMAGE: &str = "http://192.0.2.10:8080/debian12-3f2a9c1b.iso";

fn seed() -> SeedUrls {
    SeedUrls {
        iso: "http://192.0.2.10:8080/cidata-n1-aa11.iso".into(),
        vfat: "http://192.0.2.10:8080/cidata-n1-bb22.img".into(),
        ..Default::default()
    }
}

fn fast() -> Timing {
    Timing {
        request: Duration::from_secs(2),
        attempts: 3,
        backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        settle: Duration::from_secs(3),
        poll: Duration::from_millis(50),
    }
}

fn target(bmc: &MockBmc) -> Target {
    Target {
        node: "n1".into(),
        address: bmc.url(),
        protocol: Protocol::Redfish,
        vendor: None,
        username: "root".into(),
        password: liveboot_bmc::Secret::new(PASSWORD),
        tls: Tls::Insecure,
        cipher_suite: None,
        system: None,
    }
}

/// Runs boot on a fresh BMC of `shape` and checks the parts every vendor shares: image in the
/// CD slot, seed in the other, power On, every session logged out, no password in any
/// request but the login.
fn boot(shape: Shape) -> MockBmc {
    let bmc = MockBmc::start(shape, "root", PASSWORD, Faults::default());
    {
        let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
        let report = d.boot(IMAGE, &seed()).unwrap_or_else(|e| panic!("{shape:?}: {e}"));
        assert!(!report.image_slot.is_empty());
        // Twice in a row works too (media already in, node already on).
        d.boot(IMAGE, &seed()).unwrap_or_else(|e| panic!("{shape:?}, second boot: {e}"));
    }
    let p = shape.paths();
    assert_eq!(bmc.get(p.cd)["Image"], IMAGE, "{shape:?}: image slot");
    let seed_image = bmc.get(p.seed)["Image"].as_str().unwrap().to_string();
    assert!(seed_image.starts_with("http://192.0.2.10:8080/cidata-n1-"), "{shape:?}: seed slot has {seed_image}");
    assert_eq!(bmc.get(p.system)["PowerState"], "On");
    let rec = bmc.record();
    assert_eq!(rec.sessions_created, 1, "{shape:?}: one session per connection");
    assert_eq!(rec.sessions_deleted, 1, "{shape:?}: logged out");
    assert_eq!(bmc.open_sessions(), 0);
    let logins = rec.raw.iter().filter(|r| r.contains(PASSWORD)).count();
    assert_eq!(logins, 1, "{shape:?}: the password travels only in the one login");
    bmc
}

fn requests(bmc: &MockBmc, method: &str, suffix: &str) -> Vec<Value> {
    bmc.record().requests.into_iter().filter(|(m, p, _)| m == method && p.ends_with(suffix)).map(|(_, _, b)| b).collect()
}

#[test]
fn generic_standard_override_on_the_system() {
    let bmc = boot(Shape::Generic);
    let boot = &bmc.get(Shape::Generic.paths().system)["Boot"];
    assert_eq!(boot["BootSourceOverrideTarget"], "Cd");
    assert_eq!(boot["BootSourceOverrideEnabled"], "Once");
    // The seed went to the floppy/USB slot, so as FAT.
    assert_eq!(bmc.get(Shape::Generic.paths().seed)["Image"], seed().vfat);
}

#[test]
fn dell_old_firmware_boots_once_through_an_import_job_not_the_cd_override() {
    let bmc = boot(Shape::DellOld);
    let p = Shape::DellOld.paths();
    assert_eq!(bmc.get(p.manager)["Oem"]["Dell"]["ServerBoot"], json!({"BootOnce": "Enabled", "FirstBootDevice": "VCD-DVD"}));
    // The standard Cd override would boot the physical drive on this firmware: never sent.
    assert_eq!(bmc.get(p.system)["Boot"]["BootSourceOverrideTarget"], "None");
    // The job was followed to completion (202 + Location, Running, then Completed).
    assert!(bmc.record().requests.iter().any(|(m, p, _)| m == "GET" && p.starts_with("/redfish/v1/TaskService/Tasks/JID_")));
}

#[test]
fn dell_new_firmware_uses_media_under_systems_and_waits_out_stale_eject() {
    let bmc = boot(Shape::DellNew);
    let p = Shape::DellNew.paths();
    assert_eq!(bmc.get(p.system)["Boot"]["BootSourceOverrideTarget"], "Cd");
    // Second CD slot: the seed went in as ISO 9660.
    assert_eq!(bmc.get(p.seed)["Image"], seed().iso);
    // No insert hit "already connected" (VRM0012): the flow waited until eject showed.
    assert!(requests(&bmc, "POST", "InsertMedia").len() == 4);
}

#[test]
fn hpe_boot_on_next_reset_and_success_shaped_error_bodies() {
    let bmc = boot(Shape::Hpe);
    let p = Shape::Hpe.paths();
    assert_eq!(bmc.get(p.cd)["Oem"]["Hpe"]["BootOnNextServerReset"], true);
    // Inserts carried no Inserted/WriteProtected (iLO 4 rejects them), ejects carried a body.
    assert!(requests(&bmc, "POST", "InsertMedia").iter().all(|b| b.get("Inserted").is_none()));
    assert!(requests(&bmc, "POST", "EjectMedia").iter().all(|b| b == &json!({})));
    assert_eq!(bmc.get(p.seed)["Image"], seed().vfat);
}

#[test]
fn supermicro_usbcd_full_triple_and_connected_via() {
    let bmc = boot(Shape::Supermicro);
    let p = Shape::Supermicro.paths();
    let boot = &bmc.get(p.system)["Boot"];
    assert_eq!(boot["BootSourceOverrideTarget"], "UsbCd");
    assert_eq!(boot["BootSourceOverrideMode"], "UEFI");
    assert_eq!(boot["BootSourceOverrideEnabled"], "Once");
    // The second boot found the slots connected through ConnectedVia (no Inserted field) and ejected them.
    assert_eq!(requests(&bmc, "POST", "EjectMedia").len(), 2);
}

#[test]
fn supermicro_refuses_urls_with_query_before_touching_the_bmc() {
    let bmc = MockBmc::start(Shape::Supermicro, "root", PASSWORD, Faults::default());
    let e = {
        let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
        d.boot("http://h/x.iso?token=1", &seed()).unwrap_err()
    };
    assert_eq!(e.step, "check the image URL");
    assert!(e.message.contains("'?' or '='"), "{e}");
    assert_eq!(bmc.open_sessions(), 0);
    let writes: Vec<_> = bmc.record().requests.into_iter().filter(|(m, p, _)| m != "GET" && !p.contains("/Sessions")).collect();
    assert!(writes.is_empty(), "the BMC was changed before the URL was refused: {writes:?}");
}

#[test]
fn lenovo_inserts_by_patch() {
    let bmc = boot(Shape::Lenovo);
    let patches = requests(&bmc, "PATCH", "/VirtualMedia/EXT1");
    assert!(patches.iter().any(|b| b["Image"] == IMAGE && b["Inserted"] == true), "{patches:?}");
    assert!(requests(&bmc, "POST", "InsertMedia").is_empty());
}

#[test]
fn ami_override_through_the_settings_object_with_the_full_triple() {
    let bmc = boot(Shape::Ami);
    let sd = bmc.get("/redfish/v1/Systems/Self/SD");
    assert_eq!(sd["Boot"]["BootSourceOverrideTarget"], "Cd");
    assert_eq!(sd["Boot"]["BootSourceOverrideMode"], "UEFI");
    assert_eq!(sd["Boot"]["BootSourceOverrideEnabled"], "Once");
    // Only the override goes to the settings resource, not the System's whole Boot object.
    for body in requests(&bmc, "PATCH", "/Systems/Self/SD") {
        let keys: Vec<&String> = body["Boot"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["BootSourceOverrideEnabled", "BootSourceOverrideMode", "BootSourceOverrideTarget"], "{body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    }
    // The insert was retried with TransferProtocolType after the 400 asking for it.
    assert!(requests(&bmc, "POST", "InsertMedia").iter().any(|b| b["TransferProtocolType"] == "HTTP"));
}

#[test]
fn diskboot_ejects_everything_and_boots_from_disk() {
    for shape in [Shape::Generic, Shape::Supermicro, Shape::Lenovo, Shape::Hpe] {
        let bmc = MockBmc::start(shape, "root", PASSWORD, Faults::default());
        {
            let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
            d.boot(IMAGE, &seed()).unwrap();
            d.diskboot().unwrap_or_else(|e| panic!("{shape:?}: {e}"));
            assert!(d.media().unwrap().iter().all(|s| s.image.is_none()), "{shape:?}");
        }
        assert_eq!(bmc.get(shape.paths().system)["Boot"]["BootSourceOverrideTarget"], "Hdd");
        assert_eq!(bmc.open_sessions(), 0);
    }
}

#[test]
fn power_on_off_reboot() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
    d.on().unwrap();
    assert_eq!(d.power().unwrap(), liveboot_bmc::Power::On);
    assert_eq!(d.reboot().unwrap(), "ForceRestart");
    assert_eq!(d.off(Duration::from_secs(1)).unwrap(), "shut down");
    assert_eq!(d.off(Duration::from_secs(1)).unwrap(), "already off");
}

#[test]
fn bios_get_set_reset_and_the_dell_job_queue() {
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults::default());
    {
        let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
        let got = d.bios_get(Some("proc")).unwrap();
        assert_eq!(got, vec![("ProcVirtualization".to_string(), json!("Enabled"))]);
        let said = d.bios_set(&[("ProcVirtualization".into(), "Disabled".into()), ("NumLock".into(), "off".into())]).unwrap();
        assert!(said.contains("next reboot"), "{said}");
        let e = d.bios_set(&[("ProcVirt".into(), "x".into())]).unwrap_err();
        assert!(e.message.contains("did you mean") && e.message.contains("ProcVirtualization"), "{e}");
        let jobs = d.jobs().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].state, "Scheduled");
        assert_eq!(d.jobs_clear(None).unwrap(), 1);
        assert!(d.jobs().unwrap().is_empty());
        d.bios_reset().unwrap();
    }
    let settings = bmc.get("/redfish/v1/Systems/System.Embedded.1/Bios/Settings");
    assert_eq!(settings["Attributes"], json!({"ProcVirtualization": "Disabled", "NumLock": false}));
    assert_eq!(settings["@Redfish.SettingsApplyTime"]["ApplyTime"], "OnReset");
    assert_eq!(bmc.open_sessions(), 0);
}

// ---- injected faults: one-line diagnostic naming node and step, all sessions logged out ----

fn fault(faults: Faults, timing: Timing) -> (BmcError, MockBmc) {
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, faults);
    let r = Driver::connect(&target(&bmc), &timing).and_then(|mut d| d.boot(IMAGE, &seed()));
    let Err(e) = r else { panic!("the flow fails") };
    let line = e.to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.starts_with(&format!("n1: {}: ", e.step)), "{line}");
    assert!(!line.contains(PASSWORD));
    assert_eq!(bmc.open_sessions(), 0, "every session logged out after: {line}");
    let rec = bmc.record();
    assert_eq!(rec.sessions_created, rec.sessions_deleted, "{line}");
    (e, bmc)
}

#[test]
fn busy_bmc_answering_503_with_retry_after_is_waited_out() {
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults { unavailable: 2, ..Default::default() });
    let start = std::time::Instant::now();
    {
        let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
        d.boot(IMAGE, &seed()).unwrap();
    }
    // Two 503s with Retry-After: 1 were honoured (not the 50 ms backoff).
    assert!(start.elapsed() >= Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(bmc.open_sessions(), 0);
}

#[test]
fn busy_bmc_that_stays_busy_fails_in_one_line() {
    let (e, _) = fault(Faults { unavailable: 1000, ..Default::default() }, fast());
    assert_eq!(e.step, "discover");
    assert!(e.message.contains("HTTP 503") && e.message.contains("tried 3 times"), "{e}");
}

#[test]
fn session_limit_reached() {
    let (e, bmc) = fault(Faults { session_limit: true, ..Default::default() }, fast());
    assert_eq!(e.step, "log in");
    assert!(e.message.contains("RAC0218") && e.message.contains("session slots are full"), "{e}");
    assert_eq!(bmc.record().sessions_created, 0);
}

#[test]
fn connection_reset_mid_flow_is_retried() {
    // Requests 8 and 9 (in the middle of discovery/eject) are reset; the third try goes through.
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults { reset_from: Some(8), reset_count: 2, ..Default::default() });
    {
        let mut d = Driver::connect(&target(&bmc), &fast()).unwrap();
        d.boot(IMAGE, &seed()).unwrap();
    }
    assert_eq!(bmc.open_sessions(), 0);
}

#[test]
fn connection_reset_on_every_try_fails_in_one_line() {
    // Every try of one request is reset (3 tries); the BMC answers again in time for the logout.
    let (e, _) = fault(Faults { reset_from: Some(8), reset_count: 3, ..Default::default() }, fast());
    assert!(e.message.contains("tried 3 times"), "{e}");
}

#[test]
fn bmc_slower_than_the_timeout() {
    let timing = Timing { request: Duration::from_millis(300), attempts: 2, ..fast() };
    let (e, _) = fault(Faults { slow: Some(Duration::from_millis(800)), ..Default::default() }, timing);
    assert_eq!(e.step, "discover");
    assert!(e.message.contains("no answer within 0.3 s") && e.message.contains("tried 2 times"), "{e}");
}

#[test]
fn task_that_never_completes() {
    let bmc = MockBmc::start(Shape::DellOld, "root", PASSWORD, Faults { task_never_completes: true, ..Default::default() });
    let e = Driver::connect(&target(&bmc), &fast()).and_then(|mut d| d.boot(IMAGE, &seed())).err().unwrap();
    assert_eq!(e.step, "set one-time boot");
    let line = e.to_string();
    assert!(line.starts_with("n1: set one-time boot: task /redfish/v1/TaskService/Tasks/JID_"), "{line}");
    assert!(line.contains("still Running after 3 s"), "{line}");
    assert_eq!(bmc.open_sessions(), 0);
}

#[test]
fn wrong_password_says_so_without_echoing_it() {
    let bmc = MockBmc::start(Shape::Generic, "root", "other", Faults::default());
    let e = Driver::connect(&target(&bmc), &fast()).err().unwrap();
    assert_eq!(e.step, "log in");
    assert!(e.message.contains("HTTP 401") && e.message.contains("check the user name and the password"), "{e}");
    assert!(!e.to_string().contains(PASSWORD));
}

// ---- TLS: verified by default, a pinned fingerprint or a CA file for self-signed BMCs ----

fn tls_target(bmc: &MockBmc, tls: Tls) -> Target {
    Target { tls, ..target(bmc) }
}

#[test]
fn tls_self_signed_bmc_is_refused_by_default_with_what_to_do() {
    let bmc = MockBmc::start_tls(Shape::Generic, "root", PASSWORD);
    let Err(e) = Driver::connect(&tls_target(&bmc, Tls::Verify { ca_file: None }), &fast()) else {
        panic!("connected to an untrusted BMC")
    };
    assert_eq!(e.step, "log in");
    assert!(e.message.contains("set bmc.ca_file (the CA that signed it) or bmc.fingerprint"), "{e}");
    assert!(!e.message.contains("tried"), "a certificate failure is not retried: {e}");
    assert_eq!(bmc.record().requests.len(), 0, "nothing was sent, least of all the password");
}

#[test]
fn tls_ca_file_that_does_not_verify_says_so_and_is_not_retried() {
    // The CA file holds another BMC's certificate: the hint must not be "set bmc.ca_file".
    let (bmc, other) = (MockBmc::start_tls(Shape::Generic, "root", PASSWORD), MockBmc::start_tls(Shape::Generic, "root", PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other.pem");
    std::fs::write(&ca, other.cert_pem()).unwrap();
    let Err(e) = Driver::connect(&tls_target(&bmc, Tls::Verify { ca_file: Some(ca.clone()) }), &fast()) else { panic!("connected") };
    assert!(e.message.contains(&format!("bmc.ca_file {} does not verify it", ca.display())), "{e}");
    assert!(e.message.contains("pin it with bmc.fingerprint"), "{e}");
    assert!(!e.message.contains("set bmc.ca_file") && !e.message.contains("tried"), "{e}");
}

#[test]
fn tls_pinned_fingerprint_is_trusted_and_a_wrong_one_is_not() {
    use sha2::Digest;
    let bmc = MockBmc::start_tls(Shape::Generic, "root", PASSWORD);
    let fp: [u8; 32] = sha2::Sha256::digest(bmc.cert_der()).into();
    let mut d = Driver::connect(&tls_target(&bmc, Tls::Fingerprint(fp)), &fast()).unwrap();
    d.boot(IMAGE, &seed()).unwrap();
    drop(d);
    assert_eq!(bmc.open_sessions(), 0);
    let mut wrong = fp;
    wrong[0] ^= 1;
    let Err(e) = Driver::connect(&tls_target(&bmc, Tls::Fingerprint(wrong)), &fast()) else { panic!("wrong fingerprint accepted") };
    assert!(e.message.contains("is not the one in the inventory (bmc.fingerprint)"), "{e}");
}

#[test]
fn tls_ca_file_is_trusted() {
    let bmc = MockBmc::start_tls(Shape::Generic, "root", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("bmc-ca.pem");
    std::fs::write(&ca, bmc.cert_pem()).unwrap();
    let mut d = Driver::connect(&tls_target(&bmc, Tls::Verify { ca_file: Some(ca) }), &fast()).unwrap();
    assert_eq!(d.power().unwrap(), liveboot_bmc::Power::Off);
}

// ---- firmware shapes that the vendor mocks did not show (issue 13), one test per shape ----

/// Requests that changed something, but for logging in and out: "METHOD path".
fn writes(bmc: &MockBmc) -> Vec<String> {
    bmc.record()
        .requests
        .into_iter()
        .filter(|(m, p, _)| m != "GET" && !p.contains("/Sessions"))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect()
}

fn connect(bmc: &MockBmc) -> Driver {
    Driver::connect(&target(bmc), &fast()).unwrap()
}

fn resets(bmc: &MockBmc) -> Vec<String> {
    requests(bmc, "POST", "ComputerSystem.Reset").iter().map(|b| b["ResetType"].as_str().unwrap().to_string()).collect()
}

#[test]
fn off_presses_the_power_button_when_graceful_shutdown_is_not_offered() {
    // iLO 5 lists PushPowerButton (a graceful press) and no GracefulShutdown.
    let bmc = MockBmc::start(Shape::Hpe, "root", PASSWORD, Faults::default());
    let sys = Shape::Hpe.paths().system;
    bmc.edit(sys, |v| {
        v["PowerState"] = json!("On");
        v["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] =
            json!(["On", "ForceOff", "ForceRestart", "PushPowerButton"]);
    });
    let done = connect(&bmc).off(Duration::from_secs(2)).unwrap();
    assert_eq!(resets(&bmc), ["PushPowerButton"], "{done}");
    assert_eq!(bmc.get(sys)["PowerState"], "Off");
}

#[test]
fn reset_types_are_read_from_action_info_and_malformed_values_are_tolerated() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let sys = Shape::Generic.paths().system;
    let info = format!("{sys}/ResetActionInfo");
    bmc.edit(sys, |v| {
        v["PowerState"] = json!("On");
        let action = v["Actions"]["#ComputerSystem.Reset"].as_object_mut().unwrap();
        action.remove("ResetType@Redfish.AllowableValues");
        action.insert("@Redfish.ActionInfo".into(), json!(info));
    });
    // Where the values are published: ActionInfo. Only ForceOff: no graceful attempt.
    bmc.edit(&info, |v| *v = json!({ "Parameters": [{ "Name": "ResetType", "AllowableValues": ["On", "ForceOff"] }] }));
    connect(&bmc).off(Duration::from_secs(1)).unwrap();
    assert_eq!(resets(&bmc), ["ForceOff"]);
    assert!(bmc.record().requests.iter().any(|(m, p, _)| m == "GET" && p == &info), "ActionInfo was not read");
    // Some Supermicro firmware: trailing spaces, odd case, values outside the standard.
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    bmc.edit(sys, |v| {
        v["PowerState"] = json!("On");
        v["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] =
            json!(["GracefulShutdown ", "forceoff", "PowerOffSoft"]);
    });
    // Read as GracefulShutdown and ForceOff and sent in the standard's spelling (this mock
    // then refuses them, comparing its list as written: what is checked is what was sent).
    bmc.edit(sys, |v| {
        v["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"] =
            json!(["GracefulShutdown ", "forceoff", "PowerOffSoft"])
    });
    let done = connect(&bmc).off(Duration::from_secs(1));
    assert_eq!(resets(&bmc).first().map(String::as_str), Some("GracefulShutdown"), "{done:?}");
}

#[test]
fn a_one_time_boot_target_the_system_does_not_offer_fails_before_any_change() {
    // Offers UsbCd (Supermicro's virtual CD) but not Cd: taken instead.
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let sys = Shape::Generic.paths().system;
    bmc.edit(sys, |v| v["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"] = json!(["None", "Pxe", "Hdd", "UsbCd"]));
    let r = connect(&bmc).boot(IMAGE, &seed()).unwrap();
    assert!(r.boot_once.contains("UsbCd"), "{}", r.boot_once);
    // Offers neither: refused before the media are touched.
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    bmc.edit(sys, |v| v["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"] = json!(["None", "Pxe", "Hdd"]));
    let e = connect(&bmc).boot(IMAGE, &seed()).unwrap_err();
    assert_eq!(e.step, "check the one-time boot", "{e}");
    assert!(e.message.contains("allows None, Pxe, Hdd but not Cd or UsbCd"), "{e}");
    assert!(writes(&bmc).is_empty(), "changed before failing: {:?}", writes(&bmc));
}

#[test]
fn hpe_oem_insert_action_is_used_when_the_standard_one_is_absent() {
    let bmc = MockBmc::start(Shape::Hpe, "root", PASSWORD, Faults::default());
    let p = Shape::Hpe.paths();
    for slot in [p.cd, p.seed] {
        bmc.edit(slot, |v| {
            v["Actions"] = json!({ "Oem": { "Hpe": {
                "#HpeiLOVirtualMedia.InsertVirtualMedia": { "target": format!("{slot}/Actions/Oem/Hpe/HpeiLOVirtualMedia.InsertVirtualMedia") },
                "#HpeiLOVirtualMedia.EjectVirtualMedia": { "target": format!("{slot}/Actions/Oem/Hpe/HpeiLOVirtualMedia.EjectVirtualMedia") },
            } } });
        });
    }
    connect(&bmc).boot(IMAGE, &seed()).unwrap();
    let sent = requests(&bmc, "POST", "HpeiLOVirtualMedia.InsertVirtualMedia");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], json!({ "Image": IMAGE }), "the OEM action takes the image only");
    assert_eq!(bmc.get(p.cd)["Image"], IMAGE);
}

#[test]
fn ami_wants_transfer_protocol_and_transfer_method_each_added_once() {
    let bmc = boot(Shape::Ami);
    let inserts = requests(&bmc, "POST", "VirtualMedia.InsertMedia");
    let last = inserts.last().unwrap();
    assert_eq!(last["TransferProtocolType"], "HTTP");
    assert_eq!(last["TransferMethod"], "Stream");
}

#[test]
fn the_image_goes_to_the_first_cd_slot_whatever_the_collection_order() {
    // Dell R660: both slots take CDs and USB sticks; the collection listed 2 before 1.
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults::default());
    let p = Shape::DellNew.paths();
    bmc.edit(&format!("{}/VirtualMedia", p.system), |v| {
        v["Members"].as_array_mut().unwrap().reverse();
    });
    let r = connect(&bmc).boot(IMAGE, &seed()).unwrap();
    assert_eq!(r.image_slot, "1");
    assert_eq!(bmc.get(p.cd)["Image"], IMAGE);
}

#[test]
fn patch_sends_if_match_with_the_etag_and_a_refused_weak_tag_again_strong() {
    let faults = Faults { require_if_match: true, ..Faults::default() };
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, faults);
    let r = connect(&bmc).boot(IMAGE, &seed()).unwrap();
    assert!(r.boot_once.contains("Cd"), "{}", r.boot_once);
    assert_eq!(bmc.get(Shape::Generic.paths().system)["Boot"]["BootSourceOverrideTarget"], "Cd");
    // The BIOS settings too.
    let mut d = connect(&bmc);
    d.bios_set(&[("ProcVirtualization".into(), "Disabled".into())]).unwrap();
}

#[test]
fn absolute_links_are_followed_on_the_same_bmc() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let p = Shape::Generic.paths();
    bmc.edit("/redfish/v1/", |v| {
        v["Systems"] = json!({ "@odata.id": "https://bmc.example/redfish/v1/Systems" });
        v["Managers"] = json!({ "@odata.id": "https://bmc.example/redfish/v1/Managers" });
    });
    bmc.edit("/redfish/v1/Systems", |v| v["Members"] = json!([{ "@odata.id": format!("https://bmc.example{}", p.system) }]));
    bmc.edit(p.system, |v| v["VirtualMedia"] = json!({ "@odata.id": format!("https://bmc.example{}/VirtualMedia", p.system) }));
    let before = bmc.record().requests.len();
    connect(&bmc).boot(IMAGE, &seed()).unwrap();
    let rec = bmc.record();
    assert!(rec.requests[before..].iter().all(|(_, p, _)| p.starts_with("/redfish/v1")), "a request left the BMC's paths");
    assert_eq!(bmc.get(p.cd)["Image"], IMAGE);
}

#[test]
fn a_missing_reset_action_fails_diskboot_before_the_override_changes() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    bmc.edit(Shape::Generic.paths().system, |v| {
        v.as_object_mut().unwrap().remove("Actions");
    });
    let e = connect(&bmc).diskboot().unwrap_err();
    assert_eq!(e.step, "check the Reset action");
    assert!(e.message.contains("no #ComputerSystem.Reset action"), "{e}");
    assert!(writes(&bmc).is_empty(), "changed before failing: {:?}", writes(&bmc));
}

#[test]
fn a_system_without_power_state_is_not_waited_on() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    bmc.edit(Shape::Generic.paths().system, |v| {
        v.as_object_mut().unwrap().remove("PowerState");
    });
    let mut d = connect(&bmc);
    assert_eq!(d.power().unwrap(), liveboot_bmc::Power::Unknown);
    let start = std::time::Instant::now();
    d.on().unwrap();
    assert!(start.elapsed() < Duration::from_secs(2), "on waited {:?} for a state that is never reported", start.elapsed());
    assert_eq!(resets(&bmc), ["On"]);
}

#[test]
fn jobs_on_a_bmc_without_a_task_service_are_none() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    bmc.edit("/redfish/v1/", |v| {
        v.as_object_mut().unwrap().remove("Tasks");
    });
    let mut d = connect(&bmc);
    assert!(d.jobs().unwrap().is_empty());
    assert_eq!(d.jobs_clear(None).unwrap(), 0);
}

#[test]
fn paged_collections_are_read_to_the_end() {
    // The media collection in two pages: the seed's slot is on the second.
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let p = Shape::Generic.paths();
    let col = format!("{}/VirtualMedia", p.system);
    let next = format!("{col}?$skip=1");
    bmc.edit(&col, |v| {
        *v = json!({ "Members": [{ "@odata.id": p.cd }], "Members@odata.count": 2, "Members@odata.nextLink": next });
    });
    bmc.edit(&next, |v| *v = json!({ "Members": [{ "@odata.id": p.seed }], "Members@odata.count": 2 }));
    let r = connect(&bmc).boot(IMAGE, &seed()).unwrap();
    assert_eq!(r.seed_slot, "Floppy (vfat)");
}

#[test]
fn an_unreadable_slot_fails_only_the_commands_that_need_it() {
    let bmc = MockBmc::start(Shape::Generic, "root", PASSWORD, Faults::default());
    let p = Shape::Generic.paths();
    bmc.remove(p.seed);
    let mut d = connect(&bmc);
    assert_eq!(d.power().unwrap(), liveboot_bmc::Power::Off);
    d.on().unwrap();
    let e = d.boot(IMAGE, &seed()).unwrap_err();
    assert!(e.message.contains("unreadable: slot Floppy"), "{e}");
    assert!(!writes(&bmc).iter().any(|w| w.contains("VirtualMedia")), "media changed before failing: {:?}", writes(&bmc));
}

/// `bmc.seed: embed`: the image with the seed on it goes into the CD slot even when a second
/// slot is there, and nothing else is inserted; `slot` never embeds.
#[test]
fn seed_placement_embed_and_slot() {
    use liveboot_bmc::{Embed, SeedPlacement};
    let embedded = "http://192.0.2.10:8080/debian12-n1-cc33.iso";
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults::default());
    let forced =
        SeedUrls { embedded: Some(Embed(std::sync::Arc::new(|| Ok(embedded.to_string())))), placement: SeedPlacement::Embed, ..seed() };
    let report = Driver::connect(&target(&bmc), &fast()).unwrap().boot(IMAGE, &forced).unwrap();
    assert_eq!(report.seed_slot, "none: embedded in the image (bmc.seed: embed)");
    let p = Shape::DellNew.paths();
    assert_eq!(bmc.get(p.cd)["Image"], embedded);
    assert!(bmc.get(p.seed)["Image"].is_null() || bmc.get(p.seed)["Image"] == "", "{}", bmc.get(p.seed));
    // Without a way to embed, `embed` fails before any change.
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults::default());
    let seed_no_copy = SeedUrls { placement: SeedPlacement::Embed, ..seed() };
    let e = Driver::connect(&target(&bmc), &fast()).unwrap().boot(IMAGE, &seed_no_copy).unwrap_err();
    assert!(e.to_string().contains("bmc.seed is embed, and an image given as a URL cannot be remastered here"), "{e}");
    assert!(writes(&bmc).is_empty(), "no change made: {:?}", writes(&bmc));
    // `slot` with two slots: the seed goes to the second, the copy is never made.
    let bmc = MockBmc::start(Shape::DellNew, "root", PASSWORD, Faults::default());
    let never = SeedUrls {
        embedded: Some(Embed(std::sync::Arc::new(|| panic!("no copy with bmc.seed: slot")))),
        placement: SeedPlacement::Slot,
        ..seed()
    };
    Driver::connect(&target(&bmc), &fast()).unwrap().boot(IMAGE, &never).unwrap();
    assert_eq!(bmc.get(p.cd)["Image"], IMAGE);
}
