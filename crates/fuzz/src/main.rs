//! `liveboot-fuzz TARGET --seconds N`: feeds mutated inputs to one of liveboot's parsers for N
//! seconds on the stable toolchain, and reports executions, distinct outcomes, crashes and slow
//! inputs as one JSON line. `cargo xtask fuzz` runs every target.
//!
//! The engine is small and honest about what it is: no coverage instrumentation (that needs a
//! nightly compiler); mutations (bit flips, interesting bytes, deletions, repeated chunks,
//! dictionary tokens such as YAML anchors and aliases, splices of two corpus inputs) of a corpus
//! seeded from the project's own fixtures, and an input joins the corpus when it gives an
//! outcome not seen before (the first line of an error, digits removed), a cheap feedback that
//! walks past the first parse error. A panic in any thread, an input slower than two seconds or
//! the process dying (memory is limited to 4 GiB) is a failure; the input is kept under
//! `target/fuzz/` and `--replay FILE` runs it again.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An input slower than this is a failure (a denial of service).
const SLOW: Duration = Duration::from_secs(2);

/// Set by the panic hook, in whatever thread panicked (a server's connection thread too).
static PANICKED: AtomicBool = AtomicBool::new(false);
static PANIC_MESSAGE: Mutex<String> = Mutex::new(String::new());

/// The fuzz targets: what they parse.
const TARGETS: &[(&str, &str)] = &[
    ("recipe", "recipe YAML: parse, extends, typed model, validation, plan"),
    ("inventory", "inventory YAML: parse, defaults, typed model, validation, key files"),
    ("kickstart", "kickstarts: includes, sections, options; a flattened kickstart reads back to itself"),
    ("kiwi", "KIWI descriptions: XML, profiles, build type, packages; every declared profile applied"),
    ("sshkey", "OpenSSH public key lines"),
    ("iso", "the ISO 9660 reader (volume descriptors, directories, Rock Ridge, Joliet)"),
    ("http", "`liveboot serve`: request heads, ranges, paths, over a real socket"),
    ("redfish", "the Redfish client and flows against a BMC answering the input as every resource"),
];

/// xorshift64*: deterministic, so a run is repeated by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = b"\0\x7f\xff\n\r\t :-&*!|>\"'{}[],#%@/\\.$";

/// One to four mutations of `input`; `other` is another corpus input to splice with.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], dict: &[&[u8]], max_len: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if !v.is_empty() => {
                let n = 1 + rng.below(16.min(v.len()));
                let i = rng.below(v.len() - n + 1);
                v.drain(i..i + n);
            }
            3 => {
                let t = dict[rng.below(dict.len())];
                v.splice(at..at, t.iter().copied());
            }
            4 if !v.is_empty() => {
                // A chunk repeated: deep nesting, long lines, many keys.
                let i = rng.below(v.len());
                let n = 1 + rng.below(64.min(v.len() - i));
                let chunk = v[i..i + n].to_vec();
                let most = if rng.below(8) == 0 { 200 } else { 4 };
                for _ in 0..1 + rng.below(most) {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let cut = rng.below(other.len());
                v.truncate(at);
                v.extend_from_slice(&other[cut..]);
            }
            6 => {
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            _ => {
                // A number replaced by a big or odd one.
                let t: &[u8] = [&b"0"[..], b"-1", b"4294967295", b"18446744073709551616", b"65536", b"1e999"][rng.below(6)];
                v.splice(at..at, t.iter().copied());
            }
        }
        v.truncate(max_len);
    }
    v
}

/// A target ready to run: its corpus, dictionary and state (temporary folders, servers).
trait Harness {
    /// Runs one input; the outcome in words (an error's first line, or "ok").
    fn run(&mut self, input: &[u8]) -> String;
}

/// The outcome's class: digits and quoted values removed, so "line 7" and "line 9" are one.
fn class(outcome: &str) -> String {
    let first = outcome.lines().next().unwrap_or_default();
    let mut out = String::new();
    let mut quoted = false;
    for c in first.chars() {
        if c == '\'' || c == '"' {
            quoted = !quoted;
        } else if !quoted && !c.is_ascii_digit() {
            out.push(c);
        }
    }
    out.chars().take(80).collect()
}

/// Files under `dir` whose names end in one of `exts`, read.
fn files(dir: &Path, exts: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_file() && exts.iter().any(|e| p.to_string_lossy().ends_with(e)) {
            out.extend(std::fs::read(&p).ok());
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a temporary folder");
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copying a fixture");
        }
    }
}

const YAML_DICT: &[&[u8]] = &[
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"- ",
    b": ",
    b"\n  ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"!!str ",
    b"!!binary ",
    b"? ",
    b"|\n",
    b">-\n",
    b"---\n",
    b"...\n",
    b"~",
    b"null",
    b"true",
    b"0o777",
    b"0x1F",
    b".inf",
    b"extends: ",
    b"_base.yaml",
    b"../",
    b"/etc/shadow",
    b"\"\\u0000\"",
    b"\xef\xbb\xbf",
    b"%YAML 1.1\n",
    b"%TAG ! tag:x,2000:\n",
    b"'",
    b"\"",
    b"#",
    b"\t",
];

struct RecipeHarness {
    dir: tempfile::TempDir,
    registry: liveboot_recipe::Registry,
}

impl Harness for RecipeHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let path = self.dir.path().join("recipes/fuzz.yaml");
        std::fs::write(&path, input).expect("writing the input");
        match liveboot_recipe::load_with(&path, &self.registry) {
            Err(d) => d.to_string(),
            Ok(r) => match liveboot_recipe::plan::plan(&r, &liveboot_recipe::plan::PlanOptions::for_project(self.dir.path())) {
                Ok(p) => format!("ok {} stages", p.stages.len()),
                Err(d) => d.to_string(),
            },
        }
    }
}

struct InventoryHarness {
    dir: tempfile::TempDir,
}

impl Harness for InventoryHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let path = self.dir.path().join("inventory.yaml");
        std::fs::write(&path, input).expect("writing the input");
        match liveboot_inventory::load(&path) {
            Ok(inv) => format!("ok {} nodes", inv.nodes.len()),
            Err(d) => d.to_string(),
        }
    }
}

struct KickstartHarness {
    dir: tempfile::TempDir,
}

impl Harness for KickstartHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let path = self.dir.path().join("fuzz.ks");
        std::fs::write(&path, input).expect("writing the input");
        let options = liveboot_kickstart::Options { version: "F37", confine: Some(self.dir.path()) };
        let parsed = match liveboot_kickstart::read(&path, options) {
            Ok(p) => p,
            Err(d) => return d.to_string(),
        };
        if let Some(e) = parsed.errors.first() {
            return e.to_string();
        }
        // A flattened kickstart reads back without error, to the same flattened kickstart.
        let flat = parsed.kickstart.flatten();
        let again = self.dir.path().join("fuzz-flat.ks");
        std::fs::write(&again, &flat).expect("writing the flattened input");
        let reread = liveboot_kickstart::read(&again, options).expect("the flattened file is readable");
        assert!(reread.errors.is_empty(), "the flattened kickstart has errors: {:?}\n{flat}", reread.errors);
        assert_eq!(reread.kickstart.flatten(), flat, "flattening is not idempotent");
        format!("ok {} commands {} scripts", parsed.kickstart.commands.len(), parsed.kickstart.scripts.len())
    }
}

struct KiwiHarness {
    dir: tempfile::TempDir,
}

impl Harness for KiwiHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let path = self.dir.path().join("fuzz.kiwi");
        std::fs::write(&path, input).expect("writing the input");
        let read = |profiles: &[String]| liveboot_kiwi::read(&path, liveboot_kiwi::Options { profiles, build_type: None, arch: "x86_64" });
        let first = match read(&[]) {
            Ok(r) => r,
            Err(e) => return e.first().map(ToString::to_string).unwrap_or_default(),
        };
        // Every declared profile can be applied (an error is an answer, a panic is not), and a
        // reading is repeatable.
        for p in &first.description.declared_profiles {
            let _ = read(std::slice::from_ref(&p.name));
        }
        let again = read(&[]).expect("a description read once reads again");
        assert_eq!(again.description, first.description, "reading is not repeatable");
        format!("ok {} {} packages", first.description.build_type.image, first.description.packages.image.len())
    }
}

struct SshKeyHarness;

impl Harness for SshKeyHarness {
    fn run(&mut self, input: &[u8]) -> String {
        match liveboot_inventory::parse_public_key(&String::from_utf8_lossy(input)) {
            Ok(k) => format!("ok {}", k.kind),
            Err((m, _)) => m,
        }
    }
}

struct IsoHarness;

impl Harness for IsoHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let mut r = match liveboot_iso::IsoReader::open(std::io::Cursor::new(input)) {
            Ok(r) => r,
            Err(e) => return e.to_string(),
        };
        let entries = match r.entries() {
            Ok(e) => e,
            Err(e) => return e.to_string(),
        };
        let mut bytes = 0;
        for e in &entries {
            match r.read(e) {
                Ok(b) => bytes += b.len(),
                Err(e) => return e.to_string(),
            }
        }
        format!("ok {} entries {bytes}", entries.len())
    }
}

struct HttpHarness {
    _dir: tempfile::TempDir,
    server: liveboot_publish::Server,
}

impl Harness for HttpHarness {
    fn run(&mut self, input: &[u8]) -> String {
        let mut s = match TcpStream::connect(self.server.addr()) {
            Ok(s) => s,
            Err(e) => panic!("the server no longer accepts connections: {e}"),
        };
        s.set_read_timeout(Some(SLOW)).expect("a timeout");
        s.set_write_timeout(Some(SLOW)).expect("a timeout");
        let _ = s.write_all(input);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = s.take(1 << 20).read_to_end(&mut answer);
        let status = String::from_utf8_lossy(&answer).lines().next().unwrap_or("no answer").to_string();
        if answer.len() >= 1 << 20 {
            panic!("more than 1 MiB answered to {} bytes: {status}", input.len());
        }
        status
    }
}

/// A BMC that answers every request with the input as a 200 JSON body (and a session token and
/// location, so that logins get further).
struct RedfishHarness {
    body: Arc<Mutex<Vec<u8>>>,
    addr: String,
}

impl RedfishHarness {
    fn start() -> RedfishHarness {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address").to_string();
        let body = Arc::new(Mutex::new(Vec::new()));
        let b = body.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                let mut conn = conn;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                // A body the client sent (POST, PATCH): read what its length says.
                let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if let Some(n) = text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()) {
                    let _ = (&mut conn).take(n.min(1 << 20) as u64).read_to_end(&mut Vec::new());
                }
                let body = b.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Auth-Token: t\r\nLocation: /redfish/v1/SessionService/Sessions/1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&body);
            }
        });
        RedfishHarness { body, addr }
    }
}

impl Harness for RedfishHarness {
    fn run(&mut self, input: &[u8]) -> String {
        *self.body.lock().unwrap_or_else(|e| e.into_inner()) = input.to_vec();
        let target = liveboot_bmc::Target {
            node: "fuzz".into(),
            address: format!("http://{}", self.addr),
            protocol: liveboot_bmc::Protocol::Redfish,
            vendor: None,
            username: "root".into(),
            password: liveboot_bmc::Secret::new("pw"),
            tls: liveboot_bmc::Tls::Insecure,
            cipher_suite: None,
            system: None,
        };
        let timing = liveboot_bmc::Timing {
            request: Duration::from_millis(500),
            attempts: 1,
            backoff: Duration::from_millis(1),
            max_retry_after: Duration::from_millis(1),
            settle: Duration::from_millis(20),
            poll: Duration::from_millis(5),
        };
        let mut d = match liveboot_bmc::Driver::connect(&target, &timing) {
            Ok(d) => d,
            Err(e) => return e.to_string(),
        };
        let mut said = Vec::new();
        said.push(d.power().map(|p| format!("{p:?}")).unwrap_or_else(|e| e.to_string()));
        said.push(d.media().map(|m| format!("{} slots", m.len())).unwrap_or_else(|e| e.to_string()));
        said.push(d.bios_get(None).map(|a| format!("{} attributes", a.len())).unwrap_or_else(|e| e.to_string()));
        said.push(d.jobs().map(|j| format!("{} jobs", j.len())).unwrap_or_else(|e| e.to_string()));
        said.join(" | ")
    }
}

/// A target's harness, seed corpus, dictionary and largest input.
type Setup = (Box<dyn Harness>, Vec<Vec<u8>>, &'static [&'static [u8]], usize);

/// The corpus and dictionary of a target, and its harness.
fn setup(target: &str, project: &Path) -> Result<Setup, String> {
    Ok(match target {
        "recipe" => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            copy_dir(&project.join("recipes"), &dir.path().join("recipes"));
            std::os::unix::fs::symlink(project.join("templates"), dir.path().join("templates")).map_err(|e| e.to_string())?;
            let mut corpus = files(&project.join("recipes"), &[".yaml"]);
            corpus.extend(files(&project.join("crates/recipe/tests/broken"), &[".yaml"]));
            let h = RecipeHarness { dir, registry: liveboot_recipe::Registry::builtin() };
            (Box::new(h), corpus, YAML_DICT, 64 << 10)
        }
        "inventory" => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            copy_dir(&project.join("examples"), dir.path());
            copy_dir(&project.join("examples/keys"), &dir.path().join("keys"));
            let mut corpus = files(&project.join("examples"), &["inventory.yaml"]);
            corpus.extend(files(&project.join("crates/inventory/tests/broken"), &[".yaml"]));
            (Box::new(InventoryHarness { dir }), corpus, YAML_DICT, 64 << 10)
        }
        "kickstart" => {
            // The real and broken kickstarts side by side, so that inputs can include them.
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let tests = project.join("crates/kickstart/tests");
            let mut corpus = Vec::new();
            for sub in ["real/fedora-37", "real/rocky-9/live", "real/synthetic", "broken"] {
                copy_dir(&tests.join(sub), dir.path());
                corpus.extend(files(&tests.join(sub), &[".ks"]));
            }
            const DICT: &[&[u8]] = &[
                b"%include ",
                b"%ksappend ",
                b"%packages\n",
                b"%end\n",
                b"%post --nochroot\n",
                b"%pre\n",
                b"%addon x\n",
                b"@^",
                b"-@",
                b"@",
                b"--nodefaults",
                b"'",
                b"\"",
                b"\\",
                b"#",
                b"--",
                b"=",
                b"\n",
                b"part / --size=1\n",
                b"fedora-live-base.ks",
                b"_loop.ks",
            ];
            (Box::new(KickstartHarness { dir }), corpus, DICT, 64 << 10)
        }
        "kiwi" => {
            let tests = project.join("crates/kiwi/tests");
            let mut corpus = Vec::new();
            let mut todo = vec![tests.join("real"), tests.join("broken"), tests.join("warn"), project.join("kiwi")];
            while let Some(d) = todo.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.path().is_dir() {
                        todo.push(e.path());
                    }
                }
                corpus.extend(files(&d, &[".kiwi", ".xml"]));
            }
            const DICT: &[&[u8]] = &[
                b"<profile name=\"A\" description=\"a\" import=\"true\"/>",
                b"<requires profile=\"A\"/>",
                b" profiles=\"A\"",
                b" arch=\"x86_64\"",
                b"<type image=\"iso\" primary=\"true\"/>",
                b"<packages type=\"image\">",
                b"<package name=\"x\"/>",
                b"<namedCollection name=\"x\"/>",
                b"<repository type=\"apt-deb\"><source path=\"x\"/></repository>",
                b"<![CDATA[",
                b"<!DOCTYPE image [<!ENTITY e \"x\">]>",
                b"&e;",
                b"&#x0;",
                b"<!--",
                b"-->",
                b"</",
                b"/>",
                b"=\"",
                b"\"",
            ];
            (Box::new(KiwiHarness { dir: tempfile::tempdir().map_err(|e| e.to_string())? }), corpus, DICT, 64 << 10)
        }
        "sshkey" => {
            let mut corpus: Vec<Vec<u8>> = files(&project.join("examples/keys"), &[".pub"]);
            let inv = std::fs::read_to_string(project.join("examples/inventory.yaml")).unwrap_or_default();
            corpus.extend(inv.lines().filter_map(|l| l.trim().strip_prefix("- ssh-")).map(|k| format!("ssh-{k}").into_bytes()));
            const DICT: &[&[u8]] =
                &[b"ssh-rsa ", b"ssh-ed25519 ", b"ecdsa-sha2-nistp256 ", b"sk-ssh-ed25519@openssh.com ", b"AAAA", b"=", b"\n", b" "];
            (Box::new(SshKeyHarness), corpus, DICT, 16 << 10)
        }
        "iso" => {
            // Seeds made by our writer: ISO 9660 with Joliet and Rock Ridge.
            let r = liveboot_seed::SeedRenderer::new(&project.join("templates")).map_err(|e| e.to_string())?;
            let inv = liveboot_inventory::load(&project.join("examples/inventory.yaml")).map_err(|e| e.to_string())?;
            let corpus = inv
                .nodes
                .keys()
                .map(|n| r.render_node(&inv, n).map(|s| s.to_iso()).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            const DICT: &[&[u8]] =
                &[b"CD001", b"\x01CD001\x01", b"\xffCD001\x01", b"RR", b"NM", b"CE", b"SP", b"ER", b"PX", b"\xff\xff\xff\xff", b"\0\0\0\0"];
            (Box::new(IsoHarness), corpus, DICT, 1 << 20)
        }
        "http" => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            std::fs::write(dir.path().join("a.txt"), vec![b'a'; 1024]).map_err(|e| e.to_string())?;
            std::fs::write(dir.path().join("b.iso"), vec![7u8; 65536]).map_err(|e| e.to_string())?;
            std::fs::write(dir.path().join(".hidden"), b"secret").map_err(|e| e.to_string())?;
            let opts = liveboot_publish::ServeOptions { idle_timeout: Duration::from_millis(200), ..Default::default() };
            let server = liveboot_publish::serve(dir.path(), "127.0.0.1:0", opts).map_err(|e| e.to_string())?;
            let corpus: Vec<Vec<u8>> = [
                &b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                b"GET /b.iso HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n",
                b"HEAD /b.iso HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\nConnection: keep-alive\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n",
                b"GET /b.iso HTTP/1.1\r\nRange: bytes=-5\r\nIf-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n",
                b"GET /%2e%2e/etc/passwd HTTP/1.0\r\n\r\n",
            ]
            .iter()
            .map(|b| b.to_vec())
            .collect();
            const DICT: &[&[u8]] = &[
                b"\r\n",
                b"Range: bytes=",
                b"0-",
                b"-1",
                b",",
                b"Content-Length: 5\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"%2f",
                b"%00",
                b"/..",
                b"If-Modified-Since: ",
                b"HTTP/1.0",
                b"Connection: close\r\n",
                b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            ];
            (Box::new(HttpHarness { _dir: dir, server }), corpus, DICT, 32 << 10)
        }
        "redfish" => {
            let corpus = vec![
                REDFISH_SEED.as_bytes().to_vec(),
                b"{\"error\":{\"code\":\"Base.1.0.GeneralError\",\"@Message.ExtendedInfo\":[{\"MessageId\":\"SYS518\"}]}}".to_vec(),
            ];
            const DICT: &[&[u8]] = &[
                b"\"@odata.id\":\"/redfish/v1/Systems/1\",",
                b"\"Members\":[",
                b"{\"@odata.id\":\"@evil/x\"}",
                b"\"Oem\":{\"Hpe\":{}},",
                b"null",
                b"[]",
                b"{}",
                b"\"TaskState\":\"Running\",",
                b"1e309",
                b"\"\\u0000\"",
                b"\"Vendor\":\"Supermicro\",",
                b"\"Vendor\":\"HPE\",",
            ];
            (Box::new(RedfishHarness::start()), corpus, DICT, 64 << 10)
        }
        other => {
            return Err(format!(
                "no fuzz target '{other}'; the targets are: {}",
                TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
            ))
        }
    })
}

/// Every resource a flow reads, in one document: it answers as root, system, manager, media
/// collection and slot, BIOS and job queue (the fake BMC answers every path with it).
const REDFISH_SEED: &str = r##"{"@odata.id":"/redfish/v1/","RedfishVersion":"1.6.0","Vendor":"Dell","Id":"1","Name":"x",
"Systems":{"@odata.id":"/redfish/v1/Systems"},"Managers":{"@odata.id":"/redfish/v1/Managers"},
"SessionService":{"@odata.id":"/redfish/v1/SessionService"},"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"},"ManagedBy":[{"@odata.id":"/redfish/v1/Managers/1"}]},
"Members":[{"@odata.id":"/redfish/v1/Systems/1"}],"Members@odata.count":1,"PowerState":"On","Manufacturer":"Dell Inc.",
"VirtualMedia":{"@odata.id":"/redfish/v1/Managers/1/VirtualMedia"},"MediaTypes":["CD","DVD"],"Inserted":false,"Image":null,"ConnectedVia":"NotConnected",
"Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset","ResetType@Redfish.AllowableValues":["On","ForceOff","GracefulShutdown","ForceRestart"]},
"#VirtualMedia.InsertMedia":{"target":"/redfish/v1/Managers/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia"},"#Bios.ResetBios":{"target":"/redfish/v1/Systems/1/Bios/Actions/Bios.ResetBios"}},
"Bios":{"@odata.id":"/redfish/v1/Systems/1/Bios"},"Attributes":{"BootMode":"Uefi","ProcVirtualization":"Enabled","NumLock":1},
"@Redfish.Settings":{"SettingsObject":{"@odata.id":"/redfish/v1/Systems/1/Bios/Settings"}},
"Jobs":{"@odata.id":"/redfish/v1/Managers/1/Jobs"},"JobState":"Completed","TaskState":"Completed","PercentComplete":100,
"Boot":{"BootSourceOverrideTarget":"None","BootSourceOverrideEnabled":"Disabled","BootSourceOverrideTarget@Redfish.AllowableValues":["Cd","Pxe","Hdd"]}}"##;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    if args.first().is_some_and(|a| a == "--list") {
        // The one list of targets: `cargo xtask fuzz` asks for it.
        for (t, _) in TARGETS {
            println!("{t}");
        }
        return;
    }
    let Some(target) = args.first().filter(|a| !a.starts_with('-')).cloned() else {
        eprintln!("usage: liveboot-fuzz TARGET [--seconds N] [--seed S] [--replay FILE] [--out DIR] | --list\ntargets:");
        for (t, what) in TARGETS {
            eprintln!("  {t:<10} {what}");
        }
        std::process::exit(2);
    };
    let seconds: u64 = value("--seconds").and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = value("--seed").and_then(|s| s.parse().ok()).unwrap_or(0x5eed_1234_abcd_0001);
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = value("--out").map(PathBuf::from).unwrap_or_else(|| project.join("target/fuzz"));
    std::fs::create_dir_all(&out).expect("the output folder");

    // Memory is bounded: an input that makes a parser take all memory kills the process (and
    // `cargo xtask fuzz` reports it) instead of the machine.
    let limit = libc::rlimit { rlim_cur: 4 << 30, rlim_max: 4 << 30 };
    // SAFETY: setrlimit with a valid struct only lowers this process's own limit.
    unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    std::panic::set_hook(Box::new(|info| {
        PANICKED.store(true, Ordering::SeqCst);
        *PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
    }));

    let (mut harness, mut corpus, dict, max_len) = match setup(&target, &project) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("liveboot-fuzz: {e}");
            std::process::exit(2);
        }
    };
    if let Some(file) = value("--replay") {
        let input = std::fs::read(&file).expect("the input to replay");
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(&input)));
        println!("{outcome:?} in {:.3} s", started.elapsed().as_secs_f64());
        std::process::exit(if outcome.is_err() || PANICKED.load(Ordering::SeqCst) { 1 } else { 0 });
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let seeds = corpus.len();
    let current = out.join(format!("{target}-current.bin"));
    let mut rng = Rng(seed | 1);
    let mut seen: HashSet<String> = HashSet::new();
    let mut failures: Vec<String> = Vec::new();
    let (mut execs, mut slowest) = (0u64, Duration::ZERO);
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) && failures.len() < 5 {
        // The seeds themselves first, then mutations.
        let input = if i < seeds {
            corpus[i].clone()
        } else {
            let a = rng.below(corpus.len());
            let b = rng.below(corpus.len());
            mutate(&mut rng, &corpus[a], &corpus[b], dict, max_len)
        };
        i += 1;
        // Kept before it runs: when the process dies (memory), this is the input that did it.
        std::fs::write(&current, &input).expect("writing the current input");
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| harness.run(&input)));
        let took = t.elapsed();
        execs += 1;
        slowest = slowest.max(took);
        let panicked = outcome.is_err() || PANICKED.swap(false, Ordering::SeqCst);
        if panicked || took > SLOW {
            let why = if panicked {
                format!("panic: {}", PANIC_MESSAGE.lock().unwrap_or_else(|e| e.into_inner()))
            } else {
                format!("slow: {:.1} s", took.as_secs_f64())
            };
            let name = format!("{target}-{}.bin", &liveboot_digest::sha256_hex(&input)[..16]);
            std::fs::write(out.join(&name), &input).expect("keeping the failing input");
            failures.push(format!("{why} (input kept as {}; --replay it)", out.join(&name).display()));
            continue;
        }
        if let Ok(o) = outcome {
            if seen.insert(class(&o)) && corpus.len() < 4096 {
                corpus.push(input);
            }
        }
    }
    let _ = std::fs::remove_file(&current);
    let secs = started.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "target": target, "seconds": (secs * 10.0).round() / 10.0, "execs": execs, "execs_per_second": (execs as f64 / secs).round(),
        "seeds": seeds, "outcomes": seen.len(), "corpus": corpus.len(), "slowest_ms": slowest.as_millis() as u64,
        "seed": seed, "failures": failures,
    });
    println!("{report}");
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}
