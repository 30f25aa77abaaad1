//! Files an inventory names: key files are read bounded (a FIFO or a device is an error at once,
//! never a read that blocks forever or fills memory), and key files and vendor data must lie in
//! the inventory's folder, links followed, unless the user allows otherwise
//! (LIVEBOOT_ALLOW_OUTSIDE_PROJECT=1): an inventory from elsewhere must not put /etc/shadow into
//! a seed.

fn inventory(dir: &std::path::Path, name: &str, key_file: &str, vendor_data: Option<&str>) -> String {
    let inv = dir.join(format!("{name}.yaml"));
    let vd = vendor_data.map(|v| format!("    vendor_data: {v}\n")).unwrap_or_default();
    std::fs::write(
        &inv,
        format!("publish:\n  base_url: http://192.0.2.10/x\nnodes:\n  w1:\n{vd}    bmc: {{address: 192.0.2.1, protocol: redfish, username: root, password_env: PW}}\nslices:\n  s1:\n    ssh_key_files: [{key_file}]\n    nodes: [w1]\n"),
    )
    .unwrap();
    match liveboot_inventory::load(&inv) {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn key_files_and_vendor_data_are_read_bounded_and_from_the_inventorys_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("keys.pub");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = inventory(d, "fifo", &fifo.display().to_string(), None);
    assert!(e.contains("not a regular file"), "{e}");

    let good = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGldy3/auhiwTtw13k3y0JgINAiDdmUfsTI8goR+3LQw alice@lab\n";
    std::fs::write(d.join("alice.pub"), good).unwrap();
    assert_eq!(inventory(d, "good", "alice.pub", None), "ok");
    // Outside the folder, directly or through a link inside it.
    std::os::unix::fs::symlink("/etc/passwd", d.join("innocent.pub")).unwrap();
    for (name, key, vd, what) in [
        ("zero", "/dev/zero", None, "key file /dev/zero lies outside"),
        ("link", "innocent.pub", None, "key file /etc/passwd lies outside"),
        ("vendor", "alice.pub", Some("/etc/passwd"), "vendor-data file /etc/passwd lies outside"),
        ("vendor-up", "alice.pub", Some("../../../../../../etc/passwd"), "vendor-data file /etc/passwd lies outside"),
    ] {
        let e = inventory(d, name, key, vd);
        assert!(e.contains(what) && e.contains("LIVEBOOT_ALLOW_OUTSIDE_PROJECT=1"), "{name}: {e}");
    }
    // Allowed on purpose, the other checks still hold: /dev/zero is no regular file.
    std::env::set_var("LIVEBOOT_ALLOW_OUTSIDE_PROJECT", "1");
    let e = inventory(d, "zero-allowed", "/dev/zero", None);
    std::env::remove_var("LIVEBOOT_ALLOW_OUTSIDE_PROJECT");
    assert!(e.contains("not a regular file"), "{e}");
}
