//! `liveboot seed` on the example inventory, read back by our own reader and by xorriso,
//! isoinfo and blkid, with every user-data checked by cloud-init's own schema validator.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;

use liveboot_iso::IsoReader;
use liveboot_seed::SeedRenderer;

/// The files each node's seed must hold, rendered through the library.
fn rendered() -> BTreeMap<String, Vec<(&'static str, String)>> {
    let inv = liveboot_inventory::load(&root().join("examples/inventory.yaml")).unwrap();
    let r = SeedRenderer::new(&root().join("templates")).unwrap();
    inv.nodes
        .keys()
        .map(|n| {
            let s = r.render_node(&inv, n).unwrap();
            (n.clone(), s.files().into_iter().map(|(k, v)| (k, v.to_string())).collect())
        })
        .collect()
}

fn write_seeds(out: &Path) -> serde_json::Value {
    let inv = root().join("examples/inventory.yaml");
    let o = liveboot(&["seed", "--inventory", &inv.to_string_lossy(), "--all", "--out", &out.to_string_lossy(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn seeds_read_back_the_same_through_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let report = write_seeds(dir.path());
    let expected = rendered();
    assert_eq!(report.as_array().unwrap().len(), expected.len());
    for (node, files) in &expected {
        let iso = dir.path().join(format!("cidata-{node}.iso"));

        // Our reader: label, Rock Ridge and Joliet names, modes and bytes.
        let mut r = IsoReader::open(std::fs::File::open(&iso).unwrap()).unwrap();
        assert_eq!(r.volume_id, "cidata");
        assert!(r.rock_ridge);
        let entries = r.entries().unwrap();
        let mut names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        names.sort();
        assert_eq!(entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), names, "{node}");
        for (name, content) in files {
            let e = entries.iter().find(|e| e.path == *name).unwrap();
            assert_eq!(e.joliet_name.as_deref(), Some(*name));
            assert_eq!(r.read(e).unwrap(), content.as_bytes(), "{node}/{name} (own reader)");
        }

        // xorriso: lists exactly these files and extracts the same bytes.
        let listed = stdout(tool("xorriso").args(["-indev"]).arg(&iso).args(["-find", "/", "-type", "f"]));
        let mut listed: Vec<&str> = listed.lines().map(|l| l.trim_matches('\'').trim_start_matches('/')).collect();
        listed.sort();
        assert_eq!(listed, names, "{node} (xorriso -find)");
        let x = tempfile::tempdir().unwrap();
        stdout(tool("xorriso").args(["-osirrox", "on", "-indev"]).arg(&iso).args(["-extract", "/"]).arg(x.path().join("x")));
        for (name, content) in files {
            assert_eq!(std::fs::read(x.path().join("x").join(name)).unwrap(), content.as_bytes(), "{node}/{name} (xorriso)");
        }

        // isoinfo: the label, Joliet and Rock Ridge, and the bytes through Rock Ridge names.
        let info = stdout(tool("isoinfo").args(["-d", "-i"]).arg(&iso));
        assert!(info.contains("Volume id: cidata"), "{info}");
        assert!(info.contains("Joliet with UCS level 3 found"), "{info}");
        assert!(info.contains("Rock Ridge signatures version 1 found"), "{info}");
        for (name, content) in files {
            let got = stdout(tool("isoinfo").args(["-R", "-i"]).arg(&iso).args(["-x", &format!("/{name}")]));
            assert_eq!(got, *content, "{node}/{name} (isoinfo)");
        }

        // cloud-init's own schema check of the user-data.
        let ud = x.path().join("x/user-data");
        let v = stdout(tool("cloud-init").args(["schema", "--config-file"]).arg(&ud));
        assert!(v.contains("Valid cloud-config"), "{node}: {v}");
    }
}

#[test]
fn network_config_is_understood_by_cloud_init() {
    let seeds = rendered();
    let (_, nc) = seeds["w2"].iter().find(|(n, _)| *n == "network-config").expect("w2 has static network settings");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nc"), nc).unwrap();
    stdout(
        tool("cloud-init")
            .args(["devel", "net-convert", "-k", "yaml", "-D", "debian", "-O", "eni", "-p"])
            .arg(dir.path().join("nc"))
            .arg("-d")
            .arg(dir.path().join("out")),
    );
    let eni = std::fs::read_to_string(dir.path().join("out/etc/network/interfaces.d/50-cloud-init")).unwrap();
    assert!(
        eni.contains("iface eno1 inet static") && eni.contains("address 192.0.2.22/24") && eni.contains("default gw 192.0.2.1"),
        "{eni}"
    );
}

#[test]
fn two_runs_give_byte_identical_seeds_with_distinct_uuids() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ra = write_seeds(a.path());
    write_seeds(b.path());
    let mut uuids = Vec::new();
    for e in std::fs::read_dir(a.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(b.path().join(name)).unwrap(), "{name:?} differs between runs");
        let uuid = stdout(tool("blkid").args(["-p", "-o", "value", "-s", "UUID"]).arg(&p)).trim().to_string();
        uuids.push(uuid);
    }
    let reported: Vec<String> = ra.as_array().unwrap().iter().map(|r| r["uuid"].as_str().unwrap().to_string()).collect();
    let mut sorted = uuids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), uuids.len(), "two seeds share a UUID: {uuids:?}");
    for u in &uuids {
        assert!(reported.contains(u), "blkid's UUID {u} is not the one liveboot reported: {reported:?}");
    }
}

#[test]
fn a_second_run_reports_unchanged_and_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    write_seeds(dir.path());
    let again = write_seeds(dir.path());
    assert!(again.as_array().unwrap().iter().all(|r| r["changed"] == false));
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n.starts_with("cidata-") && n.ends_with(".iso")), "{names:?}");
    // Readable by the web server that publishes them, not only by their owner.
    use std::os::unix::fs::PermissionsExt;
    for n in &names {
        assert_eq!(std::fs::metadata(dir.path().join(n)).unwrap().permissions().mode() & 0o777, 0o644, "{n}");
    }
}

#[test]
fn an_unknown_node_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inv = root().join("examples/inventory.yaml");
    let o =
        liveboot(&["seed", "--inventory", &inv.to_string_lossy(), "--node", "w1", "--node", "w7", "--out", &dir.path().to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("no node 'w7'") && err.contains("the nodes are: w1, w2, w3"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed run wrote files");
}

#[test]
fn vfat_seeds_pass_fsck_and_read_back_through_mtools() {
    let dir = tempfile::tempdir().unwrap();
    let inv = root().join("examples/inventory.yaml");
    let o = liveboot(&[
        "seed",
        "--inventory",
        &inv.to_string_lossy(),
        "--all",
        "--format",
        "vfat",
        "--out",
        &dir.path().to_string_lossy(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut uuids = Vec::new();
    for (node, files) in rendered() {
        let img = dir.path().join(format!("cidata-{node}.img"));
        stdout(tool("fsck.fat").arg("-n").arg(&img));
        let label = stdout(tool("blkid").args(["-p", "-o", "value", "-s", "LABEL"]).arg(&img));
        assert_eq!(label.trim(), "CIDATA");
        let uuid = stdout(tool("blkid").args(["-p", "-o", "value", "-s", "UUID"]).arg(&img)).trim().to_string();
        assert!(report.as_array().unwrap().iter().any(|r| r["node"] == node.as_str() && r["uuid"] == uuid.as_str()), "{uuid} not reported");
        uuids.push(uuid);
        let listing = stdout(tool("mdir").args(["-b", "-i"]).arg(&img).arg("::"));
        let mut names: Vec<&str> = listing.lines().map(|l| l.trim_start_matches("::/")).collect();
        names.sort();
        let mut want: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        want.sort();
        assert_eq!(names, want, "{node}: long names");
        for (name, content) in &files {
            let got = stdout(tool("mtype").args(["-i"]).arg(&img).arg(format!("::/{name}")));
            assert_eq!(got, *content, "{node}/{name} (mtype)");
        }
    }
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 3, "vfat seeds share a serial");
}
