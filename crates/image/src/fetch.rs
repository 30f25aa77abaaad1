//! Downloads kept in the cache by their SHA-256: an upstream ISO is fetched once, verified
//! against the recipe's pinned sum or the release's `SHA256SUMS` (signed, when the recipe names
//! a keyring), and linked into every stage that needs it.
//!
//! Cache layout (`<cache>/downloads/`):
//! - `sha256-<hex>`: a verified file, named by its content;
//! - `partial/<url-hash>-<name>`: a download under way or interrupted, with `.validator` beside
//!   it (the server's ETag or Last-Modified), so that the next attempt asks only for the rest
//!   (`Range` + `If-Range`) and starts over when the file changed on the server.
//!
//! Nothing reaches a final name unverified: a wrong sum removes the partial file and fails in
//! one line naming both sums and the URL.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use liveboot_digest::Hasher;
use liveboot_runner::{Cmd, Runner};

/// How long a server may take to accept a connection.
const CONNECT: Duration = Duration::from_secs(5);
/// How long a server may stay silent in the middle of an answer.
const SILENT: Duration = Duration::from_secs(30);
/// Attempts at one file within one build when the connection breaks midway.
const ATTEMPTS: u32 = 4;

/// What to download and how to know it is right.
pub(crate) struct Download<'a> {
    pub(crate) url: &'a str,
    /// The SHA-256 the recipe pins.
    pub(crate) sha256: Option<&'a str>,
    /// A `SHA256SUMS` file listing the URL's file name.
    pub(crate) sums: Option<&'a str>,
    /// A GPG keyring that must have signed `SHA256SUMS` (`<sums>.gpg`, detached).
    pub(crate) keyring: Option<&'a Path>,
    /// What to tell the user when the server cannot be reached.
    pub(crate) help: &'a str,
}

/// Puts the verified file at `dest` (a hard link to the cache's copy).
pub(crate) fn fetch(d: &Download, cache: &Path, dest: &Path, runner: &Runner, scratch: &Path) -> Result<(), String> {
    let name = file_name(d.url);
    let want = match (d.sha256, d.sums) {
        (Some(h), _) => Expected { sha256: h.to_ascii_lowercase(), from: "the recipe".into() },
        (None, Some(sums)) => expected_from_sums(sums, &name, d, runner, scratch)?,
        (None, None) => return Err(format!("{}: nothing to verify it against (no sha256, no sha256sums)", d.url)),
    };
    let dir = cache.join("downloads");
    let done = dir.join(format!("sha256-{}", want.sha256));
    if !done.is_file() {
        std::fs::create_dir_all(dir.join("partial")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let partial = dir.join("partial").join(format!("{}-{name}", &liveboot_digest::sha256_hex(d.url.as_bytes())[..16]));
        let got = download(d, &partial, runner)?;
        if got != want.sha256 {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(validator_path(&partial));
            return Err(format!("{name}: SHA-256 is {got}, {} says {} ({}); nothing was kept", want.from, want.sha256, d.url));
        }
        std::fs::rename(&partial, &done).map_err(|e| format!("{}: {e}", done.display()))?;
        let _ = std::fs::remove_file(validator_path(&partial));
        runner.note(&format!("fetched {} (sha256 {})", d.url, want.sha256));
    } else {
        runner.note(&format!("{} is in the cache (sha256 {})", d.url, want.sha256));
    }
    let _ = std::fs::remove_file(dest);
    std::fs::hard_link(&done, dest).or_else(|_| std::fs::copy(&done, dest).map(|_| ())).map_err(|e| format!("{}: {e}", dest.display()))
}

struct Expected {
    sha256: String,
    from: String,
}

/// The last path segment of a URL, safe as a file name.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("download");
    last.chars().map(|c| if c.is_ascii_alphanumeric() || "._-+".contains(c) { c } else { '_' }).collect()
}

fn validator_path(partial: &Path) -> PathBuf {
    let mut p = partial.as_os_str().to_owned();
    p.push(".validator");
    PathBuf::from(p)
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout_connect(CONNECT).timeout_read(SILENT).redirects(5).user_agent("liveboot").build()
}

/// The reason a request failed, in a few words, with the help the recipe gives.
fn unreachable(url: &str, e: ureq::Error, help: &str) -> String {
    match e {
        ureq::Error::Status(code, r) => format!("{url} answered {code} {}\n  help: {help}", r.status_text()),
        ureq::Error::Transport(t) => {
            let cause = std::error::Error::source(&t).map(|s| s.to_string());
            let why = t.message().map(str::to_string).or(cause).unwrap_or_else(|| t.kind().to_string());
            format!("{url} cannot be reached: {why}\n  help: {help}")
        }
    }
}

/// A small file (SHA256SUMS, its signature) over http(s) or from `file://`.
fn small(url: &str, help: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = url.strip_prefix("file://") {
        return std::fs::read(path).map_err(|e| format!("{path}: {e}\n  help: {help}"));
    }
    let r = agent().get(url).call().map_err(|e| unreachable(url, e, help))?;
    let mut body = Vec::new();
    r.into_reader().take(16 << 20).read_to_end(&mut body).map_err(|e| format!("{url}: {e}"))?;
    Ok(body)
}

fn expected_from_sums(sums: &str, name: &str, d: &Download, runner: &Runner, scratch: &Path) -> Result<Expected, String> {
    let body = small(sums, d.help)?;
    if let Some(keyring) = d.keyring {
        let sig = small(&format!("{sums}.gpg"), d.help)?;
        std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let (sums_file, sig_file) = (scratch.join("SHA256SUMS"), scratch.join("SHA256SUMS.gpg"));
        std::fs::write(&sums_file, &body).map_err(|e| format!("{}: {e}", sums_file.display()))?;
        std::fs::write(&sig_file, &sig).map_err(|e| format!("{}: {e}", sig_file.display()))?;
        let cmd = Cmd::new("gpgv").arg("--keyring").arg(keyring).arg(&sig_file).arg(&sums_file);
        runner.run(&cmd).map_err(|e| format!("{sums}: the signature {sums}.gpg does not verify with {}: {e}", keyring.display()))?;
    }
    let text = String::from_utf8_lossy(&body);
    sums_entry(&text, name)
        .map(|sha256| Expected { sha256, from: sums.to_string() })
        .ok_or_else(|| format!("{sums} does not list {name}\n  help: check the recipe's url and sha256sums name the same release"))
}

/// The sum a `SHA256SUMS` file gives `name` (`<hex> *name` or `<hex>  name`).
pub(crate) fn sums_entry(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (hex, rest) = line.trim_end().split_once(char::is_whitespace)?;
        let file = rest.trim_start().trim_start_matches('*');
        let file = file.strip_prefix("./").unwrap_or(file);
        (file == name && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
    })
}

/// Downloads to `partial` (resuming what is there when the server still has the same file)
/// and returns its SHA-256.
fn download(d: &Download, partial: &Path, runner: &Runner) -> Result<String, String> {
    if let Some(path) = d.url.strip_prefix("file://") {
        let src = Path::new(path);
        let tmp = partial.with_extension("copy");
        std::fs::copy(src, &tmp).map_err(|e| format!("{path}: {e}\n  help: {}", d.help))?;
        std::fs::rename(&tmp, partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        return liveboot_digest::sha256_file(partial).map_err(|e| format!("{}: {e}", partial.display()));
    }
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if runner.interrupted() {
            return Err("interrupted; the partial download is kept and resumed by the next build".into());
        }
        match attempt_once(d, partial, runner) {
            Ok(Some(sum)) => return Ok(sum),
            Ok(None) => {}
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Broken(e)) => {
                runner.note(&format!("{}: {e}; resuming (attempt {} of {ATTEMPTS})", d.url, attempt + 1));
                last = e;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    Err(format!("{}: the download broke off {ATTEMPTS} times (last: {last}); what arrived is kept and resumed by the next build", d.url))
}

enum Failure {
    /// The server refused or cannot be reached: no point in trying again now.
    Final(String),
    /// The connection broke midway: try again from where it stopped.
    Broken(String),
}

/// One request. `Ok(None)`: it stopped early without an error (try again).
fn attempt_once(d: &Download, partial: &Path, runner: &Runner) -> Result<Option<String>, Failure> {
    let io = |e: std::io::Error| Failure::Final(format!("{}: {e}", partial.display()));
    let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let validator = std::fs::read_to_string(validator_path(partial)).ok().filter(|v| !v.is_empty());
    let mut req = agent().get(d.url);
    let resume = have > 0 && validator.is_some();
    if resume {
        req = req.set("Range", &format!("bytes={have}-")).set("If-Range", validator.as_deref().unwrap_or_default());
    }
    let resp = match req.call() {
        Ok(r) => r,
        // Asked for bytes past the end: what is there may be the whole file.
        Err(ureq::Error::Status(416, _)) if resume => return liveboot_digest::sha256_file(partial).map(Some).map_err(io),
        Err(e @ ureq::Error::Status(..)) => return Err(Failure::Final(unreachable(d.url, e, d.help))),
        Err(e) if have > 0 => return Err(Failure::Broken(unreachable(d.url, e, d.help))),
        Err(e) => return Err(Failure::Final(unreachable(d.url, e, d.help))),
    };
    let (mut hasher, start, mut file) = if resp.status() == 206 && resume {
        let start = content_range_start(resp.header("Content-Range"));
        if start != Some(have) {
            return Err(Failure::Final(format!("{}: asked for bytes from {have}, got {:?}", d.url, resp.header("Content-Range"))));
        }
        runner.note(&format!("{}: resuming at {} MiB", d.url, have >> 20));
        (Hasher::of_file(partial).map_err(io)?, have, OpenOptions::new().append(true).open(partial).map_err(io)?)
    } else {
        let v = resp.header("ETag").filter(|e| !e.starts_with("W/")).or(resp.header("Last-Modified")).unwrap_or("");
        std::fs::write(validator_path(partial), v).map_err(io)?;
        (Hasher::new(), 0, std::fs::File::create(partial).map_err(io)?)
    };
    let total = resp.header("Content-Length").and_then(|l| l.parse::<u64>().ok()).map(|l| l + start);
    let mut reader = resp.into_reader();
    let mut buf = vec![0u8; 1 << 20];
    let (mut done, began, mut shown) = (start, Instant::now(), Instant::now());
    loop {
        if runner.interrupted() {
            let _ = file.sync_data();
            return Err(Failure::Final("interrupted; the partial download is kept and resumed by the next build".into()));
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.sync_data().map_err(io)?;
                return Err(Failure::Broken(format!("broke off after {} MiB: {e}", done >> 20)));
            }
        };
        file.write_all(&buf[..n]).map_err(io)?;
        hasher.update(&buf[..n]);
        done += n as u64;
        if shown.elapsed() >= Duration::from_secs(1) {
            shown = Instant::now();
            runner.status(&progress_line(&file_name(d.url), done, total, start, began.elapsed()));
        }
    }
    file.sync_data().map_err(io)?;
    if total.is_some_and(|t| done < t) {
        return Err(Failure::Broken(format!("the answer ended after {} of {} MiB", done >> 20, total.unwrap_or(0) >> 20)));
    }
    runner.note(&progress_line(&file_name(d.url), done, total, start, began.elapsed()));
    Ok(Some(hasher.finish_hex()))
}

/// `fetch ubuntu.iso 312 / 1900 MiB (16 %), 45.2 MiB/s`.
fn progress_line(name: &str, done: u64, total: Option<u64>, start: u64, elapsed: Duration) -> String {
    let rate = (done - start) as f64 / 1048576.0 / elapsed.as_secs_f64().max(0.001);
    match total {
        Some(t) if t > 0 => format!("fetch {name} {} / {} MiB ({} %), {rate:.1} MiB/s", done >> 20, t >> 20, done * 100 / t),
        _ => format!("fetch {name} {} MiB, {rate:.1} MiB/s", done >> 20),
    }
}

fn content_range_start(h: Option<&str>) -> Option<u64> {
    h?.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_entries_as_sha256sum_writes_them() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let text = format!("{a} *ubuntu-22.04.5-live-server-amd64.iso\n{b}  ubuntu-22.04.5-desktop-amd64.iso\n");
        assert_eq!(sums_entry(&text, "ubuntu-22.04.5-live-server-amd64.iso"), Some(a));
        assert_eq!(sums_entry(&text, "ubuntu-22.04.5-desktop-amd64.iso"), Some("b".repeat(64)));
        assert_eq!(sums_entry(&text, "ubuntu-22.04.5-live-server-amd64.iso.zsync"), None);
        assert_eq!(sums_entry("xyz *a.iso\n", "a.iso"), None);
    }

    #[test]
    fn file_names_from_urls() {
        assert_eq!(
            file_name("https://releases.ubuntu.com/22.04.5/ubuntu-22.04.5-live-server-amd64.iso"),
            "ubuntu-22.04.5-live-server-amd64.iso"
        );
        assert_eq!(file_name("http://h/x/a%20b.iso?x=1"), "a_20b.iso");
        assert_eq!(file_name("http://h/"), "download");
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start(Some("bytes 100-199/200")), Some(100));
        assert_eq!(content_range_start(Some("bytes */200")), None);
        assert_eq!(content_range_start(None), None);
    }
}
