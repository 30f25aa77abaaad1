//! Asking the network: is SSH up, does a host answer ping, does an image URL answer ranges.

use std::io::{BufRead, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use liveboot_runner::{poll, Cmd, Retry, RunError, Runner};

/// The SSH banner `addr` (host:port) sends, or why there is none.
pub fn ssh_banner(addr: &str) -> Result<String, String> {
    let sock = addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?.next().ok_or(format!("{addr}: no address"))?;
    let s = TcpStream::connect_timeout(&sock, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut line = String::new();
    // RFC 4253 banners are at most 255 bytes: read no more, whatever the other side sends.
    BufReader::new(std::io::Read::take(s, 255)).read_line(&mut line).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "connected, but no banner within 5 s".to_string(),
        _ => e.to_string(),
    })?;
    let line = line.trim().to_string();
    if line.starts_with("SSH-") {
        Ok(line)
    } else if line.is_empty() {
        Err("connection closed without a banner".into())
    } else {
        Err(format!("not SSH: {line:.40}"))
    }
}

/// Waits until `addr` answers with an SSH banner; returns the banner.
pub fn wait_ssh(addr: &str, within: Duration) -> Result<String, String> {
    poll(within, Duration::from_secs(2), || ssh_banner(addr).map_err(Retry::Again)).map_err(|r| match r {
        Retry::Again(last) | Retry::Stop(last) => format!("{addr} gave no SSH banner within {} s (last: {last})", within.as_secs()),
    })
}

/// Waits until `addr` stops answering with an SSH banner; false when it never did in `within`.
pub fn wait_ssh_gone(addr: &str, within: Duration) -> bool {
    poll(within, Duration::from_secs(1), || match ssh_banner(addr) {
        Ok(_) => Err(Retry::Again("still answers".to_string())),
        Err(_) => Ok(()),
    })
    .is_ok()
}

/// "answers (banner)" or "no (why)".
pub fn ssh_state(addr: &str) -> String {
    match ssh_banner(addr) {
        Ok(b) => format!("answers ({b})"),
        Err(e) => format!("no ({e})"),
    }
}

/// One ping: "answers", "no answer" or "ping not installed".
pub fn ping(host: &str) -> String {
    let cmd = Cmd::new("ping").args(["-c", "1", "-W", "1", host]).timeout(Duration::from_secs(3));
    match Runner::new().run(&cmd) {
        Ok(_) => "answers".into(),
        Err(RunError::NotFound { .. }) => "ping not installed".into(),
        Err(_) => "no answer".into(),
    }
}

/// What an image URL said to a HEAD and a one-byte Range request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    /// Its Content-Length, when given.
    pub bytes: Option<u64>,
}

/// The image URL answers a HEAD and a one-byte Range request (BMCs read images by ranges).
pub fn check_range_url(url: &str) -> Result<UrlCheck, String> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let r = agent.head(url).call().map_err(|e| format!("the image URL does not answer: {url}: {e}"))?;
    let bytes = r.header("Content-Length").and_then(|l| l.parse().ok());
    let r = agent.get(url).set("Range", "bytes=0-0").call().map_err(|e| format!("{url}: a range request failed: {e}"))?;
    if r.status() != 206 {
        return Err(format!(
            "{url} answers ranges with HTTP {} instead of 206: BMCs read images by ranges; serve it with `liveboot serve` or a server that supports Range",
            r.status()
        ));
    }
    Ok(UrlCheck { bytes })
}
