//! Key files are read bounded: a FIFO or a device named as a key file is an error at once,
//! never a read that blocks forever or fills memory.

#[test]
fn a_fifo_or_a_device_as_key_file_is_refused_without_reading_it() {
    let dir = std::env::temp_dir().join(format!("lb-keyfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("keys.pub");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (name, file) in [("fifo", fifo.display().to_string()), ("zero", "/dev/zero".to_string())] {
        let inv = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &inv,
            format!("publish:\n  base_url: http://192.0.2.10/x\nnodes:\n  w1:\n    bmc: {{address: 192.0.2.1, protocol: redfish, username: root, password_env: PW}}\nslices:\n  s1:\n    ssh_key_files: [{file}]\n    nodes: [w1]\n"),
        )
        .unwrap();
        let e = liveboot_inventory::load(&inv).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{name}: {e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
