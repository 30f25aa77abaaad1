//! `liveboot serve` under attack, as a separate process: 300 slow clients holding connections
//! open mid-request, and clients sending endless lines, while a normal client downloads an image
//! with Range requests. The normal client must be served every time, and the server's memory
//! must stay bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use liveboot_runner::local::{self, Background};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches(" kB").trim().parse().unwrap()
}

/// One Range GET on a fresh connection; the status line and the body.
fn range_get(port: u16, name: &str, from: u64, len: u64) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET /{name} HTTP/1.1\r\nHost: x\r\nRange: bytes={from}-{}\r\nConnection: close\r\n\r\n", from + len - 1);
    s.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    (String::from_utf8_lossy(&all[..all.iter().position(|&b| b == b'\r').unwrap()]).into_owned(), all[split..].to_vec())
}

#[test]
fn slow_and_endless_clients_neither_lock_out_a_download_nor_grow_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(dir.path().join("live.iso"), &data).unwrap();
    let port = local::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", Some(&mut child), None).unwrap();
    let pid = child.id();
    let _server = Background(child);
    let before = rss_kib(pid);

    // 300 slow clients: each sends half a request line and then nothing.
    let slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _ = s.write_all(b"GET /live.iso HT");
            s
        })
        .collect();
    // 8 clients sending endless lines at the same time.
    let endless: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return };
                let chunk = vec![b'A'; 64 << 10];
                for _ in 0..64 {
                    if s.write_all(&chunk).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    // The normal client reads the whole image by 1 MiB ranges, each on a new connection.
    for i in 0..8u64 {
        let (status, body) = range_get(port, "live.iso", i << 20, 1 << 20);
        assert_eq!(status, "HTTP/1.1 206 Partial Content", "range {i} while under attack");
        assert!(body == data[(i << 20) as usize..((i + 1) << 20) as usize], "range {i}: wrong bytes");
    }
    for t in endless {
        t.join().unwrap();
    }
    let after = rss_kib(pid);
    drop(slow);
    // 300 threads' stacks and 16 KiB heads each are a few MiB; 300 unbounded lines would be GiB.
    assert!(after < before + 64 * 1024, "the server grew from {before} KiB to {after} KiB");
    println!("serve RSS: {before} KiB before, {after} KiB under attack");
}
