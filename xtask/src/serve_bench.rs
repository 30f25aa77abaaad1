//! `cargo xtask bench serve`: `liveboot serve` against nginx serving the same file on loopback,
//! read the way BMCs read a mounted ISO: many concurrent readers, each sending Range requests
//! for chunks at random offsets over a kept-alive connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use liveboot_runner::local::{self, Background as Killed};

fn free_port() -> Result<u16> {
    Ok(local::free_port()?)
}

fn wait_listening(port: u16, what: &str) -> Result<()> {
    local::wait_listening(port, Duration::from_secs(10), what, None, None).map_err(anyhow::Error::msg)
}

/// What all readers share: when to stop, and what they read.
struct Counters {
    stop: AtomicBool,
    bytes: AtomicU64,
    reqs: AtomicU64,
}

/// One reader: Range GETs of `chunk` bytes at pseudo-random offsets until `stop`.
fn reader(port: u16, name: &str, size: u64, chunk: u64, seed: u64, c: &Counters) -> Result<()> {
    let Counters { stop, bytes, reqs } = c;
    let conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_nodelay(true)?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::with_capacity(1 << 16, conn);
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        // xorshift: the same offsets for both servers.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let start = (x % (size / chunk)) * chunk;
        write!(w, "GET /{name} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes={start}-{}\r\n\r\n", start + chunk - 1)?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 206") {
            bail!("expected 206, got {line:?}");
        }
        let mut len = 0u64;
        loop {
            line.clear();
            r.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse()?;
            }
        }
        if len != chunk {
            bail!("expected {chunk} bytes, got Content-Length {len}");
        }
        let mut left = len;
        while left > 0 {
            let n = r.read(&mut buf[..left.min(1 << 16) as usize])?;
            if n == 0 {
                bail!("connection closed mid-body");
            }
            left -= n as u64;
        }
        bytes.fetch_add(len, Ordering::Relaxed);
        reqs.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// MiB/s and requests/s of `readers` concurrent readers for `secs`.
fn load(port: u16, name: &str, size: u64, chunk: u64, readers: usize, secs: u64) -> Result<(f64, f64)> {
    let c = Counters { stop: AtomicBool::new(false), bytes: AtomicU64::new(0), reqs: AtomicU64::new(0) };
    let start = Instant::now();
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..readers)
            .map(|i| {
                let c = &c;
                s.spawn(move || reader(port, name, size, chunk, 0x9E37_79B9_7F4A_7C15 ^ (i as u64 * 7919), c))
            })
            .collect();
        std::thread::sleep(Duration::from_secs(secs));
        c.stop.store(true, Ordering::SeqCst);
        handles.into_iter().filter_map(|h| h.join().ok().and_then(|r| r.err()).map(|e| e.to_string())).collect()
    });
    if !errors.is_empty() {
        bail!("{} readers failed, first: {}", errors.len(), errors[0]);
    }
    let t = start.elapsed().as_secs_f64();
    Ok((c.bytes.load(Ordering::SeqCst) as f64 / t / (1u64 << 20) as f64, c.reqs.load(Ordering::SeqCst) as f64 / t))
}

fn nginx(dir: &Path, port: u16) -> Result<Killed> {
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes auto;\npid {pid};\nerror_log {err} warn;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n  client_body_temp_path {tmp};\n  proxy_temp_path {tmp};\n  fastcgi_temp_path {tmp};\n  uwsgi_temp_path {tmp};\n  scgi_temp_path {tmp};\n  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n  }}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            err = dir.join("nginx.err").display(),
            tmp = dir.display(),
            root = dir.join("www").display(),
        ),
    )?;
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx (cargo xtask deps installs nginx-light)")?;
    let k = Killed(child);
    wait_listening(port, "nginx")?;
    Ok(k)
}

/// Runs the benchmark and prints the table.
pub fn bench(size_mib: u64, chunk_kib: u64, readers: usize, secs: u64, rounds: usize) -> Result<()> {
    let bin = crate::release_liveboot()?;
    let dir = tempfile::tempdir()?;
    let www = dir.path().join("www");
    std::fs::create_dir(&www)?;
    let name = "image.iso";
    let size = size_mib << 20;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(www.join(name))?);
        let block: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        for _ in 0..size_mib {
            f.write_all(&block)?;
        }
    }
    let lport = free_port()?;
    let _liveboot = Killed(
        Command::new(&bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{lport}")])
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_listening(lport, "liveboot serve")?;
    let nport = free_port()?;
    let _nginx = nginx(dir.path(), nport)?;
    let chunk = chunk_kib << 10;
    // Warm the page cache and both servers.
    load(lport, name, size, chunk, readers, 1)?;
    load(nport, name, size, chunk, readers, 1)?;
    let mut l = Vec::new();
    let mut n = Vec::new();
    for round in 1..=rounds {
        l.push(load(lport, name, size, chunk, readers, secs)?);
        n.push(load(nport, name, size, chunk, readers, secs)?);
        eprintln!("round {round}/{rounds}: liveboot {:.0} MiB/s, nginx {:.0} MiB/s", l[round - 1].0, n[round - 1].0);
    }
    let median = |v: &mut Vec<(f64, f64)>| {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v[v.len() / 2]
    };
    let (lm, nm) = (median(&mut l), median(&mut n));
    println!(
        "{readers} concurrent readers, Range requests of {chunk_kib} KiB at random offsets of a {size_mib} MiB file, loopback, {secs} s x {rounds} rounds (median)"
    );
    println!("{:<16} {:>10} {:>12} {:>12}", "server", "MiB/s", "requests/s", "vs nginx");
    println!("{:<16} {:>10.0} {:>12.0} {:>12.2}", "liveboot serve", lm.0, lm.1, lm.0 / nm.0);
    println!("{:<16} {:>10.0} {:>12.0} {:>12.2}", "nginx", nm.0, nm.1, 1.0);
    println!("goal: at least 0.80 of nginx -> {}", if lm.0 / nm.0 >= 0.8 { "met" } else { "NOT met" });
    Ok(())
}
