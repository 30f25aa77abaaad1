//! The `liveboot` command line: argument parsing, output and exit codes over the library crates.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde::Serialize;
use sha2::{Digest, Sha256};

use liveboot_publish::write_batch;
use liveboot_recipe::plan::{plan, PlanOptions};
use liveboot_seed::{seed_file_name, SeedRenderer};

/// Build cloud-init live images and boot bare-metal servers from them.
///
/// Recipes (recipes/*.yaml) describe images; the inventory (inventory.yaml) describes nodes,
/// their BMCs and the slices of users that share SSH keys.
#[derive(Debug, Parser)]
#[command(name = "liveboot", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Project folder holding recipes/ and templates/.
    #[arg(short = 'C', long, global = true, default_value = ".", value_name = "DIR")]
    pub project: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the build plan of a recipe: stages, their inputs and cache keys, what they run.
    ///
    /// Planning reads only the recipe's own files; it runs nothing and needs no root.
    #[command(
        after_help = "Examples:\n  liveboot plan debian12\n  liveboot plan f37 --json | jq '.stages[].name'\n  liveboot plan ./my-recipe.yaml"
    )]
    Plan(PlanArgs),
    /// Check recipes (all by default) and, with --inventory, an inventory; report every problem.
    #[command(after_help = "Examples:\n  liveboot check\n  liveboot check debian12 u22 --inventory examples/inventory.yaml")]
    Check(CheckArgs),
    /// Build a recipe's artifacts (live ISO, PXE bundle, manifest.json, SHA256SUMS) into out/<recipe>/.
    ///
    /// Stages are cached by the hash of their inputs: a second build with nothing changed reuses
    /// everything, and changing the kernel arguments reruns only the boot menus and the ISO.
    /// SOURCE_DATE_EPOCH comes from --source-date-epoch, else the environment, else the release
    /// day of the recipe's distribution release (never the clock).
    /// Needs root: the root filesystem holds files of other owners, device nodes and file
    /// capabilities.
    #[command(after_help = "Examples:\n  sudo liveboot build debian12\n  liveboot build debian12 --json | jq '.stages[] | select(.ran)'")]
    Build(BuildArgs),
    /// Boot a built image in QEMU with a throwaway seed and key, wait for SSH, run commands.
    ///
    /// Says how long SSH took to answer, checks that cloud-init finished and set the seed's
    /// host name, runs the --exec commands, then powers the machine off. KVM is used when it
    /// really works on this host (probed once, then remembered), else TCG.
    #[command(
        after_help = "Examples:\n  liveboot try debian12\n  liveboot try debian12 --uefi --usb\n  liveboot try out/debian12/debian12.iso --exec 'getcap /usr/bin/ping' --json"
    )]
    Try(TryArgs),
    /// Serve a folder over HTTP/1.1 (GET, HEAD, Range, ETag) for BMCs and netbooting nodes.
    #[command(after_help = "Examples:\n  liveboot serve /srv/liveboot --bind 0.0.0.0:8080\n  liveboot serve out/published")]
    Serve(ServeArgs),
    /// Publish files under immutable content-addressed names (a new file gets a new URL).
    #[command(
        after_help = "Examples:\n  liveboot publish out/debian12/debian12.iso --dir /srv/liveboot --base-url http://10.0.0.1:8080\n  liveboot publish out/debian12/debian12.iso --dir out/published --json"
    )]
    Publish(PublishArgs),
    /// Remove cached stages that no published build (out/*/manifest.json) refers to.
    #[command(after_help = "Examples:\n  liveboot prune --dry-run\n  liveboot prune --json")]
    Prune(PruneArgs),
    /// Write NoCloud seed images (cidata ISO 9660) for nodes of the inventory.
    ///
    /// One image per node, named cidata-<node>.iso, holding user-data (slice keys for root and
    /// the default user, host name, password login off), meta-data (an instance-id that changes
    /// exactly when the seed's content does) and, when the node has static network settings,
    /// network-config. Same inputs, same bytes.
    #[command(
        after_help = "Examples:\n  liveboot seed --inventory inventory.yaml --slice alice --out seeds/\n  liveboot seed --inventory inventory.yaml --node w1 --node w2 --out seeds/ --json"
    )]
    Seed(SeedArgs),
    /// Show each node's power state, virtual media, chosen BIOS attributes, ping and SSH.
    #[command(after_help = "Examples:\n  liveboot status w1 w2\n  liveboot status alice --json | jq '.[] | {node, power}'")]
    Status(nodes::NodeArgs),
    /// Power nodes on (and wait until their BMCs say On).
    #[command(after_help = "Examples:\n  liveboot on w1\n  liveboot on alice --parallel 4")]
    On(nodes::NodeArgs),
    /// Shut nodes down gracefully; force power off after --grace seconds.
    #[command(after_help = "Examples:\n  liveboot off w1\n  liveboot off w1 --grace 30")]
    Off(nodes::OffArgs),
    /// Restart nodes (power on those that are off).
    #[command(after_help = "Examples:\n  liveboot reboot w1 w2")]
    Reboot(nodes::NodeArgs),
    /// Boot nodes live from an image through their BMCs.
    ///
    /// Redfish: checks that the image URL answers ranges, publishes each node's seed, ejects
    /// every virtual medium, inserts the image and the seed, sets a one-time boot from the
    /// virtual CD and power-cycles. IPMI: boot device PXE (UEFI) and power cycle.
    #[command(
        after_help = "Examples:\n  liveboot boot w3 --image debian12 --wait\n  liveboot boot alice --image http://10.0.0.1:8080/debian12-3f2a9c1b.iso --json"
    )]
    Boot(nodes::BootArgs),
    /// Eject every virtual medium and boot nodes from their disks.
    #[command(after_help = "Examples:\n  liveboot diskboot w3")]
    Diskboot(nodes::NodeArgs),
    /// Wait until SSH answers on nodes (with a banner), up to --timeout seconds.
    #[command(after_help = "Examples:\n  liveboot wait w3 --timeout 600")]
    Wait(nodes::WaitArgs),
    /// Read, set or reset BIOS attributes (Redfish).
    #[command(subcommand)]
    Bios(nodes::BiosCommand),
    /// List or clear the BMC's job queue (Redfish).
    #[command(subcommand)]
    Jobs(nodes::JobsCommand),
    /// Attach to a node's serial console (IPMI serial-over-LAN; ~. ends it).
    #[command(after_help = "Examples:\n  liveboot console w3")]
    Console(nodes::ConsoleArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Recipe name (recipes/<name>.yaml) or path to a recipe file.
    pub recipe: String,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// SOURCE_DATE_EPOCH to pin in the plan (defaults to the environment's).
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Recipe name (recipes/<name>.yaml) or path to a recipe file.
    pub recipe: String,
    /// Stage cache folder [default: <project>/.cache/liveboot].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Output folder; artifacts go to <out>/<recipe>/ [default: <project>/out].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// SOURCE_DATE_EPOCH to pin (seconds since 1970).
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
    /// Print the build report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The folder to serve.
    pub dir: PathBuf,
    /// Address and port to listen on (loopback unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub bind: String,
    /// Print one line per request.
    #[arg(long)]
    pub log: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Files to publish.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The folder a web server (or `liveboot serve`) serves.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The URL that folder is served under, to print full URLs.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Stage cache folder [default: <project>/.cache/liveboot].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Output folder whose manifests say which stages to keep [default: <project>/out].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only say what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TryArgs {
    /// A recipe (boots out/<recipe>/<recipe>.iso) or the path of an ISO image.
    pub image: String,
    /// Boot with UEFI firmware (OVMF) instead of BIOS.
    #[arg(long)]
    pub uefi: bool,
    /// Attach the image as a USB stick instead of a CD.
    #[arg(long)]
    pub usb: bool,
    /// Accelerator: auto (KVM when it works here, else TCG), kvm or tcg.
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    pub accel: AccelArg,
    /// Seconds to wait for SSH.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// A command to run over SSH once the machine is up (repeat for several).
    #[arg(long, value_name = "COMMAND")]
    pub exec: Vec<String>,
    /// Output folder the recipe's image is in [default: <project>/out].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Accelerator choice on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AccelArg {
    /// KVM when a probe boot works, else TCG.
    Auto,
    /// Hardware virtualisation.
    Kvm,
    /// Software emulation.
    Tcg,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Recipes to check; all of recipes/ when none is named.
    pub recipes: Vec<String>,
    /// Also check this inventory.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["node", "slice", "all"])))]
pub struct SeedArgs {
    /// The inventory file.
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// A node (repeat for several).
    #[arg(long, value_name = "NODE")]
    pub node: Vec<String>,
    /// Every node of a slice.
    #[arg(long, value_name = "SLICE")]
    pub slice: Option<String>,
    /// Every node that belongs to a slice.
    #[arg(long)]
    pub all: bool,
    /// Where to write the images (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Image format: iso (cidata-NODE.iso, for virtual CD drives) or vfat (cidata-NODE.img, a
    /// FAT12 image labelled CIDATA, for virtual USB sticks).
    #[arg(long, value_enum, default_value_t = SeedFormat::Iso)]
    pub format: SeedFormat,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Seed image formats on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SeedFormat {
    /// ISO 9660 with Joliet and Rock Ridge.
    Iso,
    /// FAT12 with long file names.
    Vfat,
}

impl From<SeedFormat> for liveboot_seed::Format {
    fn from(f: SeedFormat) -> Self {
        match f {
            SeedFormat::Iso => liveboot_seed::Format::Iso,
            SeedFormat::Vfat => liveboot_seed::Format::Vfat,
        }
    }
}

/// The clap command, for completions and the man page.
pub fn command() -> clap::Command {
    Cli::command()
}

/// A failure to report: already formatted, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Message, possibly several lines.
    pub message: String,
    /// Exit code.
    pub code: i32,
}

impl Failure {
    fn input(message: impl ToString) -> Self {
        Failure { message: message.to_string(), code: 1 }
    }
}

/// Prints a line to standard output; a closed pipe (`liveboot plan f37 | head`) ends the
/// program quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(Failure::input(format!("cannot write to standard output: {e}")));
        }
    }};
}

/// Prints a line to standard error; a closed or broken stderr is not worth a panic (a build
/// must still stop cleanly and exit with its own status).
macro_rules! note {
    ($($arg:tt)*) => {
        note_raw(&format!("{}\n", format!($($arg)*)))
    };
}

mod nodes;

fn note_raw(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    // "-C ." is the default: keep paths in messages short ("recipes/x.yaml", not "./recipes/x.yaml").
    let project = if cli.project == Path::new(".") { PathBuf::new() } else { cli.project };
    let recipes = project.join("recipes");
    let templates = project.join("templates");
    match cli.command {
        Command::Plan(a) => {
            let recipe = liveboot_recipe::load_by_name(&recipes, &a.recipe).map_err(Failure::input)?;
            let p = plan(&recipe, &PlanOptions { templates, source_date_epoch: a.source_date_epoch, tools: tool_versions() })
                .map_err(Failure::input)?;
            if a.json {
                out!("{}", serde_json::to_string_pretty(&p).expect("plan serializes"));
            } else {
                out!("{p}");
            }
            Ok(())
        }
        Command::Check(a) => check(&recipes, &templates, a),
        Command::Build(a) => build(&project, &recipes, &templates, a),
        Command::Try(a) => try_image(&project, &templates, a),
        Command::Serve(a) => {
            let opts = liveboot_publish::ServeOptions { log: a.log, ..Default::default() };
            let server = liveboot_publish::serve(&a.dir, &a.bind, opts)
                .map_err(|e| Failure::input(format!("cannot serve {} on {}: {e}", a.dir.display(), a.bind)))?;
            note!("serving {} on http://{}/ (Ctrl-C stops)", a.dir.display(), server.addr());
            server.join();
            Ok(())
        }
        Command::Publish(a) => {
            #[derive(Serialize)]
            struct Row {
                file: String,
                name: String,
                url: Option<String>,
                sha256: String,
                bytes: u64,
                placed: bool,
            }
            let mut rows = Vec::new();
            for f in &a.files {
                let p = liveboot_publish::publish(f, &a.dir)
                    .map_err(|e| Failure::input(format!("{}: cannot publish into {}: {e}", f.display(), a.dir.display())))?;
                let url = a.base_url.as_ref().map(|b| format!("{}/{}", b.trim_end_matches('/'), p.name));
                rows.push(Row { file: f.display().to_string(), name: p.name, url, sha256: p.sha256, bytes: p.bytes, placed: p.placed });
            }
            if a.json {
                out!("{}", serde_json::to_string_pretty(&rows).expect("serializes"));
            } else {
                for r in &rows {
                    out!("{}  {}{}", r.url.as_deref().unwrap_or(&r.name), r.file, if r.placed { "" } else { " (already published)" });
                }
            }
            Ok(())
        }
        Command::Prune(a) => {
            let cache = a.cache.unwrap_or_else(|| project.join(".cache/liveboot"));
            let out_dir = a.out.unwrap_or_else(|| project.join("out"));
            let r = liveboot_image::prune(&cache, &out_dir, a.dry_run).map_err(Failure::input)?;
            if a.json {
                out!("{}", serde_json::to_string_pretty(&r).expect("serializes"));
            } else {
                let verb = if a.dry_run { "would remove" } else { "removed" };
                for n in &r.removed {
                    out!("{verb} {n}");
                }
                out!(
                    "{verb} {} stages (about {:.1} GiB); kept {} that published builds use",
                    r.removed.len(),
                    r.bytes as f64 / (1u64 << 30) as f64,
                    r.kept.len()
                );
            }
            Ok(())
        }
        Command::Seed(a) => seed(&templates, a),
        Command::Status(a) => nodes::run(&a, nodes::Action::Status, None),
        Command::On(a) => nodes::run(&a, nodes::Action::On, None),
        Command::Off(a) => nodes::run(&a.nodes, nodes::Action::Off(std::time::Duration::from_secs(a.grace)), None),
        Command::Reboot(a) => nodes::run(&a, nodes::Action::Reboot, None),
        Command::Boot(a) => nodes::boot(&project, a),
        Command::Diskboot(a) => nodes::run(&a, nodes::Action::Diskboot, None),
        Command::Wait(a) => nodes::run(&a.nodes, nodes::Action::Wait(std::time::Duration::from_secs(a.timeout)), None),
        Command::Bios(nodes::BiosCommand::Get { nodes: a, pattern }) => nodes::run(&a, nodes::Action::BiosGet(pattern), None),
        Command::Bios(nodes::BiosCommand::Set { nodes: mut a }) => {
            let (names, pairs) = nodes::split_settings(&a.names);
            if pairs.is_empty() {
                return Err(Failure::input("bios set: name the attributes to set, e.g. `liveboot bios set w1 BootMode=Uefi`"));
            }
            a.names = names;
            nodes::run(&a, nodes::Action::BiosSet(pairs), None)
        }
        Command::Bios(nodes::BiosCommand::Reset { nodes: a }) => nodes::run(&a, nodes::Action::BiosReset, None),
        Command::Jobs(nodes::JobsCommand::List { nodes: a, all }) => nodes::run(&a, nodes::Action::Jobs { all }, None),
        Command::Jobs(nodes::JobsCommand::Clear { nodes: a, id }) => nodes::run(&a, nodes::Action::JobsClear(id), None),
        Command::Console(a) => nodes::console(&a),
    }
}

/// Versions of the host packages the stages use (empty when dpkg is not there to ask).
fn tool_versions() -> std::collections::BTreeMap<String, String> {
    let cmd =
        liveboot_runner::Cmd::new("dpkg-query").args(["-W", "-f=${Package} ${Version}\\n"]).args(liveboot_recipe::plan::TOOL_PACKAGES);
    // dpkg-query exits 1 when some package is not installed but still lists the others.
    let out = match liveboot_runner::Runner::new().run(&cmd) {
        Ok(o) => o.stdout_text(),
        Err(liveboot_runner::RunError::Failed { stdout, .. }) => String::from_utf8_lossy(&stdout).into_owned(),
        Err(_) => String::new(),
    };
    out.lines().filter_map(|l| l.split_once(' ')).filter(|(_, v)| !v.is_empty()).map(|(p, v)| (p.to_string(), v.to_string())).collect()
}

/// Set by SIGINT/SIGTERM; the runner kills the running program and the build stops cleanly.
static INTERRUPT: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicBool>> = std::sync::OnceLock::new();

extern "C" fn on_signal(_: libc::c_int) {
    if let Some(flag) = INTERRUPT.get() {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    INTERRUPT
        .get_or_init(|| {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: the handler only stores to an atomic flag.
            unsafe {
                libc::signal(libc::SIGINT, handler);
                libc::signal(libc::SIGTERM, handler);
            }
            Default::default()
        })
        .clone()
}

fn build(project: &Path, recipes: &Path, templates: &Path, a: BuildArgs) -> Result<(), Failure> {
    let recipe = liveboot_recipe::load_by_name(recipes, &a.recipe).map_err(Failure::input)?;
    if !matches!(recipe.spec.source, liveboot_recipe::Source::Bootstrap(_)) {
        return Err(Failure::input(format!(
            "{}: building '{}' recipes is not implemented yet; today `liveboot build` builds `source: bootstrap` (Debian) recipes\n  help: `liveboot plan {}` shows what the build will run",
            recipe.file.display(),
            recipe.spec.source.kind(),
            recipe.spec.name
        )));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Failure::input("building needs root: the root filesystem holds files of other owners, device nodes and file capabilities\n  help: run it with sudo"));
    }
    let p =
        plan(&recipe, &PlanOptions { templates: templates.to_path_buf(), source_date_epoch: a.source_date_epoch, tools: tool_versions() })
            .map_err(Failure::input)?;
    let cache = a.cache.unwrap_or_else(|| project.join(".cache/liveboot"));
    let out = a.out.unwrap_or_else(|| project.join("out"));
    std::fs::create_dir_all(&cache).map_err(|e| Failure::input(format!("{}: cannot create the cache folder: {e}", cache.display())))?;
    let log_path = cache.join(format!("build-{}.log", p.recipe));
    let log = std::fs::File::create(&log_path).map_err(|e| Failure::input(format!("{}: {e}", log_path.display())))?;
    let interrupt = interrupt_flag();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
    let s2 = started.clone();
    let lines: liveboot_runner::LineSink = std::sync::Arc::new(move |line: &str| {
        if tty {
            let t = s2.lock().map(|s| s.elapsed().as_secs()).unwrap_or(0);
            let short: String = line.chars().take(90).collect();
            note_raw(&format!("\r\x1b[K      {:>2}:{:02} {short}", t / 60, t % 60));
        }
    });
    let runner = liveboot_runner::Runner::new().with_log(log).with_interrupt(interrupt.clone()).with_lines(lines);
    let progress = std::sync::Arc::new(move |e: liveboot_image::Event| {
        use liveboot_image::Event;
        let clear = if tty { "\r\x1b[K" } else { "" };
        match e {
            Event::Reused { index, total, stage } => note!("{clear}[{}/{total}] {stage:<10} reused", index + 1),
            Event::Started { index, total, stage } => {
                if let Ok(mut s) = started.lock() {
                    *s = std::time::Instant::now();
                }
                note!("{clear}[{}/{total}] {stage:<10} running", index + 1)
            }
            Event::Finished { index, total, stage, elapsed } => {
                note!("{clear}[{}/{total}] {stage:<10} ran in {:.1} s", index + 1, elapsed.as_secs_f64())
            }
        }
    });
    let opts = liveboot_image::BuildOptions { cache, out, templates: templates.to_path_buf(), runner, interrupt, progress };
    match liveboot_image::build(&p, &opts) {
        Ok(report) => {
            if a.json {
                out!("{}", serde_json::to_string_pretty(&report).expect("serializes"));
            } else {
                for art in &report.manifest.artifacts {
                    out!("{}  {}", &art.sha256[..16], report.out.join(&art.name).display());
                }
            }
            Ok(())
        }
        Err(e) if e.interrupted => {
            Err(Failure { message: format!("{e}; nothing was left at a final path (log: {})", log_path.display()), code: 130 })
        }
        Err(e) => Err(Failure::input(format!("{e}\n  log: {}", log_path.display()))),
    }
}

#[derive(Serialize)]
struct TryResult {
    image: String,
    firmware: liveboot_qemu::Firmware,
    medium: liveboot_qemu::Medium,
    accel: liveboot_qemu::Accel,
    time_to_ssh_seconds: f64,
    hostname: String,
    cloud_init: String,
    commands: Vec<TryCommand>,
}

#[derive(Serialize)]
struct TryCommand {
    command: String,
    ok: bool,
    output: String,
}

fn try_image(project: &Path, templates: &Path, a: TryArgs) -> Result<(), Failure> {
    use liveboot_qemu::{Accel, Firmware, Medium};
    use std::time::Duration;
    let image = if a.image.ends_with(".iso") || a.image.contains('/') {
        PathBuf::from(&a.image)
    } else {
        a.out.clone().unwrap_or_else(|| project.join("out")).join(&a.image).join(format!("{}.iso", a.image))
    };
    if !image.is_file() {
        return Err(Failure::input(format!("{} does not exist\n  help: build it first: liveboot build {}", image.display(), a.image)));
    }
    let name = image.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string();
    let cache = project.join(".cache/liveboot");
    std::fs::create_dir_all(&cache).map_err(|e| Failure::input(format!("{}: {e}", cache.display())))?;
    let work =
        tempfile::Builder::new().prefix("try-").tempdir_in(&cache).map_err(|e| Failure::input(format!("{}: {e}", cache.display())))?;
    let w = work.path();
    let runner = liveboot_runner::Runner::new().with_interrupt(interrupt_flag());
    let fail = |m: String| Failure::input(m);

    // A throwaway key and a seed that puts it on root.
    let key = w.join("key");
    runner
        .run(&liveboot_runner::Cmd::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "liveboot-try", "-f"]).arg(&key))
        .map_err(|e| fail(e.to_string()))?;
    let public = std::fs::read_to_string(w.join("key.pub")).map_err(|e| fail(e.to_string()))?;
    let hostname = format!("try-{}", name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"));
    let renderer = SeedRenderer::new(templates).map_err(Failure::input)?;
    let facts = liveboot_seed::NodeFacts {
        name: "try".into(),
        hostname: hostname.clone(),
        fqdn: hostname.clone(),
        ssh_keys: vec![public.trim().to_string()],
        ..Default::default()
    };
    let seed = renderer.render(&facts).map_err(Failure::input)?;
    std::fs::write(w.join("seed.iso"), seed.to_iso()).map_err(|e| fail(e.to_string()))?;

    let accel = match a.accel {
        AccelArg::Kvm => Accel::Kvm,
        AccelArg::Tcg => Accel::Tcg,
        AccelArg::Auto => liveboot_qemu::detect_accel_cached(&runner, &image, w, &cache.join("accel")).map_err(fail)?,
    };
    let spec = liveboot_qemu::VmSpec {
        image: image.clone(),
        seed: Some(w.join("seed.iso")),
        firmware: if a.uefi { Firmware::Uefi } else { Firmware::Bios },
        medium: if a.usb { Medium::Usb } else { Medium::Cd },
        accel,
        memory_mib: 2048,
        work: w.to_path_buf(),
    };
    note!("booting {} ({:?}, {:?}, {:?})", image.display(), spec.firmware, spec.medium, accel);
    let mut vm = liveboot_qemu::start(&runner, &spec).map_err(fail)?;
    let ssh = liveboot_qemu::Ssh { key: key.clone(), user: "root".into(), port: vm.ssh_port };
    let waited = match vm.wait_for_ssh(&runner, &ssh, Duration::from_secs(a.timeout)) {
        Ok(t) => t,
        Err(e) => {
            let kept = work.keep();
            return Err(fail(format!("{e}\n  the serial log and QEMU's log are kept in {}", kept.display())));
        }
    };
    note!("SSH answered after {:.1} s", waited.as_secs_f64());
    let remote = |cmd: &str, secs: u64| runner.run(&ssh.command(cmd, Duration::from_secs(secs)));
    // `status --long` says which module failed; it exits non-zero then, and its output is kept.
    let cloud_init = match remote("cloud-init status --wait --long", 900) {
        Ok(liveboot_runner::Output { stdout, .. }) | Err(liveboot_runner::RunError::Failed { stdout, .. }) => {
            let text = String::from_utf8_lossy(&stdout);
            let status = text.lines().find_map(|l| l.trim().strip_prefix("status: ")).unwrap_or("unknown").to_string();
            if status == "done" {
                "status: done".to_string()
            } else {
                format!("status: {status}: {}", text.lines().filter(|l| !l.starts_with("status:")).collect::<Vec<_>>().join(" | "))
            }
        }
        Err(e) => format!("failed: {e}"),
    };
    let got_hostname = remote("hostname", 30).map(|o| o.stdout_text().trim().to_string()).unwrap_or_default();
    let mut commands = Vec::new();
    for c in &a.exec {
        let (ok, output) = match remote(c, 300) {
            Ok(o) => (true, o.stdout_text()),
            Err(e) => (false, e.to_string()),
        };
        commands.push(TryCommand { command: c.clone(), ok, output });
    }
    vm.shutdown(&runner, &ssh, Duration::from_secs(60));
    let result = TryResult {
        image: image.display().to_string(),
        firmware: spec.firmware,
        medium: spec.medium,
        accel,
        time_to_ssh_seconds: (waited.as_secs_f64() * 10.0).round() / 10.0,
        hostname: got_hostname.clone(),
        cloud_init: cloud_init.clone(),
        commands,
    };
    if a.json {
        out!("{}", serde_json::to_string_pretty(&result).expect("serializes"));
    } else {
        out!("time to SSH: {:.1} s ({:?}, {:?}, {:?})", result.time_to_ssh_seconds, result.firmware, result.medium, result.accel);
        out!("cloud-init:  {}", result.cloud_init);
        out!("hostname:    {}", result.hostname);
        for c in &result.commands {
            out!("$ {}{}\n{}", c.command, if c.ok { "" } else { "  (failed)" }, c.output.trim_end());
        }
    }
    let mut problems = Vec::new();
    if cloud_init != "status: done" {
        problems.push(format!("cloud-init did not finish cleanly ({cloud_init})"));
    }
    if got_hostname != hostname {
        problems.push(format!("the host name is '{got_hostname}', not the seed's '{hostname}'"));
    }
    if result.commands.iter().any(|c| !c.ok) {
        problems.push("a command failed".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::input(problems.join("; ")))
    }
}

#[derive(Serialize)]
struct CheckResult {
    file: String,
    ok: bool,
    problems: Vec<String>,
}

fn check(recipes: &Path, templates: &Path, a: CheckArgs) -> Result<(), Failure> {
    let names = if a.recipes.is_empty() {
        liveboot_recipe::recipe_names(recipes).map_err(|e| Failure::input(format!("{}: cannot list recipes: {e}", recipes.display())))?
    } else {
        a.recipes.clone()
    };
    let mut results = Vec::new();
    for name in &names {
        let outcome = liveboot_recipe::load_by_name(recipes, name).map_err(|d| d.to_string()).and_then(|r| {
            plan(&r, &PlanOptions { templates: templates.to_path_buf(), source_date_epoch: None, tools: Default::default() })
                .map(|_| ())
                .map_err(|d| d.to_string())
        });
        results.push(CheckResult { file: name.clone(), ok: outcome.is_ok(), problems: outcome.err().into_iter().collect() });
    }
    if let Some(inv) = &a.inventory {
        let outcome = liveboot_inventory::load(inv);
        results.push(CheckResult {
            file: inv.display().to_string(),
            ok: outcome.is_ok(),
            problems: outcome.err().map(|d| d.to_string()).into_iter().collect(),
        });
    }
    let bad = results.iter().filter(|r| !r.ok).count();
    if a.json {
        out!("{}", serde_json::to_string_pretty(&results).expect("serializes"));
    } else {
        for r in &results {
            if r.ok {
                out!("ok      {}", r.file);
            } else {
                out!("FAILED  {}", r.file);
                for p in &r.problems {
                    note!("{p}");
                }
            }
        }
    }
    if bad > 0 {
        return Err(Failure::input(format!("{bad} of {} files have problems", results.len())));
    }
    Ok(())
}

#[derive(Serialize)]
struct SeedResult {
    node: String,
    file: String,
    instance_id: String,
    uuid: String,
    bytes: usize,
    sha256: String,
    changed: bool,
}

/// The UUID blkid reports for a seed image: the ISO's date, or the FAT volume serial.
fn volume_uuid(image: &[u8], format: SeedFormat) -> String {
    match format {
        SeedFormat::Iso => liveboot_iso::IsoReader::open(std::io::Cursor::new(image)).map(|r| r.uuid).unwrap_or_default(),
        SeedFormat::Vfat => {
            let s = u32::from_le_bytes([image[39], image[40], image[41], image[42]]);
            format!("{:04X}-{:04X}", s >> 16, s & 0xFFFF)
        }
    }
}

fn seed(templates: &Path, a: SeedArgs) -> Result<(), Failure> {
    let inv = liveboot_inventory::load(&a.inventory).map_err(Failure::input)?;
    let nodes: Vec<String> = if a.all {
        inv.slices.values().flat_map(|s| s.nodes.iter().cloned()).collect()
    } else if let Some(s) = &a.slice {
        let slice = inv.slices.get(s).ok_or_else(|| {
            Failure::input(format!(
                "{}: no slice '{s}'\n  help: the slices are: {}",
                a.inventory.display(),
                inv.slices.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        slice.nodes.clone()
    } else {
        a.node.clone()
    };
    let renderer = SeedRenderer::new(templates).map_err(Failure::input)?;
    // Render every seed before writing any, so that a bad node leaves no partial set behind.
    let seeds = nodes.iter().map(|n| renderer.render_node(&inv, n)).collect::<Result<Vec<_>, _>>().map_err(Failure::input)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Failure::input(format!("{}: cannot create the output folder: {e}", a.out.display())))?;
    let mut results = Vec::new();
    let mut writes = Vec::new();
    for s in &seeds {
        let iso = s.image(a.format.into());
        let path = a.out.join(seed_file_name(&s.node, a.format.into()));
        let changed = std::fs::read(&path).map(|old| old != iso).unwrap_or(true);
        results.push(SeedResult {
            node: s.node.clone(),
            file: path.display().to_string(),
            instance_id: s.instance_id.clone(),
            uuid: volume_uuid(&iso, a.format),
            bytes: iso.len(),
            sha256: Sha256::digest(&iso).iter().map(|b| format!("{b:02x}")).collect(),
            changed,
        });
        if changed {
            writes.push((path, iso));
        }
    }
    write_batch(&writes).map_err(|e| Failure::input(format!("{}: cannot write the seeds: {e}", a.out.display())))?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&results).expect("serializes"));
    } else {
        out!("{:<12} {:<34} {:<24} {:>8}  file", "node", "instance-id", "uuid", "bytes");
        for r in &results {
            let note = if r.changed { "" } else { " (unchanged)" };
            out!("{:<12} {:<34} {:<24} {:>8}  {}{note}", r.node, r.instance_id, r.uuid, r.bytes, r.file);
        }
    }
    Ok(())
}
