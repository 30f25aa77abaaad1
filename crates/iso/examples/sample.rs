//! Writes a sample seed-like image to the path given, for poking at with other tools.
use liveboot_iso::{write_iso, IsoFile, IsoOptions, VolumeDate};

fn main() {
    let out = std::env::args().nth(1).expect("usage: sample OUT.iso");
    let files = vec![
        IsoFile { name: "user-data".into(), data: b"#cloud-config\nhostname: x\n".to_vec(), mode: 0o644 },
        IsoFile { name: "meta-data".into(), data: b"instance-id: iid-1\n".to_vec(), mode: 0o644 },
    ];
    let img = write_iso(
        &files,
        &IsoOptions { volume_id: "cidata".into(), date: VolumeDate { unix: 1_700_000_000, centis: 42 }, application: "liveboot".into() },
    )
    .unwrap();
    std::fs::write(out, img).unwrap();
}
