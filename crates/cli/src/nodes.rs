//! The node commands' arguments and output: status, on, off, reboot, boot, diskboot, wait,
//! bios, jobs, console. What they do is `liveboot_ops::nodes`; here a line per node for people
//! or an array of objects for scripts (`--json`), and exit code 1 when any node failed.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use liveboot_ops::nodes::{Action, BootSettings, NodeOutcome, NodeResult, NodeSettings};
use liveboot_ops::{Event, Project};

use crate::{note_raw, progress_printer, Failure};

/// What every node command takes.
#[derive(Debug, Args, Clone)]
pub struct NodeArgs {
    /// Nodes, or slices (all their nodes), by name.
    #[arg(required = true, value_name = "NODE|SLICE")]
    pub names: Vec<String>,
    /// The inventory file.
    #[arg(long, env = "LIVEBOOT_INVENTORY", default_value = "inventory.yaml", value_name = "FILE")]
    pub inventory: PathBuf,
    /// How many nodes to work on at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub parallel: usize,
    /// Seconds one BMC request may take.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub bmc_timeout: u64,
    /// Do not check BMC certificates at all (prefer bmc.fingerprint or bmc.ca_file).
    #[arg(long)]
    pub insecure: bool,
    /// Print one JSON object per node, in an array.
    #[arg(long)]
    pub json: bool,
}

/// `liveboot boot`.
#[derive(Debug, Args)]
pub struct BootArgs {
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// The live image: a recipe (publishes out/<recipe>/<recipe>.iso), an ISO file, or an http(s) URL.
    #[arg(long, value_name = "NAME")]
    pub image: String,
    /// Wait until SSH answers on every node.
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait waits.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub timeout: u64,
    /// Output folder the recipe's image is in [default: <project>/out].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `liveboot off`.
#[derive(Debug, Args)]
pub struct OffArgs {
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Seconds to wait for a graceful shutdown before forcing power off.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub grace: u64,
}

/// `liveboot wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Seconds to wait.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `liveboot bios ...`.
#[derive(Debug, Subcommand)]
pub enum BiosCommand {
    /// Show BIOS attributes (those whose name contains --match, or all).
    Get {
        #[command(flatten)]
        nodes: NodeArgs,
        /// Only attributes whose name contains this (case-insensitive).
        #[arg(long = "match", value_name = "PATTERN")]
        pattern: Option<String>,
    },
    /// Set BIOS attributes: `liveboot bios set w1 w2 BootMode=Uefi ProcVirtualization=Enabled`.
    Set {
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Reset the BIOS to its defaults (applies at the next reboot).
    Reset {
        #[command(flatten)]
        nodes: NodeArgs,
    },
}

/// `liveboot jobs ...`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the BMC's job (Dell) or task queue: pending jobs, or all with --all.
    List {
        #[command(flatten)]
        nodes: NodeArgs,
        /// Also show finished jobs.
        #[arg(long)]
        all: bool,
    },
    /// Delete one job (--id) or the whole queue.
    Clear {
        #[command(flatten)]
        nodes: NodeArgs,
        /// The job to delete.
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
}

fn settings(args: &NodeArgs) -> NodeSettings {
    NodeSettings { parallel: args.parallel, bmc_timeout: Duration::from_secs(args.bmc_timeout), insecure: args.insecure }
}

/// Progress of a node command: the usual printer, and with several nodes (and no --json) a
/// line as each one ends.
fn node_progress(args: &NodeArgs, inv: &liveboot_inventory::Inventory) -> Result<liveboot_ops::Progress, Failure> {
    let many = liveboot_ops::nodes::expand(inv, &args.names).map_err(Failure::input)?.len() > 1;
    let json = args.json;
    let print = progress_printer();
    Ok(std::sync::Arc::new(move |e: Event| {
        if let Event::NodeFinished(o) = &e {
            if json {
                // Standard output is the JSON: a failure is said on standard error too.
                return print(e);
            }
            // The report on standard output names the failure; said here once more it would
            // be said twice.
            if many {
                note_raw(&format!("{}: {} after {:.1} s\n", o.node, if o.ok { "done" } else { "failed" }, o.seconds));
            }
            return;
        }
        print(e)
    }))
}

/// The write end of the pipe the signal handler writes the signal's number into.
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_node_signal(sig: libc::c_int) {
    let b = sig as u8;
    // SAFETY: write(2) is async-signal-safe; the fd is the pipe's write end, set before the
    // handler was installed.
    unsafe { libc::write(SIGNAL_PIPE.load(std::sync::atomic::Ordering::SeqCst), (&b as *const u8).cast(), 1) };
}

/// On SIGINT or SIGTERM during a node command: end every BMC session this process has open,
/// then exit 130 or 143. The handler only writes to a pipe; a thread does the logging out,
/// which a handler cannot.
fn end_sessions_on_signal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills the two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        SIGNAL_PIPE.store(fds[1], std::sync::atomic::Ordering::SeqCst);
        std::thread::spawn(move || {
            let mut b = 0u8;
            // SAFETY: reading one byte into `b` from the pipe's read end.
            while unsafe { libc::read(fds[0], (&mut b as *mut u8).cast(), 1) } != 1 {}
            let ended = liveboot_ops::nodes::end_open_sessions();
            note_raw(&format!("\ninterrupted: ended {ended} BMC session(s)\n"));
            std::process::exit(128 + i32::from(b));
        });
        let handler = on_node_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only writes one byte to a pipe.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    });
}

/// Runs `action` on every node named and reports.
pub fn run(args: &NodeArgs, action: Action) -> Result<(), Failure> {
    end_sessions_on_signal();
    let inv = liveboot_ops::nodes::load(&args.inventory).map_err(Failure::input)?;
    let progress = node_progress(args, &inv)?;
    let outcomes = liveboot_ops::nodes::run(&inv, &args.names, &settings(args), &action, None, progress).map_err(Failure::input)?;
    report(args, &outcomes)
}

fn report(args: &NodeArgs, outcomes: &[NodeOutcome]) -> Result<(), Failure> {
    if args.json {
        println_or_exit(&serde_json::to_string_pretty(outcomes).expect("serializes"));
    } else {
        for o in outcomes {
            println_or_exit(&human(o));
        }
    }
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        return Err(Failure { message: format!("{failed} of {} nodes failed", outcomes.len()), code: 1 });
    }
    Ok(())
}

fn println_or_exit(s: &str) {
    use std::io::Write;
    if writeln!(std::io::stdout().lock(), "{s}").is_err() {
        std::process::exit(0);
    }
}

fn value_text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn human(o: &NodeOutcome) -> String {
    let node = &o.node;
    let mut parts: Vec<String> = Vec::new();
    match &o.result {
        NodeResult::Failed { error, .. } => return format!("{node:<12} FAILED  {error}"),
        NodeResult::Status { power, info, media, bios, ping, ssh } => {
            // One block per node: the first line as for every command, then labelled lines.
            parts.push(format!("power {power}"));
            parts.push(format!("ping {ping}"));
            parts.push(format!("ssh {ssh}"));
            let mut lines: Vec<(&str, String)> = Vec::new();
            let join = |items: Vec<String>| items.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("  ");
            let opt = |label: &str, v: &Option<String>| v.as_ref().map(|v| format!("{label}{v}")).unwrap_or_default();
            let system = join(vec![
                [info.manufacturer.clone(), info.model.clone()].into_iter().flatten().collect::<Vec<_>>().join(" "),
                opt("serial ", &info.serial),
                opt("id ", &info.system_id),
                opt("health ", &info.health),
                format!("({})", info.vendor),
            ]);
            lines.push(("system", system));
            let firmware = join(vec![opt("BIOS ", &info.bios_version), opt("BMC ", &info.bmc_firmware)]);
            if !firmware.is_empty() {
                lines.push(("firmware", firmware));
            }
            let boot = join(vec![info.boot_mode.clone().unwrap_or_default(), opt("next boot: ", &info.boot_override)]);
            if !boot.is_empty() {
                lines.push(("boot", boot));
            }
            if !media.is_empty() {
                let slots = media.iter().map(|s| {
                    let how =
                        [s.inserted.map(|i| if i { "inserted".to_string() } else { "not inserted".to_string() }), s.connected_via.clone()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(", ");
                    let what = s.image.as_deref().map(|i| if i.is_empty() { "(connected)" } else { i }).unwrap_or("empty");
                    if how.is_empty() {
                        format!("{}: {what}", s.id)
                    } else {
                        format!("{}: {what} ({how})", s.id)
                    }
                });
                lines.push(("media", slots.collect::<Vec<_>>().join("  ")));
            }
            for j in &info.pending_jobs {
                lines.push(("job", format!("{} {} {} {}", j.id, j.state, j.name, j.message).trim().to_string()));
            }
            if !bios.is_empty() {
                lines.push(("bios", bios.iter().map(|(k, v)| format!("{k}={}", value_text(v))).collect::<Vec<_>>().join("  ")));
            }
            let block: String = lines.iter().map(|(label, text)| format!("\n    {label:<9}{text}")).collect();
            return format!("{node:<12} ok      {}{block}", parts.join("  "));
        }
        NodeResult::Power { power, result } => {
            parts.push(format!("power {power}"));
            parts.extend(result.iter().map(|r| format!("result {r}")));
        }
        NodeResult::Done { result } => parts.push(format!("result {result}")),
        NodeResult::Booted { image, ssh, .. } => {
            parts.extend(ssh.iter().map(|s| format!("ssh {s}")));
            parts.push(format!("image {image}"));
        }
        NodeResult::Ssh { ssh } => parts.push(format!("ssh {ssh}")),
        NodeResult::Attributes { attributes } => {
            parts.extend(attributes.iter().map(|(k, v)| format!("\n    {k} = {}", value_text(v))));
        }
        NodeResult::Jobs { jobs } => {
            if jobs.is_empty() {
                parts.push("no jobs".into());
            }
            parts.extend(jobs.iter().map(|j| format!("\n    {} {} {} {}", j.id, j.state, j.name, j.message)));
        }
    }
    format!("{node:<12} ok      {}", parts.join("  "))
}

/// Parses `K=V` arguments of `bios set` out of the names.
pub fn split_settings(names: &[String]) -> (Vec<String>, Vec<(String, String)>) {
    let mut nodes = Vec::new();
    let mut pairs = Vec::new();
    for n in names {
        match n.split_once('=') {
            Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
            None => nodes.push(n.clone()),
        }
    }
    (nodes, pairs)
}

/// `liveboot boot`.
pub fn boot(project: &Project, a: BootArgs) -> Result<(), Failure> {
    end_sessions_on_signal();
    let inv = liveboot_ops::nodes::load(&a.nodes.inventory).map_err(Failure::input)?;
    let progress = node_progress(&a.nodes, &inv)?;
    let b = BootSettings { image: a.image, out: a.out, wait: a.wait.then(|| Duration::from_secs(a.timeout)) };
    let outcomes = liveboot_ops::nodes::boot(project, &inv, &a.nodes.names, &settings(&a.nodes), &b, progress).map_err(Failure::input)?;
    report(&a.nodes, &outcomes)
}

/// `liveboot console`.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The node.
    pub node: String,
    /// The inventory file.
    #[arg(long, env = "LIVEBOOT_INVENTORY", default_value = "inventory.yaml", value_name = "FILE")]
    pub inventory: PathBuf,
}

/// Serial-over-LAN through ipmitool, attached to this terminal.
pub fn console(a: &ConsoleArgs) -> Result<(), Failure> {
    let inv = liveboot_ops::nodes::load(&a.inventory).map_err(Failure::input)?;
    let cmd = liveboot_ops::nodes::console_command(&inv, &a.node).map_err(Failure::input)?;
    let status = liveboot_runner::Runner::new().run_attached(&cmd).map_err(Failure::input)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure { message: format!("{}: the console ended with {status}", a.node), code: 1 })
    }
}
