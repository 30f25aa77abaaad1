//! Building an upstream-ISO recipe (u22) from a local "releases" folder: an ISO in the shape of
//! Ubuntu 22.04 (GRUB El Torito, casper) and its SHA256SUMS, served by `liveboot serve`; a
//! download broken off midway and resumed; a wrong checksum; an unreachable release server; a
//! signed SHA256SUMS; `--iso FILE`; a menu rule that no longer matches.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{boot_records, copy_tree, extract_from_iso as extract, root, stdout, tool};
use liveboot_runner::local::{self, Background};

const ISO_NAME: &str = "ubuntu-22.04.5-live-server-amd64.iso";
const RESCUE_ISO: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const MENU: &str = "set timeout=30\n\nloadfont unicode\n\nmenuentry \"Try or Install Ubuntu Server\" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n";

fn liveboot_in(project: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveboot")).arg("-C").arg(project).args(args).output().expect("liveboot runs")
}

/// A release folder holding an ISO in 22.04's shape (GRUB's rescue ISO with casper files and
/// the menu `menu` added) and its SHA256SUMS.
fn release(dir: &Path, menu: &str) -> (PathBuf, String) {
    assert!(Path::new(RESCUE_ISO).is_file(), "{RESCUE_ISO} is missing: run `cargo xtask deps`");
    let rel = dir.join("releases");
    let parts = dir.join("parts");
    std::fs::create_dir_all(parts.join("casper")).unwrap();
    std::fs::create_dir_all(&rel).unwrap();
    // Big enough that a download is many reads (and can be cut in the middle).
    let kernel: Vec<u8> = (0..6u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(parts.join("casper/vmlinuz"), kernel).unwrap();
    std::fs::write(parts.join("casper/initrd"), "initrd").unwrap();
    std::fs::write(parts.join("grub.cfg"), menu).unwrap();
    let iso = rel.join(ISO_NAME);
    let out = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .args(["remaster", RESCUE_ISO])
        .arg(&iso)
        .arg("--add")
        .arg(format!("{}:/casper", parts.join("casper").display()))
        .arg("--add")
        .arg(format!("{}:/boot/grub/grub.cfg", parts.join("grub.cfg").display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sum = liveboot_digest::sha256_file(&iso).unwrap();
    std::fs::write(rel.join("SHA256SUMS"), format!("{} *{ISO_NAME}\n{} *other.iso\n", sum, "0".repeat(64))).unwrap();
    (rel, sum)
}

fn serve(dir: &Path) -> (Background, String) {
    let port = local::free_port().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_liveboot"))
        .args(["serve"])
        .arg(dir)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut bg = Background(child);
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", Some(&mut bg.0), None).unwrap();
    (bg, format!("http://127.0.0.1:{port}/"))
}

fn build(project: &Path, work: &Path, extra: &[&str]) -> Output {
    let cache = work.join("cache");
    let out = work.join("out");
    let mut args = vec!["build", "u22", "--cache", cache.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(extra);
    liveboot_in(project, &args)
}

/// The boot records but the volume ID (the recipe's label replaces upstream's).
fn boot_setup(iso: &Path) -> Vec<String> {
    boot_records(iso).into_iter().filter(|l| !l.starts_with("-V ")).collect()
}

fn cached_downloads(work: &Path) -> Vec<String> {
    let dir = work.join("cache/downloads");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != "partial").collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn u22_builds_from_a_local_release_folder_and_keeps_its_boot_records() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, sum) = release(dir.path(), MENU);
    let (_server, url) = serve(&rel);
    let out = build(&root(), dir.path(), &["--mirror", &url, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let iso = dir.path().join("out/u22/u22.iso");
    // The boot setup is the upstream one (the volume ID is the recipe's label).
    assert_eq!(boot_setup(&rel.join(ISO_NAME)), boot_setup(&iso));
    let menu = extract(&iso, "/boot/grub/grub.cfg");
    assert!(menu.contains("\tlinux\t/casper/vmlinuz  ds=nocloud console=tty0 console=ttyS0,115200n8 ---\n"), "{menu}");
    assert_eq!(cached_downloads(dir.path()), [format!("sha256-{sum}")]);
    // A second build reuses everything: nothing is downloaded again.
    drop(_server);
    let again = build(&root(), dir.path(), &["--mirror", &url, "--json"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(report["stages"].as_array().unwrap().iter().all(|s| s["ran"] == false), "{report}");
}

#[test]
fn a_wrong_checksum_is_one_line_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, sum) = release(dir.path(), MENU);
    let wrong = "ab".repeat(32);
    std::fs::write(rel.join("SHA256SUMS"), format!("{wrong}  {ISO_NAME}\n")).unwrap();
    let (_server, url) = serve(&rel);
    let out = build(&root(), dir.path(), &["--mirror", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find(|l| l.contains("SHA-256 is")).unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(&format!("{ISO_NAME}: SHA-256 is {sum}, {url}SHA256SUMS says {wrong} ({url}{ISO_NAME}); nothing was kept")),
        "{line}"
    );
    assert!(!dir.path().join("out/u22").exists(), "nothing published");
    assert_eq!(cached_downloads(dir.path()), Vec::<String>::new());
    let partial: Vec<_> = std::fs::read_dir(dir.path().join("cache/downloads/partial")).unwrap().collect();
    assert!(partial.is_empty(), "the bad download is removed: {partial:?}");
    let stages: Vec<_> = std::fs::read_dir(dir.path().join("cache/stages")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(stages.is_empty(), "no stage was kept: {stages:?}");
}

#[test]
fn an_unreachable_release_server_fails_in_seconds_saying_what_to_do() {
    // The real release servers: not reachable from the machines this runs on (no route, or no DNS).
    for (recipe, sums) in [
        ("u18", "https://old-releases.ubuntu.com/releases/18.04.6/SHA256SUMS"),
        ("u20", "https://releases.ubuntu.com/20.04.6/SHA256SUMS"),
        ("u22", "https://releases.ubuntu.com/22.04.5/SHA256SUMS"),
        ("u24", "https://releases.ubuntu.com/24.04.3/SHA256SUMS"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (cache, out) = (dir.path().join("cache"), dir.path().join("out"));
        let started = Instant::now();
        let o = liveboot_in(&root(), &["build", recipe, "--cache", cache.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let took = started.elapsed();
        assert_eq!(o.status.code(), Some(1), "{recipe}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{sums} cannot be reached")), "{recipe}: {err}");
        assert!(err.contains("help: download the ISO and the release's SHA256SUMS elsewhere and pass --iso FILE"), "{err}");
        assert!(took < Duration::from_secs(12), "{recipe} took {took:?}");
        assert!(!out.join(recipe).exists());
    }
    // A closed port on this machine: refused at once.
    let dir = tempfile::tempdir().unwrap();
    let port = local::free_port().unwrap();
    let out = build(&root(), dir.path(), &["--mirror", &format!("http://127.0.0.1:{port}/r/")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("http://127.0.0.1:{port}/r/SHA256SUMS cannot be reached")), "{err}");
}

#[test]
fn a_local_copy_is_verified_against_the_sums_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, _) = release(dir.path(), MENU);
    let iso = rel.join(ISO_NAME);
    let out = build(&root(), dir.path(), &["--iso", iso.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("out/u22/u22.iso").is_file());
    // Without SHA256SUMS beside it (and no sum in the recipe), nothing is built.
    std::fs::remove_file(rel.join("SHA256SUMS")).unwrap();
    let out = build(&root(), dir.path(), &["--iso", iso.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing to verify it against: no SHA256SUMS beside it, and the recipe pins no sha256"), "{err}");
}

#[test]
fn a_menu_rule_that_no_longer_matches_shows_the_kernel_lines() {
    let dir = tempfile::tempdir().unwrap();
    // Upstream dropped the `---` the rule looks for.
    let (rel, _) = release(dir.path(), &MENU.replace("  ---", " quiet"));
    let (_server, url) = serve(&rel);
    let out = build(&root(), dir.path(), &["--mirror", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("boot/grub/grub.cfg: \" ---\" found 0 time(s), at least 1 expected; its kernel command lines:"), "{err}");
    assert!(err.contains("boot/grub/grub.cfg:7: \tlinux\t/casper/vmlinuz quiet"), "{err}");
    assert!(err.contains("help: upstream changed its menu: adjust source.upstream_iso.patches[0] in recipes/u22.yaml"), "{err}");
    assert!(!dir.path().join("out/u22").exists());
}

/// A web server that breaks the first download of the ISO off halfway (the connection
/// closes), then honours Range and If-Range; it records what it was asked.
struct Flaky {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

fn flaky(dir: PathBuf) -> Flaky {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        let mut broke = false;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (path, range, if_range) = read_request(&conn);
            log.lock().unwrap().push(format!("{path} range={}", range.clone().unwrap_or_default()));
            let Ok(body) = std::fs::read(dir.join(path.trim_start_matches('/'))) else {
                let _ = (&conn).write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            };
            let etag = "\"v1\"";
            let start = match (&range, &if_range) {
                (Some(r), Some(v)) if v == etag => r.trim_start_matches("bytes=").trim_end_matches('-').parse::<usize>().ok(),
                _ => None,
            };
            let mut w = &conn;
            match start {
                Some(s) => {
                    let head = format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {s}-{}/{}\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
                        body.len() - s,
                        body.len() - 1,
                        body.len()
                    );
                    let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&body[s..]));
                }
                None => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nConnection: close\r\n\r\n", body.len());
                    let cut = path.ends_with(".iso") && !broke;
                    let end = if cut { body.len() / 2 } else { body.len() };
                    broke |= cut;
                    let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&body[..end]));
                }
            }
            // Close our side, then read what the client still sends (closing with unread bytes
            // would reset the connection and lose what was written).
            let _ = conn.shutdown(std::net::Shutdown::Write);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = std::io::copy(&mut &conn, &mut std::io::sink());
        }
    });
    Flaky { port, requests }
}

fn read_request(conn: &TcpStream) -> (String, Option<String>, Option<String>) {
    let mut r = BufReader::new(conn);
    let mut first = String::new();
    r.read_line(&mut first).unwrap_or_default();
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut range, mut if_range) = (None, None);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((&line, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(v.trim().to_string()),
            "if-range" => if_range = Some(v.trim().to_string()),
            _ => {}
        }
    }
    (path, range, if_range)
}

#[test]
fn a_download_broken_off_midway_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, sum) = release(dir.path(), MENU);
    let size = std::fs::metadata(rel.join(ISO_NAME)).unwrap().len();
    let server = flaky(rel.clone());
    let url = format!("http://127.0.0.1:{}/", server.port);
    let out = build(&root(), dir.path(), &["--mirror", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        ["/SHA256SUMS range=".to_string(), format!("/{ISO_NAME} range="), format!("/{ISO_NAME} range=bytes={}-", size / 2)]
    );
    assert_eq!(cached_downloads(dir.path()), [format!("sha256-{sum}")]);
    let log = std::fs::read_to_string(dir.path().join("cache/build-u22.log")).unwrap();
    assert!(log.contains("resuming at"), "{log}");
}

#[test]
fn a_signed_sha256sums_is_checked_with_the_recipes_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let (rel, _) = release(dir.path(), MENU);
    // A project with a recipe that names a keyring: u22 with the key of a test release.
    let project = dir.path().join("project");
    copy_tree(&root().join("recipes"), &project.join("recipes"));
    copy_tree(&root().join("templates"), &project.join("templates"));
    let gnupg = dir.path().join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    let gpg = |args: &[&str]| {
        let out = tool("gpg")
            .env("GNUPGHOME", &gnupg)
            .args(["--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    gpg(&["--quick-gen-key", "liveboot test release <release@example.invalid>", "ed25519", "sign", "never"]);
    std::fs::create_dir(project.join("keys")).unwrap();
    std::fs::write(project.join("keys/release.gpg"), gpg(&["--export"])).unwrap();
    let recipe = std::fs::read_to_string(project.join("recipes/u22.yaml")).unwrap();
    let signed = recipe.replace("    patches:", "    keyring: ../keys/release.gpg\n    patches:");
    assert_ne!(recipe, signed);
    std::fs::write(project.join("recipes/u22.yaml"), signed).unwrap();
    let sums = rel.join("SHA256SUMS");
    gpg(&["--output", rel.join("SHA256SUMS.gpg").to_str().unwrap(), "--detach-sign", sums.to_str().unwrap()]);
    let (_server, url) = serve(&rel);
    let out = build(&project, dir.path(), &["--mirror", &url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // SHA256SUMS changed after signing: refused.
    let mut text = std::fs::read_to_string(&sums).unwrap();
    text.push_str(&format!("{} *another.iso\n", "1".repeat(64)));
    std::fs::write(&sums, text).unwrap();
    let other = tempfile::tempdir().unwrap();
    let out = build(&project, other.path(), &["--mirror", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{url}SHA256SUMS: the signature {url}SHA256SUMS.gpg does not verify with")), "{err}");
    assert!(!other.path().join("out/u22").exists());
}

/// Remastering needs no root, so an upstream-ISO build runs as any user: the menus come off the
/// ISO into folders the ISO marks read-only, and must still be written (run as `nobody` when
/// the tests run as root, as in CI).
#[test]
fn an_upstream_iso_builds_without_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Already not root: the other tests of this file build as this user.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (rel, _) = release(dir.path(), MENU);
    let (_server, url) = serve(&rel);
    let work = dir.path().join("nobody");
    std::fs::create_dir(&work).unwrap();
    stdout(tool("chmod").arg("a+rwx").arg(dir.path()).arg(&work));
    let out = tool("runuser")
        .args(["-u", "nobody", "--"])
        .arg(env!("CARGO_BIN_EXE_liveboot"))
        .arg("-C")
        .arg(root())
        .args(["build", "u22", "--mirror", &url, "--cache"])
        .arg(work.join("cache"))
        .arg("--out")
        .arg(work.join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let iso = work.join("out/u22/u22.iso");
    assert!(extract(&iso, "/boot/grub/grub.cfg").contains("ds=nocloud console=tty0"));
}
