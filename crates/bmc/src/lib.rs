//! Talking to BMCs, the boot driver's half of liveboot.
//!
//! - [`redfish`]: a thin typed Redfish client (sessions that are always logged out, TLS verified
//!   or pinned, retries with backoff, task monitors) and the flows built on it (power, virtual
//!   media, one-time boot, BIOS, job queue). Vendor differences live in one table,
//!   [`redfish::quirks`], each entry citing where it is known from.
//! - [`ipmi`]: power and boot device through ipmitool, the password passed in its environment.
//! - [`Driver`]: what the node commands use, whichever protocol a node speaks.
//!
//! Every failure is a [`BmcError`]: one line naming the node, the step and what went wrong.
//! A password is held in a [`Secret`], which prints as `<hidden>`; errors are built from BMC
//! answers and our own words, never from credentials.

pub mod ipmi;
pub mod redfish;

use std::time::Duration;

use serde::Serialize;

/// A password or token: readable only through [`Secret::expose`], never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// A failed step on one node, said in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmcError {
    /// The node's name in the inventory.
    pub node: String,
    /// What liveboot was doing ("log in", "insert image", "power on", ...).
    pub step: String,
    /// What went wrong, and what to do when we know.
    pub message: String,
}

impl std::fmt::Display for BmcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let one_line: String = self.message.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(f, "{}: {}: {}", self.node, self.step, one_line)
    }
}

impl std::error::Error for BmcError {}

/// BMC protocols.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// DMTF Redfish over HTTPS.
    Redfish,
    /// IPMI 2.0 over LAN (ipmitool lanplus).
    Ipmi,
}

/// BMC makers whose firmware differs from the standard in ways liveboot handles (each
/// difference is a row of [`redfish::quirks`]).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Dell iDRAC.
    Dell,
    /// HPE iLO.
    Hpe,
    /// Supermicro.
    Supermicro,
    /// Lenovo XCC.
    Lenovo,
    /// AMI MegaRAC (Gigabyte, ASRock Rack).
    Ami,
    /// Anything standard.
    Generic,
}

impl Vendor {
    /// The vendor of a name as inventories write it (`dell`, `hpe`, `supermicro`, `lenovo`,
    /// `ami`, `generic`).
    pub fn from_name(name: &str) -> Option<Vendor> {
        Some(match name {
            "dell" => Vendor::Dell,
            "hpe" => Vendor::Hpe,
            "supermicro" => Vendor::Supermicro,
            "lenovo" => Vendor::Lenovo,
            "ami" => Vendor::Ami,
            "generic" => Vendor::Generic,
            _ => return None,
        })
    }
}

/// How a Redfish BMC's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Against the public web roots, or the CA in this PEM file.
    Verify { ca_file: Option<std::path::PathBuf> },
    /// Trusted when its SHA-256 fingerprint is this one (self-signed BMC certificates).
    Fingerprint([u8; 32]),
    /// Not checked at all (`--insecure`, said so on every run).
    Insecure,
}

/// One BMC to talk to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node's name, for messages.
    pub node: String,
    /// Host, host:port or http(s) URL.
    pub address: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Vendor, when the inventory says it (else detected).
    pub vendor: Option<Vendor>,
    /// Login.
    pub username: String,
    /// Password.
    pub password: Secret,
    /// Certificate checking (Redfish over HTTPS).
    pub tls: Tls,
    /// IPMI cipher suite (ipmitool -C).
    pub cipher_suite: Option<u8>,
    /// Which System of a service that has several (its Id); the first when None.
    pub system: Option<String>,
}

/// Timing of BMC conversations. BMCs are slow and flaky; these defaults are what works on
/// real ones, tests shorten them.
#[derive(Debug, Clone)]
pub struct Timing {
    /// One HTTP request (or one ipmitool run).
    pub request: Duration,
    /// Tries per request on connection errors, 5xx and retryable messages.
    pub attempts: u32,
    /// First pause between tries; doubled each time.
    pub backoff: Duration,
    /// The longest pause a Retry-After header may ask for.
    pub max_retry_after: Duration,
    /// How long to wait for a power state, an ejected slot or a task.
    pub settle: Duration,
    /// Pause between polls.
    pub poll: Duration,
}

impl Timing {
    /// Calls `check` every `poll` until it says true or `within` has passed (false then).
    pub fn poll_until<E>(&self, within: Duration, mut check: impl FnMut() -> Result<bool, E>) -> Result<bool, E> {
        let start = std::time::Instant::now();
        loop {
            if check()? {
                return Ok(true);
            }
            if start.elapsed() >= within {
                return Ok(false);
            }
            std::thread::sleep(self.poll);
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            request: Duration::from_secs(30),
            attempts: 4,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(60),
            settle: Duration::from_secs(300),
            poll: Duration::from_secs(2),
        }
    }
}

/// The power state a BMC reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Power {
    /// Running.
    On,
    /// Off.
    Off,
    /// Changing (PoweringOn, PoweringOff, Paused).
    Other,
    /// Not reported (a System without PowerState).
    Unknown,
}

impl std::fmt::Display for Power {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Power::On => "On",
            Power::Off => "Off",
            Power::Other => "changing",
            Power::Unknown => "unknown",
        })
    }
}

/// A virtual media slot as the BMC shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaSlot {
    /// Its Redfish Id (Cd, 1, CD1, EXT1, ...).
    pub id: String,
    /// Media types it takes (CD, DVD, USBStick, Floppy).
    pub media_types: Vec<String>,
    /// The image URL when something is inserted.
    pub image: Option<String>,
    /// `Inserted` as the BMC says it (not every BMC does).
    pub inserted: Option<bool>,
    /// `ConnectedVia` as the BMC says it (URI, Applet, NotConnected, ...).
    pub connected_via: Option<String>,
}

/// What `status` shows of a node besides power and media: what operators look at first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    /// The vendor whose quirks apply (the inventory's, else detected).
    pub vendor: String,
    /// The System's Manufacturer, Model, SerialNumber and Id.
    pub manufacturer: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// The System's Id.
    pub system_id: Option<String>,
    /// BIOS/UEFI firmware version (BiosVersion).
    pub bios_version: Option<String>,
    /// The BMC's firmware version (the Manager's FirmwareVersion).
    pub bmc_firmware: Option<String>,
    /// UEFI or Legacy (Boot.BootSourceOverrideMode).
    pub boot_mode: Option<String>,
    /// The pending one-time or continuous boot override ("Cd once"), None when disabled.
    pub boot_override: Option<String>,
    /// Status.Health of the System.
    pub health: Option<String>,
    /// Jobs not finished (pending BIOS settings, imports).
    pub pending_jobs: Vec<Job>,
}

/// One entry of a BMC's job or task queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Its id (JID_..., a task number).
    pub id: String,
    /// What it does.
    pub name: String,
    /// Its state as the BMC says it (Scheduled, Running, Completed, ...).
    pub state: String,
    /// Percent complete, when said.
    pub percent: Option<u64>,
    /// The BMC's message about it.
    pub message: String,
}

impl Job {
    /// Whether the job has ended one way or another.
    pub fn finished(&self) -> bool {
        matches!(
            self.state.as_str(),
            "Completed" | "CompletedWithErrors" | "Failed" | "Exception" | "Killed" | "Cancelled" | "Canceled" | "Interrupted"
        )
    }
}

/// A seed image to hand a node next to its live image: where it is published, and in which
/// format each kind of slot needs it.
#[derive(Debug, Clone, Default)]
pub struct SeedUrls {
    /// The seed as an ISO 9660 `cidata` volume (for a second CD slot).
    pub iso: String,
    /// The seed as a FAT `cidata` volume (for a USB stick or floppy slot).
    pub vfat: String,
    /// Publishes the live image with this seed on it and returns its URL: called for a BMC
    /// with a single virtual-media slot, or always with [`SeedPlacement::Embed`].
    pub embedded: Option<Embed>,
    /// Where the seed goes.
    pub placement: SeedPlacement,
}

/// Where the seed goes (the inventory's `bmc.seed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SeedPlacement {
    /// A second slot when there is one, else embedded in the image.
    #[default]
    Auto,
    /// A second slot only.
    Slot,
    /// Embedded in the image, even when a second slot is there.
    Embed,
}

/// Publishes the live image with a node's seed embedded; returns its URL.
#[derive(Clone)]
pub struct Embed(pub std::sync::Arc<dyn Fn() -> Result<String, String> + Send + Sync>);

impl std::fmt::Debug for Embed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embed(..)")
    }
}

/// What a boot through virtual media did.
#[derive(Debug, Clone, Serialize)]
pub struct BootReport {
    /// Slot that got the live image.
    pub image_slot: String,
    /// Slot that got the seed, and in which format.
    pub seed_slot: String,
    /// How the one-time boot was set (standard override, Dell boot-once job, HPE media flag).
    pub boot_once: String,
    /// The power action taken.
    pub power: String,
}

/// A connection to one node's BMC, whichever protocol it speaks.
pub enum Driver {
    /// Redfish.
    Redfish(Box<redfish::Redfish>),
    /// IPMI.
    Ipmi(Box<ipmi::Ipmi>),
}

impl Driver {
    /// Connects (Redfish: reads the service root, logs in, finds the system, manager and
    /// media slots; IPMI: nothing to do until the first command).
    pub fn connect(target: &Target, timing: &Timing) -> Result<Driver, BmcError> {
        Ok(match target.protocol {
            Protocol::Redfish => Driver::Redfish(Box::new(redfish::Redfish::connect(target, timing)?)),
            Protocol::Ipmi => Driver::Ipmi(Box::new(ipmi::Ipmi::new(target, timing))),
        })
    }

    /// The power state.
    pub fn power(&mut self) -> Result<Power, BmcError> {
        match self {
            Driver::Redfish(r) => r.power(),
            Driver::Ipmi(i) => i.power(),
        }
    }

    /// Powers on and waits until the BMC says On.
    pub fn on(&mut self) -> Result<(), BmcError> {
        match self {
            Driver::Redfish(r) => r.on(),
            Driver::Ipmi(i) => i.on(),
        }
    }

    /// Asks the OS to shut down; forces power off when it is not off after `grace`.
    pub fn off(&mut self, grace: Duration) -> Result<String, BmcError> {
        match self {
            Driver::Redfish(r) => r.off(grace),
            Driver::Ipmi(i) => i.off(grace),
        }
    }

    /// Restarts (powers on when off).
    pub fn reboot(&mut self) -> Result<String, BmcError> {
        match self {
            Driver::Redfish(r) => r.power_cycle(),
            Driver::Ipmi(i) => i.power_cycle(),
        }
    }

    /// Vendor, model, serial, firmware, boot mode and override, health, pending jobs (what
    /// IPMI tells: the BMC's firmware).
    pub fn info(&mut self) -> Result<SystemInfo, BmcError> {
        match self {
            Driver::Redfish(r) => r.info(),
            Driver::Ipmi(i) => i.info(),
        }
    }

    /// Virtual media slots (empty over IPMI).
    pub fn media(&mut self) -> Result<Vec<MediaSlot>, BmcError> {
        match self {
            Driver::Redfish(r) => r.media(),
            Driver::Ipmi(_) => Ok(Vec::new()),
        }
    }

    /// Live boot: Redfish inserts the image and the seed, sets a one-time boot from virtual CD
    /// and power-cycles; IPMI sets the boot device to PXE (UEFI) and power-cycles.
    pub fn boot(&mut self, image_url: &str, seed: &SeedUrls) -> Result<BootReport, BmcError> {
        match self {
            Driver::Redfish(r) => r.boot_virtual_cd(image_url, seed),
            Driver::Ipmi(i) => i.boot_pxe(),
        }
    }

    /// Ejects every medium and boots from disk.
    pub fn diskboot(&mut self) -> Result<String, BmcError> {
        match self {
            Driver::Redfish(r) => r.diskboot(),
            Driver::Ipmi(i) => i.diskboot(),
        }
    }

    fn redfish_only(&mut self, step: &str) -> Result<&mut redfish::Redfish, BmcError> {
        match self {
            Driver::Redfish(r) => Ok(r),
            Driver::Ipmi(i) => Err(BmcError {
                node: i.node().to_string(),
                step: step.to_string(),
                message: "not available over IPMI; give the node a Redfish BMC (bmc.protocol: redfish)".into(),
            }),
        }
    }

    /// BIOS attributes whose name contains `pattern` (case-insensitive), or all of them.
    pub fn bios_get(&mut self, pattern: Option<&str>) -> Result<Vec<(String, serde_json::Value)>, BmcError> {
        self.redfish_only("read BIOS")?.bios_get(pattern)
    }

    /// Sets BIOS attributes; says whether they apply now or at the next reset.
    pub fn bios_set(&mut self, pairs: &[(String, String)]) -> Result<String, BmcError> {
        self.redfish_only("set BIOS")?.bios_set(pairs)
    }

    /// Resets the BIOS to defaults (applies at the next reset).
    pub fn bios_reset(&mut self) -> Result<String, BmcError> {
        self.redfish_only("reset BIOS")?.bios_reset()
    }

    /// The job (or task) queue.
    pub fn jobs(&mut self) -> Result<Vec<Job>, BmcError> {
        self.redfish_only("list jobs")?.jobs()
    }

    /// Deletes one job, or every job when `id` is None.
    pub fn jobs_clear(&mut self, id: Option<&str>) -> Result<usize, BmcError> {
        self.redfish_only("clear jobs")?.jobs_clear(id)
    }
}
