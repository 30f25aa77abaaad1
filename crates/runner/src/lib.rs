//! Running external programs (mmdebstrap, mksquashfs, xorriso, qemu, ...): every call goes
//! through [`Runner::run`], which
//! - takes an argv, never a shell string;
//! - logs the argv before it starts and the outcome after it ends;
//! - keeps stdout and stderr, and puts the tail of stderr (of stdout, when stderr is empty) into
//!   the error when the program fails;
//! - enforces a timeout and honours an interrupt flag, killing the program's whole process group;
//! - makes the program die with liveboot (parent-death signal), so a killed build leaves no
//!   orphan working on behind it.
//!
//! Secrets never belong on an argv (other users can read /proc/PID/cmdline); pass them through
//! the environment or a file, and [`Cmd::secret_env`] keeps them out of the log too.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A program to run.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString, bool)>,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
    stdin: Option<Vec<u8>>,
    contained: bool,
}

impl Cmd {
    /// A command running `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Cmd { program: program.as_ref().into(), args: Vec::new(), env: Vec::new(), cwd: None, timeout: None, stdin: None, contained: false }
    }

    /// Adds one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().into());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(|a| a.as_ref().into()));
        self
    }

    /// Sets an environment variable (logged).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().into(), v.as_ref().into(), false));
        self
    }

    /// Sets an environment variable whose value is never logged.
    pub fn secret_env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().into(), v.as_ref().into(), true));
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Kills the program after `t`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Feeds `bytes` on standard input.
    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// Runs it in a PID namespace of its own when liveboot runs as root: if liveboot dies, even
    /// by SIGKILL, the parent-death signal kills the namespace's first process and the kernel
    /// then kills every process in it, grandchildren included (mmdebstrap's helpers do not
    /// inherit a parent-death signal). Without root it runs as usual.
    pub fn contained(mut self) -> Self {
        self.contained = true;
        self
    }

    /// What is really started: `unshare --pid --fork --kill-child` in front when contained.
    fn resolved(&self) -> Cmd {
        // SAFETY: geteuid has no preconditions.
        if !self.contained || unsafe { libc::geteuid() } != 0 || which(OsStr::new("unshare")).is_none() {
            return self.clone();
        }
        let mut c = self.clone();
        c.contained = false;
        c.program = "unshare".into();
        c.args = ["--pid", "--fork", "--kill-child=SIGKILL", "--"].iter().map(OsString::from).collect();
        c.args.push(self.program.clone());
        c.args.extend(self.args.iter().cloned());
        c
    }

    /// The program's name.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The command line as people read it (quoted where needed; secret values left out).
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(k, v, secret)| {
                format!("{}={}", k.to_string_lossy(), if *secret { "<hidden>".into() } else { quote(&v.to_string_lossy()) })
            })
            .collect();
        parts.push(quote(&self.program.to_string_lossy()));
        parts.extend(self.args.iter().map(|a| quote(&a.to_string_lossy())));
        parts.join(" ")
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What a finished program left.
#[derive(Debug, Clone)]
pub struct Output {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Output {
    /// Standard output as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Why a program did not succeed.
#[derive(Debug)]
pub enum RunError {
    /// The program is not installed.
    NotFound { program: String },
    /// It could not be started.
    Spawn { command: String, error: std::io::Error },
    /// It ran and failed; what it wrote on standard output is kept (some programs, like
    /// dpkg-query or `cloud-init status`, say useful things and exit non-zero).
    Failed { command: String, status: ExitStatus, stderr_tail: String, stdout: Vec<u8> },
    /// It ran longer than its timeout and was killed.
    TimedOut { command: String, after: Duration },
    /// The user interrupted the run; the program was killed.
    Interrupted { command: String },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound { program } => {
                write!(f, "{program} is not installed\n  help: run `cargo xtask deps` (or install the Debian package that provides it)")
            }
            RunError::Spawn { command, error } => write!(f, "cannot start `{command}`: {error}"),
            RunError::Failed { command, status, stderr_tail, .. } => {
                write!(f, "`{command}` failed ({status})")?;
                if !stderr_tail.is_empty() {
                    write!(f, "; its last output:\n{stderr_tail}")?;
                }
                Ok(())
            }
            RunError::TimedOut { command, after } => write!(f, "`{command}` did not finish within {} s and was killed", after.as_secs()),
            RunError::Interrupted { command } => write!(f, "interrupted while running `{command}`"),
        }
    }
}

impl std::error::Error for RunError {}

/// Where lines of a running program's output go as they arrive (for progress displays).
pub type LineSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Runs commands, logging each one.
#[derive(Clone, Default)]
pub struct Runner {
    log: Option<Arc<Mutex<std::fs::File>>>,
    interrupt: Option<Arc<AtomicBool>>,
    lines: Option<LineSink>,
}

impl Runner {
    /// A runner that logs nowhere.
    pub fn new() -> Self {
        Runner::default()
    }

    /// Appends every command, its outcome and its output to `file`.
    pub fn with_log(mut self, file: std::fs::File) -> Self {
        self.log = Some(Arc::new(Mutex::new(file)));
        self
    }

    /// Kills the running program and fails with [`RunError::Interrupted`] once `flag` is set.
    pub fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Sends each line the program writes (stdout and stderr) to `sink` as it arrives.
    pub fn with_lines(mut self, sink: LineSink) -> Self {
        self.lines = Some(sink);
        self
    }

    fn log(&self, text: &str) {
        if let Some(f) = &self.log {
            if let Ok(mut f) = f.lock() {
                let _ = writeln!(f, "{text}");
            }
        }
    }

    /// Whether the user interrupted the run (work done in-process checks this between pieces).
    pub fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
    }

    /// Tells the line sink only (a progress line, too frequent for the log).
    pub fn status(&self, text: &str) {
        if let Some(sink) = &self.lines {
            sink(text);
        }
    }

    /// Says something about the run (a warning) in the log and to the line sink, as a
    /// program's output line would be.
    pub fn note(&self, text: &str) {
        self.log(text);
        if let Some(sink) = &self.lines {
            sink(text);
        }
    }

    /// Runs `cmd` to the end. Fails unless it exits 0.
    pub fn run(&self, cmd: &Cmd) -> Result<Output, RunError> {
        let resolved = cmd.resolved();
        let cmd = &resolved;
        let shown = cmd.display();
        if which(&cmd.program).is_none() {
            return Err(RunError::NotFound { program: cmd.program.to_string_lossy().into_owned() });
        }
        self.log(&format!("$ {shown}"));
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if cmd.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        for (k, v, _) in &cmd.env {
            c.env(k, v);
        }
        if let Some(d) = &cmd.cwd {
            c.current_dir(d);
        }
        // Its own process group, so that a timeout or an interrupt kills it and its children;
        // and a parent-death signal, so that it does not outlive a killed liveboot.
        c.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the child process.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let start = Instant::now();
        let mut child = c.spawn().map_err(|error| RunError::Spawn { command: shown.clone(), error })?;
        if let (Some(bytes), Some(mut pipe)) = (cmd.stdin.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let out = collect(child.stdout.take().expect("piped"), self.lines.clone());
        let err = collect(child.stderr.take().expect("piped"), self.lines.clone());
        let pgid = child.id() as i32;
        let kill_group = || {
            // SAFETY: signalling a process group we created; a stale id fails harmlessly.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        };
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|error| RunError::Spawn { command: shown.clone(), error })? {
                break status;
            }
            if self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
                kill_group();
                let _ = child.wait();
                self.log("  interrupted");
                return Err(RunError::Interrupted { command: shown });
            }
            if let Some(t) = cmd.timeout {
                if start.elapsed() > t {
                    kill_group();
                    let _ = child.wait();
                    self.log(&format!("  timed out after {} s", t.as_secs()));
                    return Err(RunError::TimedOut { command: shown, after: t });
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        let elapsed = start.elapsed();
        self.log(&format!("  {status} after {:.1} s", elapsed.as_secs_f64()));
        if !stderr.is_empty() {
            self.log(&String::from_utf8_lossy(&stderr));
        }
        if !status.success() {
            // Some programs say why they failed on stdout alone (zypper's dependency problems).
            if !stdout.is_empty() {
                self.log(&String::from_utf8_lossy(&stdout));
            }
            let why = if stderr.iter().all(u8::is_ascii_whitespace) { &stdout } else { &stderr };
            return Err(RunError::Failed { command: shown, status, stderr_tail: tail(why, 20), stdout });
        }
        Ok(Output { stdout, stderr, elapsed })
    }
}

impl Runner {
    /// Runs `cmd` attached to this terminal (interactive programs: a serial console). Logged
    /// like every run; nothing is captured.
    pub fn run_attached(&self, cmd: &Cmd) -> Result<ExitStatus, RunError> {
        let shown = cmd.display();
        if which(&cmd.program).is_none() {
            return Err(RunError::NotFound { program: cmd.program.to_string_lossy().into_owned() });
        }
        self.log(&format!("$ {shown}"));
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args);
        for (k, v, _) in &cmd.env {
            c.env(k, v);
        }
        if let Some(d) = &cmd.cwd {
            c.current_dir(d);
        }
        c.status().map_err(|error| RunError::Spawn { command: shown, error })
    }
}

/// A program running in the background (a virtual machine, a server). Dropping the handle kills
/// it and its process group.
pub struct Running {
    child: std::process::Child,
    command: String,
}

impl Running {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if it has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `t` for it to end by itself.
    pub fn wait_timeout(&mut self, t: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < t {
            if let Some(s) = self.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kills it and its process group, and reaps it.
    pub fn kill(&mut self) {
        if self.try_wait().is_none() {
            // SAFETY: signalling the process group we created for it.
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
    }

    /// The command line it was started with.
    pub fn command(&self) -> &str {
        &self.command
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Runner {
    /// Starts `cmd` in the background with its standard output and error going to `log`.
    /// Like [`Runner::run`], it gets its own process group and dies with liveboot.
    pub fn spawn(&self, cmd: &Cmd, log: &Path) -> Result<Running, RunError> {
        let shown = cmd.display();
        if which(&cmd.program).is_none() {
            return Err(RunError::NotFound { program: cmd.program.to_string_lossy().into_owned() });
        }
        self.log(&format!("$ {shown} &"));
        let out = std::fs::File::create(log).map_err(|error| RunError::Spawn { command: shown.clone(), error })?;
        let err = out.try_clone().map_err(|error| RunError::Spawn { command: shown.clone(), error })?;
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
        for (k, v, _) in &cmd.env {
            c.env(k, v);
        }
        if let Some(d) = &cmd.cwd {
            c.current_dir(d);
        }
        // SAFETY: as in `run`: only sets the parent-death signal.
        unsafe {
            c.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c.spawn().map_err(|error| RunError::Spawn { command: shown.clone(), error })?;
        Ok(Running { child, command: shown })
    }
}

fn collect(mut pipe: impl Read + Send + 'static, lines: Option<LineSink>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        let mut start = 0;
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if let Some(sink) = &lines {
                while let Some(i) = all[start..].iter().position(|b| *b == b'\n' || *b == b'\r') {
                    let line = String::from_utf8_lossy(&all[start..start + i]).trim().to_string();
                    if !line.is_empty() {
                        sink(&line);
                    }
                    start += i + 1;
                }
            }
        }
        all
    })
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].iter().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n")
}

/// The full path of a program found on PATH (or the path itself when it has a slash).
pub fn which(program: &OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|c| c.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_failure_carry_what_the_program_said() {
        let r = Runner::new();
        let ok = r.run(&Cmd::new("sh").args(["-c", "echo out; echo err >&2"])).unwrap();
        assert_eq!(ok.stdout_text(), "out\n");
        let e = r.run(&Cmd::new("sh").args(["-c", "echo first >&2; echo 'the reason' >&2; exit 3"])).unwrap_err().to_string();
        assert!(e.contains("failed (exit status: 3)") && e.contains("  | the reason"), "{e}");
        match r.run(&Cmd::new("sh").args(["-c", "echo partial; exit 1"])).unwrap_err() {
            RunError::Failed { stdout, .. } => assert_eq!(stdout, b"partial\n"),
            other => panic!("{other}"),
        }
        // Nothing on stderr: the reason is on stdout (zypper's dependency problems).
        let e = r.run(&Cmd::new("sh").args(["-c", "echo 'Problem: nothing provides /bin/sh'; exit 4"])).unwrap_err().to_string();
        assert!(e.contains("  | Problem: nothing provides /bin/sh"), "{e}");
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = std::env::temp_dir().join(format!("runner-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild-survived");
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let e = Runner::new().run(&Cmd::new("sh").args(["-c", &script]).timeout(Duration::from_millis(200))).unwrap_err();
        assert!(matches!(e, RunError::TimedOut { .. }), "{e}");
        std::thread::sleep(Duration::from_millis(1300));
        assert!(!marker.exists(), "a grandchild outlived the timeout");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupt_stops_the_program() {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            f.store(true, Ordering::SeqCst);
        });
        let start = Instant::now();
        let e = Runner::new().with_interrupt(flag).run(&Cmd::new("sleep").arg("30")).unwrap_err();
        assert!(matches!(e, RunError::Interrupted { .. }) && start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn secrets_stay_out_of_the_shown_command() {
        let c = Cmd::new("ipmitool").arg("-E").secret_env("IPMI_PASSWORD", "hunter2").env("LANG", "C");
        assert_eq!(c.display(), "IPMI_PASSWORD=<hidden> LANG=C ipmitool -E");
    }

    #[test]
    fn a_missing_program_says_how_to_get_it() {
        let e = Runner::new().run(&Cmd::new("no-such-program-liveboot")).unwrap_err().to_string();
        assert!(e.contains("is not installed") && e.contains("cargo xtask deps"), "{e}");
    }
}

/// Why a [`poll`] probe did not succeed this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Not yet: try again (the reason is reported if time runs out).
    Again(String),
    /// Never will: stop now with this error.
    Stop(String),
}

/// Calls `probe` every `every` until it succeeds, says [`Retry::Stop`] (returned as it is) or
/// `within` has passed (its last [`Retry::Again`] then). The one "wait until it answers" loop
/// of liveboot: SSH banners of nodes, SSH commands in QEMU guests, servers coming up in tests.
pub fn poll<T>(within: Duration, every: Duration, mut probe: impl FnMut() -> Result<T, Retry>) -> Result<T, Retry> {
    let start = std::time::Instant::now();
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(stop @ Retry::Stop(_)) => return Err(stop),
            Err(again) if start.elapsed() >= within => return Err(again),
            Err(_) => std::thread::sleep(every.min(within.saturating_sub(start.elapsed()))),
        }
    }
}

/// Servers on this machine's loopback, for tests, benchmarks and QEMU's forwarded ports: a free
/// port, waiting until a server listens, a server process that ends with its owner.
pub mod local {
    use std::net::{TcpListener, TcpStream};
    use std::path::Path;
    use std::process::Child;
    use std::time::Duration;

    use super::{poll, Retry};

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    pub fn free_port() -> std::io::Result<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    /// A child process killed (and reaped) when dropped: a server a test or benchmark started.
    pub struct Background(pub Child);

    impl Drop for Background {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Waits until something accepts connections on 127.0.0.1:`port`. When `server` is given
    /// and exits first, or time runs out, the error names `what` and holds its `log`.
    pub fn wait_listening(
        port: u16,
        within: Duration,
        what: &str,
        mut server: Option<&mut Child>,
        log: Option<&Path>,
    ) -> Result<(), String> {
        let log_text = || log.map(|l| format!(": {}", std::fs::read_to_string(l).unwrap_or_default())).unwrap_or_default();
        poll(within, Duration::from_millis(50), || {
            if let Some(Ok(Some(status))) = server.as_mut().map(|c| c.try_wait()) {
                return Err(Retry::Stop(format!("{what} exited ({status}){}", log_text())));
            }
            TcpStream::connect(("127.0.0.1", port)).map(|_| ()).map_err(|e| Retry::Again(e.to_string()))
        })
        .map_err(|r| match r {
            Retry::Stop(e) => e,
            Retry::Again(_) => format!("{what} did not listen on 127.0.0.1:{port} within {} s{}", within.as_secs(), log_text()),
        })
    }
}
