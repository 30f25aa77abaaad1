//! `liveboot publish` and `liveboot serve`, read by qemu-img: a client that insists on Range
//! requests, as BMCs do.

mod common;
use common::*;

use liveboot_runner::local::{self, Background as Killed};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn qemu_img_reads_a_published_iso_through_liveboot_serve() {
    let dir = tempfile::tempdir().unwrap();
    // An ISO to publish: a seed image is a real ISO 9660 file.
    let inv = root().join("examples/inventory.yaml");
    assert!(liveboot(&["seed", "--inventory", &inv.to_string_lossy(), "--node", "w1", "--out", &dir.path().to_string_lossy()])
        .status
        .success());
    let iso = dir.path().join("cidata-w1.iso");
    let pubdir = dir.path().join("pub");
    let o = liveboot(&["publish", &iso.to_string_lossy(), "--dir", &pubdir.to_string_lossy(), "--base-url", "http://x/y/", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let name = v[0]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("cidata-w1-") && name.ends_with(".iso") && !name.contains(['?', '=']), "{name}");
    assert_eq!(v[0]["url"], format!("http://x/y/{name}"));
    assert_eq!(std::fs::read(pubdir.join(&name)).unwrap(), std::fs::read(&iso).unwrap());

    let port = local::free_port().unwrap();
    let bind = format!("127.0.0.1:{port}");
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_liveboot"))
            .args(["serve", &pubdir.to_string_lossy(), "--bind", &bind])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", None, None).unwrap();
    let info = stdout(tool("qemu-img").args(["info", "--output=json"]).arg(format!("http://{bind}/{name}")));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["virtual-size"].as_u64(), Some(std::fs::metadata(&iso).unwrap().len()), "{info}");
    assert_eq!(info["format"], "raw");
}
