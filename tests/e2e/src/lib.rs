//! Helpers for the end-to-end tests. `cargo xtask e2e` builds the release binary, points
//! LIVEBOOT_E2E_DIR at a fresh folder and runs these tests one at a time.

pub mod rpmrepo;
pub mod vlab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The folder the end-to-end run works in (caches, outputs).
pub fn work() -> PathBuf {
    let dir = std::env::var_os("LIVEBOOT_E2E_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target/e2e"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The liveboot binary under test.
pub fn bin() -> PathBuf {
    std::env::var_os("LIVEBOOT_BIN").map(PathBuf::from).unwrap_or_else(|| root().join("target/release/liveboot"))
}

/// Every build of the tests pins the same SOURCE_DATE_EPOCH, so that they share stages.
pub const EPOCH: &str = "1700000000";

/// `liveboot -C <root> ARGS`.
pub fn liveboot(args: &[&str]) -> Output {
    liveboot_in(&root(), args)
}

/// `liveboot -C <project> ARGS`.
pub fn liveboot_in(project: &Path, args: &[&str]) -> Output {
    let out = Command::new(bin()).arg("-C").arg(project).args(args).output().expect("liveboot runs");
    eprintln!("$ liveboot {}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

/// `liveboot build` with the shared cache; returns the JSON report.
pub fn build(recipe: &str, cache: &Path, out: &Path) -> serde_json::Value {
    build_in(&root(), recipe, cache, out)
}

/// `liveboot -C <project> build`; returns the JSON report.
pub fn build_in(project: &Path, recipe: &str, cache: &Path, out: &Path) -> serde_json::Value {
    build_with(project, recipe, cache, out, &[])
}

/// `liveboot -C <project> build` with extra arguments (`--mirror …`); returns the JSON report.
pub fn build_with(project: &Path, recipe: &str, cache: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let (cache, out) = (cache.to_string_lossy(), out.to_string_lossy());
    let mut args = vec!["build", recipe, "--json", "--source-date-epoch", EPOCH, "--cache", &cache, "--out", &out];
    args.extend(extra);
    let o = liveboot_in(project, &args);
    assert!(o.status.success(), "build failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The main cache and output of the run.
pub fn main_dirs() -> (PathBuf, PathBuf) {
    (work().join("cache"), work().join("out"))
}

static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Builds debian12 into the main cache once per test process.
pub fn ensure_built() -> (PathBuf, PathBuf) {
    let (cache, out) = main_dirs();
    build_once("debian12", cache, out)
}

/// Builds a recipe once per test process into a cache and output folder of its own (it shares
/// no stage and no package download with debian12's, so each test binary stands alone).
pub fn ensure_built_apart(recipe: &str) -> (PathBuf, PathBuf) {
    build_once(recipe, work().join(format!("cache-{recipe}")), work().join(format!("out-{recipe}")))
}

fn build_once(recipe: &str, cache: PathBuf, out: PathBuf) -> (PathBuf, PathBuf) {
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|r| r == recipe) {
        build(recipe, &cache, &out);
        built.push(recipe.to_string());
    }
    (cache, out)
}

/// Names of the stages that ran in a build report.
pub fn ran(report: &serde_json::Value) -> Vec<String> {
    report["stages"].as_array().unwrap().iter().filter(|s| s["ran"] == true).map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

/// `liveboot try` with extra arguments; returns the JSON result, after checking SSH, cloud-init
/// and the host name.
pub fn try_boot(iso: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["try", iso.to_str().unwrap(), "--json", "--exec", "getcap /usr/bin/ping"];
    args.extend(extra);
    let o = liveboot(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], format!("try-{}", iso.file_stem().unwrap().to_string_lossy()), "{v}");
    println!("time to SSH ({} {}): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
    v
}

/// Copies the downloaded packages of one cache into another, so that a clean build does not
/// download them again (the stage cache stays empty).
pub fn share_packages(from: &Path, to: &Path) {
    let (src, dst) = (from.join("apt"), to.join("apt"));
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let _ = std::fs::hard_link(e.path(), dst.join(e.file_name()));
    }
}

/// Lines of /proc/mounts that mention a path.
pub fn mounts_under(path: &Path) -> Vec<String> {
    let p = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/mounts").unwrap_or_default().lines().filter(|l| l.contains(&p)).map(String::from).collect()
}

/// Processes whose root directory or working directory is inside `path` (a chroot of a killed
/// build, say), as "pid command" lines.
pub fn processes_inside(path: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let inside = ["root", "cwd"].iter().any(|l| std::fs::read_link(e.path().join(l)).is_ok_and(|t| t.starts_with(path)));
        if inside {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            found.push(format!("{pid} {}", String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    found
}

/// Serves a folder with `liveboot serve` on a free loopback port for the rest of the test
/// process; returns its URL (`http://127.0.0.1:PORT/`).
pub fn serve_for_process(dir: PathBuf) -> String {
    let port = liveboot_runner::local::free_port().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // The server dies with the test process: its parent-death signal is tied to this thread,
    // which lives as long as the process.
    std::thread::spawn(move || {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", &dir.to_string_lossy(), "--bind", &format!("127.0.0.1:{port}")]).stderr(std::process::Stdio::null());
        // SAFETY: prctl only sets a flag on the child.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut server = liveboot_runner::local::Background(cmd.spawn().unwrap());
        let ready =
            liveboot_runner::local::wait_listening(port, std::time::Duration::from_secs(10), "liveboot serve", Some(&mut server.0), None);
        tx.send(ready).unwrap();
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap().unwrap();
    format!("http://127.0.0.1:{port}/")
}
