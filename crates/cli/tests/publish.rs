//! `liveboot publish` and `liveboot serve`, read by qemu-img: a client that insists on Range
//! requests, as BMCs do.

mod common;
use common::*;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_liveboot"))
            .args(["serve", &pubdir.to_string_lossy(), "--bind", &bind])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(&bind).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "liveboot serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = stdout(tool("qemu-img").args(["info", "--output=json"]).arg(format!("http://{bind}/{name}")));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["virtual-size"].as_u64(), Some(std::fs::metadata(&iso).unwrap().len()), "{info}");
    assert_eq!(info["format"], "raw");
}
