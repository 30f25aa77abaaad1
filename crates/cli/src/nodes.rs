//! The node commands: status, on, off, reboot, boot, diskboot, wait, bios, jobs, console.
//!
//! Each takes nodes and slices by name, works on up to `--parallel` nodes at once, and gives
//! one result per node: a line for people, an object for scripts (`--json`). The exit code is
//! 1 when any node failed. Passwords are read from where the inventory says, at the moment a
//! BMC needs them, and go nowhere else.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use liveboot_bmc::{BmcError, Driver, Protocol, Secret, SeedUrls, Target, Timing, Tls};
use liveboot_inventory::Inventory;

use crate::{note_raw, Failure};

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

/// What a node command does to one node.
pub enum Action {
    Status,
    On,
    Off(Duration),
    Reboot,
    Boot { image_url: String, wait: Option<Duration> },
    Diskboot,
    Wait(Duration),
    BiosGet(Option<String>),
    BiosSet(Vec<(String, String)>),
    BiosReset,
    Jobs { all: bool },
    JobsClear(Option<String>),
}

fn load(path: &Path) -> Result<Inventory, Failure> {
    liveboot_inventory::load(path).map_err(|d| Failure::input(d.to_string()))
}

/// Node names from nodes and slices; unknown names are an error listing what exists.
fn expand(inv: &Inventory, names: &[String]) -> Result<Vec<String>, Failure> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let found: Vec<String> = if inv.nodes.contains_key(n) {
            vec![n.clone()]
        } else if let Some(s) = inv.slices.get(n) {
            s.nodes.clone()
        } else {
            let known: Vec<&String> = inv.nodes.keys().chain(inv.slices.keys()).collect();
            let close = known.iter().filter(|k| strsim_close(k, n)).map(|k| format!("'{k}'")).collect::<Vec<_>>();
            return Err(Failure::input(format!(
                "{}: no node or slice named '{n}'{}",
                inv.file.display(),
                if close.is_empty() { String::new() } else { format!(" (did you mean {}?)", close.join(" or ")) }
            )));
        };
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn strsim_close(a: &str, b: &str) -> bool {
    // One edit for short names, two for longer ones: enough for typos like w13/w31.
    strsim::damerau_levenshtein(a, b) <= if b.chars().count() <= 3 { 1 } else { 2 }
}

/// The BMC connection settings of a node (the password read now).
fn target(inv: &Inventory, node: &str, insecure: bool) -> Result<Target, BmcError> {
    let spec = &inv.nodes[node];
    let fail = |m: String| BmcError { node: node.into(), step: "read credentials".into(), message: m };
    let password = inv.bmc_password(node).map_err(fail)?;
    let tls = if insecure {
        Tls::Insecure
    } else if let Some(fp) = spec.bmc.fingerprint.as_deref().and_then(liveboot_inventory::parse_fingerprint) {
        Tls::Fingerprint(fp)
    } else {
        Tls::Verify { ca_file: spec.bmc.ca_file.as_ref().map(|c| inv.base_dir().join(c)) }
    };
    Ok(Target {
        node: node.into(),
        address: spec.bmc.address.clone(),
        protocol: spec.bmc.protocol,
        vendor: spec.bmc.vendor,
        username: spec.bmc.username.clone(),
        password: Secret::new(password),
        tls,
        cipher_suite: spec.bmc.cipher_suite,
        system: spec.bmc.system.clone(),
    })
}

/// Writes and publishes a node's seed before its boot (see [`boot`]).
pub type SeedPublisher<'a> = dyn Fn(&Inventory, &str) -> Result<SeedUrls, String> + Sync + 'a;

/// Runs `action` on every node named, `--parallel` at a time, and reports.
pub fn run(args: &NodeArgs, action: Action, prepare: Option<&SeedPublisher<'_>>) -> Result<(), Failure> {
    let inv = load(&args.inventory)?;
    let nodes = expand(&inv, &args.names)?;
    if args.insecure {
        note_raw("warning: --insecure: BMC certificates are not checked\n");
    }
    let timing = Timing { request: Duration::from_secs(args.bmc_timeout.max(1)), ..Timing::default() };
    let results: Arc<Mutex<BTreeMap<String, Value>>> = Default::default();
    let queue = Arc::new(Mutex::new(nodes.clone()));
    let action = Arc::new(action);
    let many = nodes.len() > 1;
    std::thread::scope(|s| {
        for _ in 0..args.parallel.clamp(1, 64).min(nodes.len()) {
            let (queue, results, action, inv, timing) = (queue.clone(), results.clone(), action.clone(), &inv, &timing);
            s.spawn(move || loop {
                let Some(node) = queue.lock().unwrap().pop() else { break };
                let start = Instant::now();
                let seed = match prepare {
                    Some(f) => f(inv, &node).map(Some).map_err(|m| BmcError { node: node.clone(), step: "publish seed".into(), message: m }),
                    None => Ok(None),
                };
                let r = seed.and_then(|seed| one(inv, &node, &action, timing, seed.as_ref(), args.insecure));
                let secs = start.elapsed().as_secs_f64();
                if many && !args.json {
                    note_raw(&format!("{node}: {} after {secs:.1} s\n", if r.is_ok() { "done" } else { "failed" }));
                }
                let v = match r {
                    Ok(mut v) => {
                        v["node"] = json!(node);
                        v["ok"] = json!(true);
                        v["seconds"] = json!((secs * 10.0).round() / 10.0);
                        v
                    }
                    Err(e) => {
                        note_raw(&format!("error: {e}\n"));
                        json!({ "node": node, "ok": false, "step": e.step, "error": e.to_string(), "seconds": (secs * 10.0).round() / 10.0 })
                    }
                };
                results.lock().unwrap().insert(node, v);
            });
        }
    });
    let results = Arc::try_unwrap(results).map(|m| m.into_inner().unwrap()).unwrap_or_default();
    let failed = results.values().filter(|v| v["ok"] == false).count();
    if args.json {
        let all: Vec<&Value> = nodes.iter().filter_map(|n| results.get(n)).collect();
        println_or_exit(&serde_json::to_string_pretty(&all).expect("serializes"));
    } else {
        for n in &nodes {
            if let Some(v) = results.get(n) {
                println_or_exit(&human(v));
            }
        }
    }
    if failed > 0 {
        return Err(Failure { message: format!("{failed} of {} nodes failed", nodes.len()), code: 1 });
    }
    Ok(())
}

fn println_or_exit(s: &str) {
    use std::io::Write;
    if writeln!(std::io::stdout().lock(), "{s}").is_err() {
        std::process::exit(0);
    }
}

fn human(v: &Value) -> String {
    let node = v["node"].as_str().unwrap_or("");
    if v["ok"] == false {
        return format!("{node:<12} FAILED  {}", v["error"].as_str().unwrap_or(""));
    }
    let mut parts = Vec::new();
    if let Some(p) = v.get("power").and_then(Value::as_str) {
        parts.push(format!("power {p}"));
    }
    if let Some(m) = v.get("media").and_then(Value::as_array) {
        let slots: Vec<String> =
            m.iter().map(|s| format!("{}={}", s["id"].as_str().unwrap_or(""), s["image"].as_str().unwrap_or("empty"))).collect();
        if !slots.is_empty() {
            parts.push(format!("media {}", slots.join(" ")));
        }
    }
    if let Some(b) = v.get("bios").and_then(Value::as_object) {
        for (k, val) in b {
            parts.push(format!("{k}={}", val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string())));
        }
    }
    for key in ["ping", "ssh", "result", "image"] {
        if let Some(x) = v.get(key).and_then(Value::as_str) {
            parts.push(format!("{key} {x}"));
        }
    }
    if let Some(jobs) = v.get("jobs").and_then(Value::as_array) {
        if jobs.is_empty() {
            parts.push("no jobs".into());
        }
        for j in jobs {
            parts.push(format!(
                "\n    {} {} {} {}",
                j["id"].as_str().unwrap_or(""),
                j["state"].as_str().unwrap_or(""),
                j["name"].as_str().unwrap_or(""),
                j["message"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(attrs) = v.get("attributes").and_then(Value::as_object) {
        for (k, val) in attrs {
            parts.push(format!("\n    {k} = {}", val.as_str().map(str::to_string).unwrap_or_else(|| val.to_string())));
        }
    }
    format!("{node:<12} ok      {}", parts.join("  "))
}

fn one(inv: &Inventory, node: &str, action: &Action, timing: &Timing, seed: Option<&SeedUrls>, insecure: bool) -> Result<Value, BmcError> {
    let ssh = inv.ssh_address(node);
    if let Action::Wait(t) = action {
        let banner = wait_ssh(node, &ssh, *t)?;
        return Ok(json!({ "ssh": banner }));
    }
    let t = target(inv, node, insecure)?;
    let mut d = Driver::connect(&t, timing)?;
    let step = |s: &str, m: String| BmcError { node: node.into(), step: s.into(), message: m };
    Ok(match action {
        Action::Status => {
            let power = d.power()?;
            let media = d.media()?;
            let wanted = &inv.nodes[node].bios_attributes;
            let bios: serde_json::Map<String, Value> = if wanted.is_empty() {
                Default::default()
            } else {
                // A BMC without BIOS settings (IPMI, some emulators) still gets its status.
                match d.bios_get(None) {
                    Ok(all) => wanted
                        .iter()
                        .map(|k| {
                            (k.clone(), all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or(json!("(no such attribute)")))
                        })
                        .collect(),
                    Err(e) => wanted.iter().map(|k| (k.clone(), json!(format!("(unavailable: {})", e.message)))).collect(),
                }
            };
            let host = ssh.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or(&ssh).to_string();
            json!({ "power": power.to_string(), "media": media, "bios": bios, "ping": ping(&host), "ssh": ssh_state(&ssh) })
        }
        Action::On => {
            d.on()?;
            json!({ "power": "On" })
        }
        Action::Off(grace) => json!({ "power": "Off", "result": d.off(*grace)? }),
        Action::Reboot => json!({ "result": d.reboot()? }),
        Action::Boot { image_url, wait } => {
            let seed = seed.ok_or_else(|| step("publish seed", "no seed".into()))?;
            // With --wait, an SSH server that answers now belongs to the system being replaced:
            // the new one counts only after that one has gone.
            let was_up = wait.is_some() && banner(&ssh).is_ok();
            let r = d.boot(image_url, seed)?;
            drop(d); // log out before the long wait
            let mut v = json!({ "image": image_url, "boot": r });
            if let Some(t) = wait {
                let start = Instant::now();
                if was_up && !wait_gone(&ssh, (*t / 4).min(Duration::from_secs(300))) {
                    note_raw(&format!("warning: {node}: SSH on {ssh} kept answering through the power cycle; the next answer may still be the old system\n"));
                }
                v["ssh"] = json!(wait_ssh(node, &ssh, t.saturating_sub(start.elapsed()))?);
            }
            v
        }
        Action::Diskboot => json!({ "result": d.diskboot()? }),
        Action::BiosGet(p) => {
            let attrs: serde_json::Map<String, Value> = d.bios_get(p.as_deref())?.into_iter().collect();
            json!({ "attributes": attrs })
        }
        Action::BiosSet(pairs) => json!({ "result": d.bios_set(pairs)? }),
        Action::BiosReset => json!({ "result": d.bios_reset()? }),
        Action::Jobs { all } => {
            let jobs: Vec<_> = d.jobs()?.into_iter().filter(|j| *all || !j.finished()).collect();
            json!({ "jobs": jobs })
        }
        Action::JobsClear(id) => json!({ "result": format!("deleted {}", d.jobs_clear(id.as_deref())?) }),
        Action::Wait(_) => unreachable!("handled above"),
    })
}

/// Waits until `addr` answers with an SSH banner; returns the banner.
fn wait_ssh(node: &str, addr: &str, within: Duration) -> Result<String, BmcError> {
    let start = Instant::now();
    note_raw(&format!("{node}: waiting for SSH on {addr} (up to {} s)\n", within.as_secs()));
    let mut last = String::from("nothing tried");
    while start.elapsed() < within {
        match banner(addr) {
            Ok(b) => return Ok(b),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_secs(2).min(within.saturating_sub(start.elapsed())));
    }
    Err(BmcError {
        node: node.into(),
        step: "wait for SSH".into(),
        message: format!("{addr} gave no SSH banner within {} s (last: {last})", within.as_secs()),
    })
}

/// Waits until `addr` stops answering with an SSH banner; false when it never did in `within`.
fn wait_gone(addr: &str, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if banner(addr).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    false
}

fn banner(addr: &str) -> Result<String, String> {
    let sock = addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?.next().ok_or(format!("{addr}: no address"))?;
    let s = TcpStream::connect_timeout(&sock, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(|e| match e.kind() {
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

fn ssh_state(addr: &str) -> String {
    match banner(addr) {
        Ok(b) => format!("answers ({b})"),
        Err(e) => format!("no ({e})"),
    }
}

fn ping(host: &str) -> String {
    let cmd = liveboot_runner::Cmd::new("ping").args(["-c", "1", "-W", "1", host]).timeout(Duration::from_secs(3));
    match liveboot_runner::Runner::new().run(&cmd) {
        Ok(_) => "answers".into(),
        Err(liveboot_runner::RunError::NotFound { .. }) => "ping not installed".into(),
        Err(_) => "no answer".into(),
    }
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

/// For `boot`: the live image's URL (publishing a recipe's ISO or a file first) and a seed
/// publisher that writes each node's seed, as ISO and as FAT, into the publish folder.
pub fn boot(project: &Path, a: BootArgs) -> Result<(), Failure> {
    let inv = load(&a.nodes.inventory)?;
    let base = inv.publish.base_url.trim_end_matches('/').to_string();
    let dir = inv.publish.dir.as_ref().map(|d| inv.base_dir().join(d)).ok_or_else(|| {
        Failure::input(format!(
            "{}: publish.dir is not set: `boot` publishes each node's seed (and the image) into that folder, which {base} serves",
            inv.file.display()
        ))
    })?;
    let image_url = if a.image.starts_with("http://") || a.image.starts_with("https://") {
        a.image.clone()
    } else {
        let file = if Path::new(&a.image).is_file() {
            PathBuf::from(&a.image)
        } else {
            let out = a.out.clone().unwrap_or_else(|| project.join("out"));
            let f = out.join(&a.image).join(format!("{}.iso", a.image));
            if !f.is_file() {
                return Err(Failure::input(format!(
                    "no image '{}': {} does not exist; build it with `liveboot build {}` or give an ISO file or a URL",
                    a.image,
                    f.display(),
                    a.image
                )));
            }
            f
        };
        let p = liveboot_publish::publish(&file, &dir)
            .map_err(|e| Failure::input(format!("{}: cannot publish into {}: {e}", file.display(), dir.display())))?;
        format!("{base}/{}", p.name)
    };
    check_url(&image_url).map_err(Failure::input)?;
    let templates = project.join("templates");
    let renderer = liveboot_seed::SeedRenderer::new(&templates).map_err(|e| Failure::input(e.to_string()))?;
    let staging = tempfile::tempdir_in(&dir).map_err(|e| Failure::input(format!("{}: {e}", dir.display())))?;
    let prepare = |inv: &Inventory, node: &str| -> Result<SeedUrls, String> {
        let seed = renderer.render_node(inv, node).map_err(|e| e.to_string())?;
        let mut urls = Vec::new();
        for format in [liveboot_seed::Format::Iso, liveboot_seed::Format::Vfat] {
            let f = staging.path().join(liveboot_seed::seed_file_name(node, format));
            std::fs::write(&f, seed.image(format)).map_err(|e| format!("{}: {e}", f.display()))?;
            let p = liveboot_publish::publish(&f, &dir).map_err(|e| format!("cannot publish the seed into {}: {e}", dir.display()))?;
            urls.push(format!("{base}/{}", p.name));
        }
        Ok(SeedUrls { vfat: urls.pop().unwrap_or_default(), iso: urls.pop().unwrap_or_default() })
    };
    let action = Action::Boot { image_url, wait: a.wait.then(|| Duration::from_secs(a.timeout)) };
    run(&a.nodes, action, Some(&prepare))
}

/// The image URL answers a HEAD and a one-byte Range request (BMCs read images by ranges).
fn check_url(url: &str) -> Result<(), String> {
    let agent = ureq_agent();
    let r = agent.head(url).call().map_err(|e| format!("the image URL does not answer: {url}: {e}"))?;
    let len = r.header("Content-Length").unwrap_or("?").to_string();
    let r = agent.get(url).set("Range", "bytes=0-0").call().map_err(|e| format!("{url}: a range request failed: {e}"))?;
    if r.status() != 206 {
        return Err(format!(
            "{url} answers ranges with HTTP {} instead of 206: BMCs read images by ranges; serve it with `liveboot serve` or a server that supports Range",
            r.status()
        ));
    }
    note_raw(&format!("image {url} answers ({len} bytes, ranges supported)\n"));
    Ok(())
}

fn ureq_agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
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
    let inv = load(&a.inventory)?;
    let node = expand(&inv, std::slice::from_ref(&a.node))?.into_iter().next().unwrap_or_default();
    let t = target(&inv, &node, false).map_err(Failure::input)?;
    if t.protocol != Protocol::Ipmi {
        return Err(Failure::input(format!("{node}: console needs an IPMI BMC (serial over LAN); this one speaks Redfish")));
    }
    let ipmi = liveboot_bmc::ipmi::Ipmi::new(&t, &Timing::default());
    let status = liveboot_runner::Runner::new().run_attached(&ipmi.sol_command()).map_err(Failure::input)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure { message: format!("{node}: the console ended with {status}"), code: 1 })
    }
}
