//! The node commands over an inventory: status, on, off, reboot, boot, diskboot, wait, bios,
//! jobs; a worker pool of `parallel` nodes at once; one typed [`NodeOutcome`] per node.
//!
//! The inventory's BMC settings map to the boot driver's own types here ([`target`]); the
//! driver knows nothing of inventories. Passwords are read from where the inventory says, at the
//! moment a BMC needs them, and go nowhere else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

/// Ends the BMC sessions this process has open (for a signal handler's thread).
pub use liveboot_bmc::redfish::end_open_sessions;
use liveboot_bmc::{
    BmcError, BootReport, Driver, Job, MediaSlot, Protocol, Secret, SeedPlacement, SeedUrls, SystemInfo, Target, Timing, Tls, Vendor,
};
use liveboot_inventory::Inventory;
use liveboot_runner::Cmd;

use crate::probe::{ping, ssh_banner, ssh_state, wait_ssh, wait_ssh_gone};
use crate::{tenths, Event, Progress, Project};

/// What a node command does to each node.
#[derive(Debug, Clone)]
pub enum Action {
    /// Power, media, chosen BIOS attributes, ping and SSH.
    Status,
    /// Power on and wait for On.
    On,
    /// Shut down gracefully, force off after the grace time.
    Off(Duration),
    /// Restart (power on if off).
    Reboot,
    /// Boot live from an image URL (each node's seed published first); wait for SSH if asked.
    Boot { image_url: String, wait: Option<Duration> },
    /// Eject every medium and boot from disk.
    Diskboot,
    /// Wait until SSH answers.
    Wait(Duration),
    /// BIOS attributes whose name contains the pattern (all when none).
    BiosGet(Option<String>),
    /// Set BIOS attributes.
    BiosSet(Vec<(String, String)>),
    /// Reset the BIOS to its defaults.
    BiosReset,
    /// The job queue (unfinished ones unless `all`).
    Jobs { all: bool },
    /// Delete a job, or all.
    JobsClear(Option<String>),
}

/// How to talk to the BMCs.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Nodes worked on at once.
    pub parallel: usize,
    /// Time one BMC request may take.
    pub bmc_timeout: Duration,
    /// Do not check BMC certificates.
    pub insecure: bool,
}

/// What happened on one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeOutcome {
    /// The node.
    pub node: String,
    /// Whether the command succeeded on it.
    pub ok: bool,
    /// How long it took.
    pub seconds: f64,
    /// What it found or did (or where it failed).
    #[serde(flatten)]
    pub result: NodeResult,
}

/// The result of a node command on one node; its fields are the `--json` object's.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum NodeResult {
    /// The command failed at `step`.
    Failed {
        /// What liveboot was doing.
        step: String,
        /// The error, in one line.
        error: String,
    },
    /// `status`.
    Status {
        /// Power state.
        power: String,
        /// Vendor, model, serial, firmware, boot mode and override, health, pending jobs.
        #[serde(flatten)]
        info: Box<SystemInfo>,
        /// Virtual media slots.
        media: Vec<MediaSlot>,
        /// The BIOS attributes the inventory asks to show.
        bios: BTreeMap<String, Value>,
        /// Ping.
        ping: String,
        /// SSH.
        ssh: String,
    },
    /// `on`, `off`.
    Power {
        /// The power state reached.
        power: String,
        /// What the BMC did, when said.
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    /// `reboot`, `diskboot`, `bios set`, `bios reset`, `jobs clear`.
    Done {
        /// What was done.
        result: String,
    },
    /// `boot`.
    Booted {
        /// The image URL.
        image: String,
        /// Which slots got what.
        boot: BootReport,
        /// The SSH banner, with `--wait`.
        #[serde(skip_serializing_if = "Option::is_none")]
        ssh: Option<String>,
    },
    /// `wait`.
    Ssh {
        /// The SSH banner.
        ssh: String,
    },
    /// `bios get`.
    Attributes {
        /// Attribute values.
        attributes: BTreeMap<String, Value>,
    },
    /// `jobs list`.
    Jobs {
        /// The jobs.
        jobs: Vec<Job>,
    },
}

/// Loads an inventory.
pub fn load(path: &Path) -> Result<Inventory, String> {
    liveboot_inventory::load(path).map_err(|d| d.to_string())
}

/// Node names from nodes and slices, each once, in order; an unknown name is an error naming
/// the closest ones.
pub fn expand(inv: &Inventory, names: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let found: Vec<String> = if inv.nodes.contains_key(n) {
            vec![n.clone()]
        } else if let Some(s) = inv.slices.get(n) {
            s.nodes.clone()
        } else {
            let known = inv.nodes.keys().chain(inv.slices.keys());
            return Err(format!(
                "{}: no node or slice named '{n}'{}",
                inv.file.display(),
                liveboot_yaml::closest(n, known).map(|k| format!(" (did you mean '{k}'?)")).unwrap_or_default()
            ));
        };
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// The boot driver's connection settings of a node, from the inventory (the password read now).
pub fn target(inv: &Inventory, node: &str, insecure: bool) -> Result<Target, BmcError> {
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
    use liveboot_inventory::Protocol as P;
    let vendor = match spec.bmc.vendor.as_deref() {
        Some(name) => Some(Vendor::from_name(name).ok_or_else(|| fail(format!("unknown BMC vendor '{name}'")))?),
        None => None,
    };
    Ok(Target {
        node: node.into(),
        address: spec.bmc.address.clone(),
        protocol: match spec.bmc.protocol {
            P::Redfish => Protocol::Redfish,
            P::Ipmi => Protocol::Ipmi,
        },
        vendor,
        username: spec.bmc.username.clone(),
        password: Secret::new(password),
        tls,
        cipher_suite: spec.bmc.cipher_suite,
        system: spec.bmc.system.clone(),
    })
}

/// Writes and publishes a node's seed before its boot (see [`boot`]).
pub type SeedPublisher<'a> = dyn Fn(&Inventory, &str) -> Result<SeedUrls, String> + Sync + 'a;

/// Runs `action` on every node named (nodes or slices), `settings.parallel` at a time; one
/// outcome per node, in the order named.
pub fn run(
    inv: &Inventory,
    names: &[String],
    settings: &NodeSettings,
    action: &Action,
    prepare: Option<&SeedPublisher<'_>>,
    progress: Progress,
) -> Result<Vec<NodeOutcome>, String> {
    let nodes = expand(inv, names)?;
    if settings.insecure {
        progress(Event::Warning("--insecure: BMC certificates are not checked".into()));
    }
    for n in &nodes {
        if inv.nodes[n].bmc.address.starts_with("http://") && !matches!(action, Action::Wait(_)) {
            progress(Event::Warning(format!(
                "{n}: the BMC address is http://: its password and session travel unencrypted; use https:// unless this is a lab network"
            )));
        }
    }
    let timing = Timing { request: settings.bmc_timeout.clamp(Duration::from_secs(1), Duration::from_secs(3600)), ..Timing::default() };
    let results: Mutex<BTreeMap<String, NodeOutcome>> = Default::default();
    let queue = Mutex::new(nodes.iter().rev().cloned().collect::<Vec<_>>());
    std::thread::scope(|s| {
        for _ in 0..settings.parallel.clamp(1, 64).min(nodes.len()) {
            let (queue, results, timing, progress) = (&queue, &results, &timing, progress.clone());
            s.spawn(move || loop {
                let Some(node) = queue.lock().unwrap().pop() else { break };
                let start = Instant::now();
                let seed = match prepare {
                    Some(f) => {
                        f(inv, &node).map(Some).map_err(|m| BmcError { node: node.clone(), step: "publish seed".into(), message: m })
                    }
                    None => Ok(None),
                };
                let r = seed.and_then(|seed| one(inv, &node, action, timing, seed.as_ref(), settings.insecure, &progress));
                let seconds = tenths(start.elapsed().as_secs_f64());
                let outcome = match r {
                    Ok(result) => NodeOutcome { node: node.clone(), ok: true, seconds, result },
                    Err(e) => NodeOutcome {
                        node: node.clone(),
                        ok: false,
                        seconds,
                        result: NodeResult::Failed { step: e.step.clone(), error: e.to_string() },
                    },
                };
                progress(Event::NodeFinished(outcome.clone()));
                results.lock().unwrap().insert(node, outcome);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    Ok(nodes.iter().filter_map(|n| results.remove(n)).collect())
}

fn one(
    inv: &Inventory,
    node: &str,
    action: &Action,
    timing: &Timing,
    seed: Option<&SeedUrls>,
    insecure: bool,
    progress: &Progress,
) -> Result<NodeResult, BmcError> {
    let ssh = inv.ssh_address(node);
    let wait = |within: Duration| {
        progress(Event::Note(format!("{node}: waiting for SSH on {ssh} (up to {} s)", within.as_secs())));
        wait_ssh(&ssh, within).map_err(|m| BmcError { node: node.into(), step: "wait for SSH".into(), message: m })
    };
    if let Action::Wait(t) = action {
        return Ok(NodeResult::Ssh { ssh: wait(*t)? });
    }
    let t = target(inv, node, insecure)?;
    let mut d = Driver::connect(&t, timing)?;
    Ok(match action {
        Action::Status => {
            let power = d.power()?;
            let info = Box::new(d.info()?);
            let media = d.media()?;
            let wanted = &inv.nodes[node].bios_attributes;
            let bios: BTreeMap<String, Value> = if wanted.is_empty() {
                BTreeMap::new()
            } else {
                // A BMC without BIOS settings (IPMI, some emulators) still gets its status.
                match d.bios_get(None) {
                    Ok(all) => wanted
                        .iter()
                        .map(|k| {
                            (
                                k.clone(),
                                all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or(Value::from("(no such attribute)")),
                            )
                        })
                        .collect(),
                    Err(e) => wanted.iter().map(|k| (k.clone(), Value::from(format!("(unavailable: {})", e.message)))).collect(),
                }
            };
            let host = ssh.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or(&ssh).to_string();
            NodeResult::Status { power: power.to_string(), info, media, bios, ping: ping(&host), ssh: ssh_state(&ssh) }
        }
        Action::On => {
            d.on()?;
            NodeResult::Power { power: "On".into(), result: None }
        }
        Action::Off(grace) => NodeResult::Power { power: "Off".into(), result: Some(d.off(*grace)?) },
        Action::Reboot => NodeResult::Done { result: d.reboot()? },
        Action::Boot { image_url, wait: within } => {
            let seed = seed.ok_or_else(|| BmcError { node: node.into(), step: "publish seed".into(), message: "no seed".into() })?;
            // With a wait, an SSH server that answers now belongs to the system being replaced:
            // the new one counts only after that one has gone.
            let was_up = within.is_some() && ssh_banner(&ssh).is_ok();
            let boot = d.boot(image_url, seed)?;
            drop(d); // log out before the long wait
            let mut banner = None;
            if let Some(t) = within {
                let start = Instant::now();
                if was_up && !wait_ssh_gone(&ssh, (*t / 4).min(Duration::from_secs(300))) {
                    progress(Event::Warning(format!(
                        "{node}: SSH on {ssh} kept answering through the power cycle; the next answer may still be the old system"
                    )));
                }
                banner = Some(wait(t.saturating_sub(start.elapsed()))?);
            }
            NodeResult::Booted { image: image_url.clone(), boot, ssh: banner }
        }
        Action::Diskboot => NodeResult::Done { result: d.diskboot()? },
        Action::BiosGet(p) => NodeResult::Attributes { attributes: d.bios_get(p.as_deref())?.into_iter().collect() },
        Action::BiosSet(pairs) => NodeResult::Done { result: d.bios_set(pairs)? },
        Action::BiosReset => NodeResult::Done { result: d.bios_reset()? },
        Action::Jobs { all } => NodeResult::Jobs { jobs: d.jobs()?.into_iter().filter(|j| *all || !j.finished()).collect() },
        Action::JobsClear(id) => NodeResult::Done { result: format!("deleted {}", d.jobs_clear(id.as_deref())?) },
        Action::Wait(_) => unreachable!("handled above"),
    })
}

/// What `boot` boots.
pub struct BootSettings {
    /// A recipe (its built ISO), an ISO file, or an http(s) URL.
    pub image: String,
    /// Output folder the recipe's image is in [default: the project's].
    pub out: Option<PathBuf>,
    /// Wait this long for SSH on every node.
    pub wait: Option<Duration>,
}

/// `boot`: the live image's URL (publishing a recipe's ISO or a file into the inventory's
/// `publish.dir` first) checked for Range support, then each node's seed rendered and
/// published (ISO and FAT) just before its BMC gets it.
pub fn boot(
    project: &Project,
    inv: &Inventory,
    names: &[String],
    settings: &NodeSettings,
    b: &BootSettings,
    progress: Progress,
) -> Result<Vec<NodeOutcome>, String> {
    let base = inv.publish.base_url.trim_end_matches('/').to_string();
    let dir = inv.publish.dir.as_ref().map(|d| inv.base_dir().join(d)).ok_or_else(|| {
        format!(
            "{}: publish.dir is not set: `boot` publishes each node's seed (and the image) into that folder, which {base} serves",
            inv.file.display()
        )
    })?;
    // The local ISO, when there is one: a node whose BMC has a single slot gets a copy with its
    // seed embedded.
    let mut local_image = None;
    let image_url = if b.image.starts_with("http://") || b.image.starts_with("https://") {
        b.image.clone()
    } else {
        let file = if Path::new(&b.image).is_file() {
            PathBuf::from(&b.image)
        } else {
            let f = project.built_iso(&b.image, b.out.as_deref());
            if !f.is_file() {
                return Err(format!(
                    "no image '{}': {} does not exist; build it with `liveboot build {}` or give an ISO file or a URL",
                    b.image,
                    f.display(),
                    b.image
                ));
            }
            f
        };
        let p = liveboot_publish::publish(&file, &dir)
            .map_err(|e| format!("{}: cannot publish into {}: {e}", file.display(), dir.display()))?;
        local_image = Some(file);
        format!("{base}/{}", p.name)
    };
    let checked = crate::probe::check_range_url(&image_url)?;
    let size = checked.bytes.map(|b| b.to_string()).unwrap_or_else(|| "?".into());
    progress(Event::Note(format!("image {image_url} answers ({size} bytes, ranges supported)")));
    let renderer = liveboot_seed::SeedRenderer::new(&project.templates()).map_err(|e| e.to_string())?;
    let staging = tempfile::tempdir_in(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let notes = progress.clone();
    let prepare = |inv: &Inventory, node: &str| -> Result<SeedUrls, String> {
        let seed = renderer.render_node(inv, node).map_err(|e| e.to_string())?;
        let mut urls = Vec::new();
        for format in [liveboot_seed::Format::Iso, liveboot_seed::Format::Vfat] {
            let f = staging.path().join(liveboot_seed::seed_file_name(node, format));
            std::fs::write(&f, seed.image(format)).map_err(|e| format!("{}: {e}", f.display()))?;
            let p = liveboot_publish::publish(&f, &dir).map_err(|e| format!("cannot publish the seed into {}: {e}", dir.display()))?;
            urls.push(format!("{base}/{}", p.name));
        }
        let embedded = local_image.as_ref().map(|image| {
            let (image, node, dir, base) = (image.clone(), node.to_string(), dir.clone(), base.clone());
            let files: Vec<(String, String)> = seed.files().into_iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
            let staging = staging.path().to_path_buf();
            let progress = notes.clone();
            liveboot_bmc::Embed(std::sync::Arc::new(move || embed_seed(&image, &node, &files, &staging, &dir, &base, &progress)))
        });
        let placement = match inv.nodes[node].bmc.seed {
            liveboot_inventory::SeedPlacement::Auto => SeedPlacement::Auto,
            liveboot_inventory::SeedPlacement::Slot => SeedPlacement::Slot,
            liveboot_inventory::SeedPlacement::Embed => SeedPlacement::Embed,
        };
        Ok(SeedUrls { vfat: urls.pop().unwrap_or_default(), iso: urls.pop().unwrap_or_default(), embedded, placement })
    };
    run(inv, names, settings, &Action::Boot { image_url, wait: b.wait }, Some(&prepare), progress)
}

/// The live image with a node's seed on it (`liveboot remaster --seed`), published under a
/// content-addressed name like the seeds; returns its URL.
fn embed_seed(
    image: &Path,
    node: &str,
    files: &[(String, String)],
    staging: &Path,
    dir: &Path,
    base: &str,
    progress: &Progress,
) -> Result<String, String> {
    let seed_dir = staging.join(format!("seed-{node}"));
    std::fs::create_dir_all(&seed_dir).map_err(|e| format!("{}: {e}", seed_dir.display()))?;
    for (name, text) in files {
        std::fs::write(seed_dir.join(name), text).map_err(|e| format!("{}: {e}", seed_dir.join(name).display()))?;
    }
    let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let out = staging.join(format!("{stem}-{node}.iso"));
    let req = crate::remaster::Request { iso: image.to_path_buf(), out: out.clone(), seed: Some(seed_dir), ..Default::default() };
    let report = crate::remaster::remaster(&req, &liveboot_runner::Runner::new())?;
    let p =
        liveboot_publish::publish(&out, dir).map_err(|e| format!("cannot publish the image with the seed into {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&out);
    progress(Event::Note(format!(
        "{node}: one virtual-media slot: the seed is embedded in {} (read from {})",
        p.name,
        report.seed_at.unwrap_or_default()
    )));
    Ok(format!("{base}/{}", p.name))
}

/// The serial-over-LAN command of an IPMI node (ipmitool, the password in its environment),
/// for the front end to run attached to its terminal.
pub fn console_command(inv: &Inventory, name: &str) -> Result<Cmd, String> {
    let node = expand(inv, std::slice::from_ref(&name.to_string()))?.into_iter().next().unwrap_or_default();
    let t = target(inv, &node, false).map_err(|e| e.to_string())?;
    if t.protocol != Protocol::Ipmi {
        return Err(format!("{node}: console needs an IPMI BMC (serial over LAN); this one speaks Redfish"));
    }
    Ok(liveboot_bmc::ipmi::Ipmi::new(&t, &Timing::default()).sol_command())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_vendor_an_inventory_may_name_is_one_the_boot_driver_knows() {
        for name in liveboot_inventory::VENDORS {
            assert!(liveboot_bmc::Vendor::from_name(name).is_some(), "{name}");
        }
    }
}
