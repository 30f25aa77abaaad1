//! Redfish flows: discovery, power, virtual media, one-time boot, BIOS, jobs.
//!
//! Discovery follows links rather than assuming paths: the System and Manager are the first
//! members of their collections, virtual media slots are gathered from both
//! `Systems/{id}/VirtualMedia` and `Managers/{id}/VirtualMedia` (firmware moves them), and
//! settings go to a resource's `@Redfish.Settings` object when it names one.

pub mod client;
pub mod quirks;

pub use client::end_open_sessions;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{BmcError, BootReport, Job, MediaSlot, Power, SeedPlacement, SeedUrls, SystemInfo, Target, Timing, Vendor};
use client::Client;
use quirks::{BootOnce, Firmware, Quirks};

/// A slot as discovery found it.
#[derive(Debug, Clone)]
struct Slot {
    path: String,
    id: String,
    media_types: Vec<String>,
    /// The InsertMedia action (or HPE's OEM InsertVirtualMedia).
    insert: Option<String>,
    /// The EjectMedia action (or HPE's OEM EjectVirtualMedia).
    eject: Option<String>,
}

/// A logged-in BMC with its System, Manager and media slots found.
pub struct Redfish {
    client: Client,
    node: String,
    timing: Timing,
    /// The vendor (from the inventory, else detected).
    pub vendor: Vendor,
    /// Its quirks.
    pub quirks: Quirks,
    system: String,
    manager: Option<String>,
    slots: Vec<Slot>,
    /// What discovery could not read (a slot answering 404, say), for the commands that need it.
    unreadable: Vec<String>,
}

/// A resource's link `name` (`{"@odata.id": ...}`) as a path on this BMC: services that write
/// links as absolute URLs (`https://host/redfish/v1/...`) are followed on this BMC, never
/// elsewhere.
fn link(c: &Client, v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(|l| l.get("@odata.id")).and_then(Value::as_str).map(|p| c.path_of(p))
}

/// The member paths of a collection, every page (`Members@odata.nextLink`) followed.
fn members(c: &mut Client, collection: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut page = Some(collection.to_string());
    while let Some(p) = page {
        if seen.contains(&p) || seen.len() >= 200 {
            return Err(format!("the collection {collection}'s Members@odata.nextLink pages do not end (at {p})"));
        }
        seen.push(p.clone());
        let col = c.get(&p)?;
        for m in col.get("Members").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = m.get("@odata.id").and_then(Value::as_str) {
                out.push(c.path_of(id));
            }
        }
        page = col.get("Members@odata.nextLink").and_then(Value::as_str).map(|n| c.path_of(n));
    }
    Ok(out)
}

/// The last segment of a path (a member's Id as it appears in its URI).
fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Orders slot Ids naturally: "2" before "10", "CD1" before "CD2".
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |s: &str| {
        let digits: String = s.chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
        (s[..s.len() - digits.len()].to_ascii_lowercase(), digits.parse::<u64>().unwrap_or(0), s.to_string())
    };
    key(a).cmp(&key(b))
}

impl Redfish {
    /// Logs in and discovers the System, Manager and virtual media slots. A slot (or the
    /// Manager) that cannot be read is left out and remembered, so that the commands that do
    /// not need it still work and the ones that do say why they cannot.
    pub fn connect(t: &Target, timing: &Timing) -> Result<Redfish, BmcError> {
        let fail = |step: &str, message: String| BmcError { node: t.node.clone(), step: step.into(), message };
        let (mut client, root) = Client::connect(&t.address, &t.username, &t.password, &t.tls, timing).map_err(|m| fail("log in", m))?;
        // From here on `client` logs out when dropped, whatever happens.
        let mut unreadable = Vec::new();
        let mut discover = || -> Result<(String, Option<String>, Vec<Slot>, Value), String> {
            let systems = link(&client, &root, "Systems").ok_or("the service root links no Systems")?;
            let all = members(&mut client, &systems)?;
            let system = match &t.system {
                None => all.first().cloned().ok_or("the Systems collection is empty")?,
                Some(want) => all.iter().find(|p| last_segment(p) == want.as_str()).cloned().ok_or_else(|| {
                    let ids: Vec<&str> = all.iter().map(|p| last_segment(p)).collect();
                    format!("no System '{want}' (bmc.system); the service has: {}", ids.join(", "))
                })?,
            };
            let sys = client.get(&system)?;
            let manager = match sys.pointer("/Links/ManagedBy/0/@odata.id").and_then(Value::as_str) {
                Some(m) => Some(client.path_of(m)),
                None => match link(&client, &root, "Managers") {
                    Some(m) => members(&mut client, &m)?.into_iter().next(),
                    None => None,
                },
            };
            let mut holders = vec![link(&client, &sys, "VirtualMedia")];
            if let Some(m) = &manager {
                match client.get(m) {
                    Ok(mv) => holders.push(link(&client, &mv, "VirtualMedia")),
                    Err(e) => unreadable.push(format!("the Manager ({e})")),
                }
            }
            let mut slots: Vec<Slot> = Vec::new();
            for col in holders.into_iter().flatten() {
                let paths = match members(&mut client, &col) {
                    Ok(p) => p,
                    Err(e) => {
                        unreadable.push(format!("the virtual media collection {col} ({e})"));
                        continue;
                    }
                };
                for path in paths {
                    // A Manager's collection may list the System's slots again (sushy-tools).
                    if slots.iter().any(|s| s.path == path) {
                        continue;
                    }
                    let s = match client.get(&path) {
                        Ok(s) => s,
                        Err(e) => {
                            unreadable.push(format!("slot {} ({e})", last_segment(&path)));
                            continue;
                        }
                    };
                    // The standard action, else HPE's OEM one (iLO 4 and early iLO 5 firmware).
                    let action = |standard: &str, hpe: &str| {
                        s.pointer(&format!("/Actions/#VirtualMedia.{standard}/target"))
                            .or_else(|| s.pointer(&format!("/Actions/Oem/Hpe/#HpeiLOVirtualMedia.{hpe}/target")))
                            .or_else(|| s.pointer(&format!("/Actions/Oem/#HpeiLOVirtualMedia.{hpe}/target")))
                            .and_then(Value::as_str)
                            .map(|t| client.path_of(t))
                    };
                    slots.push(Slot {
                        id: s.get("Id").and_then(Value::as_str).unwrap_or_else(|| last_segment(&path)).to_string(),
                        media_types: strings(s.get("MediaTypes")),
                        insert: action("InsertMedia", "InsertVirtualMedia"),
                        eject: action("EjectMedia", "EjectVirtualMedia"),
                        path,
                    });
                }
            }
            slots.sort_by(|a, b| natural(&a.id, &b.id));
            Ok((system, manager, slots, sys))
        };
        let (system, manager, slots, sys) = discover().map_err(|m| fail("discover", m))?;
        let vendor = t.vendor.unwrap_or_else(|| quirks::detect(&root, &sys));
        let fw = Firmware { media_under_manager_only: !slots.is_empty() && !slots.iter().any(|s| s.path.starts_with(&system)) };
        Ok(Redfish {
            client,
            node: t.node.clone(),
            timing: timing.clone(),
            vendor,
            quirks: Quirks::for_vendor(vendor, fw),
            system,
            manager,
            slots,
            unreadable,
        })
    }

    fn fail(&self, step: &str, message: impl Into<String>) -> BmcError {
        BmcError { node: self.node.clone(), step: step.into(), message: message.into() }
    }

    fn step<T>(&mut self, step: &str, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, BmcError> {
        f(self).map_err(|m| BmcError { node: self.node.clone(), step: step.into(), message: m })
    }

    // ---- power ----

    /// The power state.
    pub fn power(&mut self) -> Result<Power, BmcError> {
        self.step("read power state", |r| r.read_power())
    }

    fn read_power(&mut self) -> Result<Power, String> {
        let sys = self.client.get(&self.system.clone())?;
        Ok(match sys.get("PowerState").and_then(Value::as_str) {
            Some("On") => Power::On,
            Some("Off") => Power::Off,
            Some(_) => Power::Other,
            None => Power::Unknown,
        })
    }

    /// The System's Reset action and what it allows, read before anything changes: from
    /// `ResetType@Redfish.AllowableValues`, else the action's `@Redfish.ActionInfo` resource
    /// (where iLO, iDRAC and XCC publish them). Values spelled off the standard (case, spaces)
    /// are read as the standard one and values outside it ignored; when nothing standard is
    /// left, every type is tried as if none were listed (as sushy does).
    fn reset_action(&mut self) -> Result<ResetAction, String> {
        let sys = self.client.get(&self.system.clone())?;
        let action = sys
            .pointer("/Actions/#ComputerSystem.Reset")
            .cloned()
            .ok_or("the System offers no #ComputerSystem.Reset action: its power cannot be changed through Redfish")?;
        let target = action
            .get("target")
            .and_then(Value::as_str)
            .map(|t| self.client.path_of(t))
            .ok_or("the System's #ComputerSystem.Reset action names no target")?;
        // An action's URI is its resource's URI + /Actions/... (DSP0266); one elsewhere may
        // reset another System, so it is refused rather than followed.
        if !under(&target, &self.system) {
            return Err(format!(
                "the System's Reset action points at {target}, outside the System {}: refusing to power another resource",
                self.system
            ));
        }
        let mut listed = strings(action.get("ResetType@Redfish.AllowableValues"));
        if listed.is_empty() {
            if let Some(info) = action.get("@Redfish.ActionInfo").and_then(Value::as_str) {
                let info = self.client.path_of(info);
                if let Ok(ai) = self.client.get(&info) {
                    let param = ai.get("Parameters").and_then(Value::as_array).and_then(|ps| ps.iter().find(|p| p["Name"] == "ResetType"));
                    listed = param.map(|p| strings(p.get("AllowableValues"))).unwrap_or_default();
                }
            }
        }
        let allowed: Vec<&'static str> =
            RESET_TYPES.iter().copied().filter(|t| listed.iter().any(|l| l.trim().eq_ignore_ascii_case(t))).collect();
        Ok(ResetAction { target, allowed: (!allowed.is_empty()).then_some(allowed), listed })
    }

    fn reset(&mut self, action: &ResetAction, kind: &str) -> Result<(), String> {
        let reply = self.client.post(&action.target, &json!({ "ResetType": kind }))?;
        if reply.status == 202 {
            if let Some(loc) = reply.location {
                self.client.wait_task(&loc)?;
            }
        }
        Ok(())
    }

    fn wait_power(&mut self, want: Power, within: Duration) -> Result<bool, String> {
        let timing = self.timing.clone();
        timing.poll_until(within, || Ok(self.read_power()? == want))
    }

    /// Powers on and waits for On (a System that reports no PowerState is sent On, unconfirmed).
    pub fn on(&mut self) -> Result<(), BmcError> {
        self.step("power on", |r| {
            let power = r.read_power()?;
            if power == Power::On {
                return Ok(());
            }
            let action = r.reset_action()?;
            let kind = action.need(&["On", "ForceOn"], "to power on")?;
            r.reset(&action, kind)?;
            if power == Power::Unknown {
                return Ok(());
            }
            let settle = r.timing.settle;
            if r.wait_power(Power::On, settle)? {
                Ok(())
            } else {
                Err(format!("still not On after {} s", settle.as_secs()))
            }
        })
    }

    /// Graceful shutdown, forced off after `grace`.
    pub fn off(&mut self, grace: Duration) -> Result<String, BmcError> {
        self.step("power off", |r| {
            let power = r.read_power()?;
            if power == Power::Off {
                return Ok("already off".into());
            }
            let action = r.reset_action()?;
            // A graceful press of the power button (iLO 5 lists it instead of GracefulShutdown)
            // only when the System is known to be on: pressed on an off one, it powers it on.
            let graceful =
                if power == Power::On { action.pick(&["GracefulShutdown", "PushPowerButton"]) } else { action.pick(&["GracefulShutdown"]) };
            let force = action.pick(&["ForceOff"]);
            if graceful.is_none() && force.is_none() {
                action.need(&["GracefulShutdown", "PushPowerButton", "ForceOff"], "to power off")?;
            }
            if let Some(kind) = graceful {
                r.reset(&action, kind)?;
                if power != Power::Unknown && r.wait_power(Power::Off, grace)? {
                    return Ok(if kind == "GracefulShutdown" { "shut down".into() } else { format!("shut down ({kind})") });
                }
                if power == Power::Unknown {
                    std::thread::sleep(grace);
                }
            }
            let Some(force) = force else {
                return Err(format!(
                    "still not Off {} s after {}, and the Reset action allows no ForceOff",
                    grace.as_secs(),
                    graceful.unwrap_or("")
                ));
            };
            r.reset(&action, force)?;
            if power == Power::Unknown {
                return Ok(format!(
                    "{}ForceOff sent (the System reports no PowerState to confirm it)",
                    graceful.map(|g| format!("{g}, then after {} s ", grace.as_secs())).unwrap_or_default()
                ));
            }
            let settle = r.timing.settle;
            if r.wait_power(Power::Off, settle)? {
                Ok(if graceful.is_some() { format!("forced off after {} s", grace.as_secs()) } else { "forced off".into() })
            } else {
                Err(format!("still not Off after {} s", settle.as_secs()))
            }
        })
    }

    /// Restarts when on (ForceRestart, else PowerCycle, else ForceOff + On); powers on when off.
    pub fn power_cycle(&mut self) -> Result<String, BmcError> {
        let plan = self.step("check the Reset action", |r| r.plan_cycle())?;
        self.step("power cycle", |r| r.cycle(plan))
    }

    /// What a power cycle will send, decided before anything changes: On when off, else
    /// ForceRestart, PowerCycle, or ForceOff then On, the first the Reset action allows.
    fn plan_cycle(&mut self) -> Result<(ResetAction, Vec<&'static str>), String> {
        let action = self.reset_action()?;
        let kinds = if self.read_power()? == Power::Off {
            vec![action.need(&["On", "ForceOn"], "to power on")?]
        } else if let Some(k) = action.pick(&["ForceRestart", "PowerCycle"]) {
            vec![k]
        } else {
            let off = action.need(&["ForceRestart", "PowerCycle", "ForceOff"], "to restart")?;
            vec![off, action.need(&["On", "ForceOn"], "to power on after ForceOff")?]
        };
        Ok((action, kinds))
    }

    fn cycle(&mut self, (action, kinds): (ResetAction, Vec<&'static str>)) -> Result<String, String> {
        for (i, kind) in kinds.iter().enumerate() {
            if i > 0 {
                let settle = self.timing.settle;
                self.wait_power(Power::Off, settle)?;
            }
            self.reset(&action, kind)?;
        }
        Ok(kinds.join(" + "))
    }

    // ---- virtual media ----

    fn read_slot(&mut self, slot: &Slot) -> Result<Option<String>, String> {
        let s = self.client.get(&slot.path)?;
        Ok(self.connected(&s))
    }

    /// The image of a slot when something is connected (by `Inserted`, or `ConnectedVia` where
    /// `Inserted` is not to be trusted).
    fn connected(&self, s: &Value) -> Option<String> {
        let image = s.get("Image").and_then(Value::as_str).filter(|i| !i.is_empty()).map(str::to_string);
        let connected = if self.quirks.connected_via_decides {
            s.get("ConnectedVia").and_then(Value::as_str).is_some_and(|c| c != "NotConnected")
        } else {
            s.get("Inserted").and_then(Value::as_bool).unwrap_or(image.is_some())
        };
        if connected {
            Some(image.unwrap_or_default())
        } else {
            None
        }
    }

    /// The slots and what is in them.
    pub fn media(&mut self) -> Result<Vec<MediaSlot>, BmcError> {
        self.step("read virtual media", |r| {
            let mut out = Vec::new();
            for slot in r.slots.clone() {
                let s = r.client.get(&slot.path)?;
                out.push(MediaSlot {
                    id: slot.id.clone(),
                    media_types: slot.media_types.clone(),
                    image: r.connected(&s),
                    inserted: s.get("Inserted").and_then(Value::as_bool),
                    connected_via: s.get("ConnectedVia").and_then(Value::as_str).map(str::to_string),
                });
            }
            Ok(out)
        })
    }

    /// What `status` shows besides power and media; the jobs only when the BMC lists them.
    pub fn info(&mut self) -> Result<SystemInfo, BmcError> {
        let pending_jobs = self.jobs().map(|j| j.into_iter().filter(|j| !j.finished()).collect()).unwrap_or_default();
        self.step("read the System", |r| {
            let sys = r.client.get(&r.system.clone())?;
            let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string);
            let bmc_firmware = match r.manager.clone() {
                Some(m) => r.client.get(&m).ok().and_then(|m| text(&m, "/FirmwareVersion")),
                None => None,
            };
            let enabled = text(&sys, "/Boot/BootSourceOverrideEnabled");
            let boot_override = match (enabled.as_deref(), text(&sys, "/Boot/BootSourceOverrideTarget")) {
                (Some("Once" | "Continuous"), Some(t)) if t != "None" => {
                    Some(format!("{t} {}", enabled.unwrap_or_default().to_ascii_lowercase()))
                }
                _ => None,
            };
            Ok(SystemInfo {
                vendor: format!("{:?}", r.vendor).to_ascii_lowercase(),
                manufacturer: text(&sys, "/Manufacturer"),
                model: text(&sys, "/Model"),
                serial: text(&sys, "/SerialNumber"),
                system_id: text(&sys, "/Id"),
                bios_version: text(&sys, "/BiosVersion"),
                bmc_firmware,
                boot_mode: text(&sys, "/Boot/BootSourceOverrideMode"),
                boot_override,
                health: text(&sys, "/Status/Health"),
                pending_jobs,
            })
        })
    }

    fn eject_all(&mut self) -> Result<usize, String> {
        let mut n = 0;
        for slot in self.slots.clone() {
            if self.read_slot(&slot)?.is_none() {
                continue;
            }
            match &slot.eject {
                // HPE wants a body, even an empty one; nobody minds `{}`.
                Some(action) => self.client.post(action, &json!({}))?,
                None => self.client.patch(&slot.path, &json!({ "Image": null, "Inserted": false }))?,
            };
            n += 1;
            // Dell reports a just-ejected slot as still connected for a while.
            let start = Instant::now();
            while self.read_slot(&slot)?.is_some() {
                if start.elapsed() > self.timing.settle {
                    return Err(format!("slot {} still shows a medium {} s after eject", slot.id, self.timing.settle.as_secs()));
                }
                std::thread::sleep(self.timing.poll);
            }
        }
        Ok(n)
    }

    fn check_url(&self, url: &str) -> Result<(), String> {
        if self.quirks.plain_urls_only && (url.contains('?') || url.contains('=')) {
            return Err(format!(
                "{:?} BMCs refuse image URLs with '?' or '=': publish the file with `liveboot publish` ({url})",
                self.quirks.vendor
            ));
        }
        Ok(())
    }

    fn insert(&mut self, slot: &Slot, url: &str) -> Result<(), String> {
        let mut body = json!({ "Image": url });
        if self.quirks.send_inserted {
            body["Inserted"] = json!(true);
            body["WriteProtected"] = json!(true);
        }
        match &slot.insert {
            // HPE's OEM action takes the image only.
            Some(action) if action.contains("HpeiLOVirtualMedia") => {
                self.client.post(action, &json!({ "Image": url }))?;
            }
            // Some firmware wants the transfer protocol spelled out, AMI MegaRAC also the
            // transfer method: each is added when the BMC names it missing (as ironic and sushy
            // do), once.
            Some(action) => loop {
                match self.client.post(action, &body) {
                    Err(e)
                        if e.contains("HTTP 400") && e.contains("TransferProtocolType") && body.get("TransferProtocolType").is_none() =>
                    {
                        body["TransferProtocolType"] = json!(if url.starts_with("https") { "HTTPS" } else { "HTTP" });
                    }
                    Err(e) if e.contains("HTTP 400") && e.contains("TransferMethod") && body.get("TransferMethod").is_none() => {
                        body["TransferMethod"] = json!("Stream");
                    }
                    r => {
                        r?;
                        break;
                    }
                }
            },
            // Lenovo XCC has no InsertMedia action: the slot is PATCHed (python-redfish-lenovo#21).
            None => {
                self.client.patch(&slot.path, &json!({ "Image": url, "Inserted": true, "WriteProtected": true }))?;
            }
        }
        Ok(())
    }

    fn takes(slot: &Slot, kinds: &[&str]) -> bool {
        slot.media_types.iter().any(|m| kinds.contains(&m.as_str()))
    }

    /// Inserts the live image and the seed, sets boot once from the virtual CD, power-cycles.
    pub fn boot_virtual_cd(&mut self, image_url: &str, seed: &SeedUrls) -> Result<BootReport, BmcError> {
        // The image goes to the slot most made for CDs: one that takes nothing else before one
        // that also takes USB sticks, then by Id ("1" before "2", whatever the collection's
        // order: on a Dell R660 the order put the image in slot 2).
        let mut cds: Vec<&Slot> =
            self.slots.iter().filter(|s| Self::takes(s, &["CD", "DVD"]) && (s.insert.is_some() || s.eject.is_none())).collect();
        cds.sort_by_key(|s| s.media_types.iter().filter(|m| !matches!(m.as_str(), "CD" | "DVD")).count());
        let cd = cds.first().map(|s| (*s).clone());
        let Some(cd) = cd else {
            return Err(self.fail("find a virtual CD", format!("no virtual media slot takes a CD (found: {})", self.slot_list())));
        };
        // The seed goes into a second CD slot as ISO 9660, else a USB stick or floppy slot as FAT.
        let others: Vec<Slot> = self.slots.iter().filter(|s| s.path != cd.path).cloned().collect();
        let seed_slot =
            others.iter().find(|s| Self::takes(s, &["CD", "DVD"])).map(|s| (s.clone(), seed.iso.clone(), "iso")).or_else(|| {
                others.iter().find(|s| Self::takes(s, &["USBStick", "Floppy"])).map(|s| (s.clone(), seed.vfat.clone(), "vfat"))
            });
        // One slot only (iDRAC 10, single-slot Supermicro and AMI boards): the seed rides on
        // the image itself when the caller can embed it (or always, when the inventory says so).
        let seed_slot = if seed.placement == SeedPlacement::Embed { None } else { seed_slot };
        let (image_url, seed_slot) = match (seed_slot, &seed.embedded, seed.placement) {
            (Some(s), _, _) => (image_url.to_string(), Some(s)),
            (None, Some(embed), SeedPlacement::Auto | SeedPlacement::Embed) => {
                (self.step("embed the seed in the image", |_| (embed.0)())?, None)
            }
            (None, None, SeedPlacement::Embed) => {
                return Err(self.fail(
                    "embed the seed in the image",
                    "bmc.seed is embed, and an image given as a URL cannot be remastered here (give boot the ISO file)",
                ))
            }
            (None, _, _) => {
                let how = if seed.placement == SeedPlacement::Slot {
                    "or the image must carry it (bmc.seed: auto or embed)"
                } else {
                    "or the image must carry it (give boot an ISO file, not a URL, and liveboot embeds it)"
                };
                return Err(self.fail(
                    "find a slot for the seed",
                    format!("the BMC offers one virtual media slot ({}); the seed needs a second one, {how}", self.slot_list()),
                ));
            }
        };
        // Everything that can be known before the first change is checked first, so that a
        // node is never left half-changed: URLs the firmware takes, the power actions, the
        // one-time boot target.
        for url in std::iter::once(image_url.as_str()).chain(seed_slot.as_ref().map(|(_, u, _)| u.as_str())) {
            self.step("check the image URL", |r| r.check_url(url))?;
        }
        let cycle = self.step("check the Reset action", |r| r.plan_cycle())?;
        let target = match self.quirks.boot_once {
            BootOnce::Override => {
                let wanted = [self.quirks.cd_target, "Cd", "UsbCd"];
                Some(self.step("check the one-time boot", |r| r.plan_override(&wanted))?)
            }
            _ => None,
        };
        self.step("eject media", |r| r.eject_all())?;
        self.step("insert image", |r| r.insert(&cd, &image_url))?;
        let seed_report = match &seed_slot {
            Some((slot, url, format)) => {
                self.step("insert seed", |r| r.insert(slot, url))?;
                format!("{} ({format})", slot.id)
            }
            None if seed.placement == SeedPlacement::Embed => "none: embedded in the image (bmc.seed: embed)".to_string(),
            None => "none: embedded in the image (the BMC has one slot)".to_string(),
        };
        let boot_once = self.step("set one-time boot", |r| r.boot_once_cd(&cd, target))?;
        let power = self.step("power cycle", |r| r.cycle(cycle))?;
        Ok(BootReport { image_slot: cd.id, seed_slot: seed_report, boot_once, power })
    }

    fn slot_list(&self) -> String {
        let mut out = if self.slots.is_empty() {
            "none".to_string()
        } else {
            self.slots.iter().map(|s| format!("{} [{}]", s.id, s.media_types.join(","))).collect::<Vec<_>>().join(", ")
        };
        if !self.unreadable.is_empty() {
            out.push_str(&format!("; unreadable: {}", self.unreadable.join(", ")));
        }
        out
    }

    fn boot_once_cd(&mut self, cd: &Slot, target: Option<&'static str>) -> Result<String, String> {
        match self.quirks.boot_once {
            BootOnce::Override => self.override_boot(target.unwrap_or(self.quirks.cd_target)),
            BootOnce::HpeBootOnNextReset => {
                let s = self.client.get(&cd.path)?;
                let oem = if s.pointer("/Oem/Hp").is_some() && s.pointer("/Oem/Hpe").is_none() { "Hp" } else { "Hpe" };
                self.client.patch(&cd.path, &json!({ "Oem": { oem: { "BootOnNextServerReset": true } } }))?;
                Ok(format!("Oem.{oem}.BootOnNextServerReset on slot {}", cd.id))
            }
            BootOnce::DellImportBootOnce => {
                let manager = self.manager.clone().ok_or("no Manager to run the boot-once job on")?;
                let m = self.client.get(&manager)?;
                let target = m
                    .pointer("/Actions/Oem/#OemManager.ImportSystemConfiguration/target")
                    .or_else(|| m.pointer("/Actions/Oem/OemManager.v1_0_0#OemManager.ImportSystemConfiguration/target"))
                    .and_then(Value::as_str)
                    .map(|t| self.client.path_of(t))
                    .unwrap_or_else(|| format!("{manager}/Actions/Oem/EID_674_Manager.ImportSystemConfiguration"));
                let xml = "<SystemConfiguration><Component FQDD=\"iDRAC.Embedded.1\">\
                           <Attribute Name=\"ServerBoot.1#BootOnce\">Enabled</Attribute>\
                           <Attribute Name=\"ServerBoot.1#FirstBootDevice\">VCD-DVD</Attribute>\
                           </Component></SystemConfiguration>";
                let body = json!({ "ShareParameters": { "Target": "ALL" }, "ImportBuffer": xml, "ShutdownType": "NoReboot" });
                let reply = self.client.post(&target, &body)?;
                let job = reply.location.ok_or("the boot-once import answered without a job Location")?;
                self.client.wait_task(&job)?;
                Ok(format!("Dell ImportSystemConfiguration job {}", job.rsplit('/').next().unwrap_or(&job)))
            }
        }
    }

    /// The first of `wanted` the System's one-time boot takes, checked before anything changes:
    /// the System must have a `Boot` object, and when it lists
    /// `BootSourceOverrideTarget@Redfish.AllowableValues` the target must be among them
    /// (Supermicro offers `UsbCd`, not `Cd`, for its virtual CD).
    fn plan_override(&mut self, wanted: &[&'static str]) -> Result<&'static str, String> {
        let sys = self.client.get(&self.system.clone())?;
        let boot = sys.get("Boot").ok_or("the System has no Boot object: a one-time boot cannot be set through Redfish")?;
        let allowed = strings(boot.get("BootSourceOverrideTarget@Redfish.AllowableValues"));
        if allowed.is_empty() {
            return Ok(wanted[0]);
        }
        wanted.iter().copied().find(|w| allowed.iter().any(|a| a == w)).ok_or_else(|| {
            format!(
                "the System's one-time boot allows {} but not {}",
                allowed.join(", "),
                wanted
                    .iter()
                    .fold(Vec::new(), |mut v, w| {
                        if !v.contains(w) {
                            v.push(*w)
                        }
                        v
                    })
                    .join(" or ")
            )
        })
    }

    /// PATCHes the boot override, to the System's settings object when it has one (AMI).
    fn override_boot(&mut self, target: &str) -> Result<String, String> {
        let sys = self.client.get(&self.system.clone())?;
        let mut boot = json!({ "BootSourceOverrideTarget": target, "BootSourceOverrideEnabled": "Once" });
        if self.quirks.full_override {
            let mode = sys.pointer("/Boot/BootSourceOverrideMode").and_then(Value::as_str).unwrap_or("UEFI");
            boot["BootSourceOverrideMode"] = json!(mode);
        }
        let at = sys
            .pointer("/@Redfish.Settings/SettingsObject/@odata.id")
            .and_then(Value::as_str)
            .map(|p| self.client.path_of(p))
            .unwrap_or_else(|| self.system.clone());
        self.client.patch(&at, &json!({ "Boot": boot }))?;
        Ok(format!("BootSourceOverrideTarget={target} Once{}", if at != self.system { format!(" via {at}") } else { String::new() }))
    }

    /// Ejects everything, sets boot once from disk, power-cycles.
    pub fn diskboot(&mut self) -> Result<String, BmcError> {
        let cycle = self.step("check the Reset action", |r| r.plan_cycle())?;
        let target = self.step("check the one-time boot", |r| r.plan_override(&["Hdd"]))?;
        let ejected = self.step("eject media", |r| r.eject_all())?;
        let how = self.step("set one-time boot", |r| r.override_boot(target))?;
        let power = self.step("power cycle", |r| r.cycle(cycle))?;
        Ok(format!("ejected {ejected}, {how}, {power}"))
    }

    // ---- BIOS ----

    fn bios_path(&mut self) -> Result<String, String> {
        let sys = self.client.get(&self.system.clone())?;
        link(&self.client, &sys, "Bios").ok_or_else(|| "the System links no Bios resource".into())
    }

    /// Attributes whose names contain `pattern`.
    pub fn bios_get(&mut self, pattern: Option<&str>) -> Result<Vec<(String, Value)>, BmcError> {
        self.step("read BIOS", |r| {
            let bios = r.bios_path()?;
            let b = r.client.get(&bios)?;
            let attrs = b.get("Attributes").and_then(Value::as_object).ok_or("the Bios resource has no Attributes")?;
            let pat = pattern.map(str::to_ascii_lowercase);
            Ok(attrs
                .iter()
                .filter(|(k, _)| pat.as_ref().is_none_or(|p| k.to_ascii_lowercase().contains(p)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        })
    }

    /// Sets attributes (typed after their current values).
    pub fn bios_set(&mut self, pairs: &[(String, String)]) -> Result<String, BmcError> {
        self.step("set BIOS", |r| {
            let bios = r.bios_path()?;
            let b = r.client.get(&bios)?;
            let attrs = b.get("Attributes").and_then(Value::as_object).cloned().unwrap_or_default();
            let mut out = serde_json::Map::new();
            for (k, v) in pairs {
                let Some(current) = attrs.get(k) else {
                    let close: Vec<&String> =
                        attrs.keys().filter(|a| a.to_ascii_lowercase().contains(&k.to_ascii_lowercase())).take(3).collect();
                    return Err(format!(
                        "no BIOS attribute '{k}'{}",
                        if close.is_empty() {
                            " (list them with `liveboot bios get`)".to_string()
                        } else {
                            format!(" (did you mean {close:?}?)")
                        }
                    ));
                };
                out.insert(k.clone(), typed(current, v).map_err(|e| format!("{k}={v}: {e}"))?);
            }
            let settings = b.pointer("/@Redfish.Settings/SettingsObject/@odata.id").and_then(Value::as_str).map(|p| r.client.path_of(p));
            let mut body = json!({ "Attributes": out });
            let on_reset = b
                .pointer("/@Redfish.Settings/SupportedApplyTimes")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|t| t == "OnReset"));
            if on_reset {
                body["@Redfish.SettingsApplyTime"] = json!({ "ApplyTime": "OnReset" });
            }
            match settings {
                Some(s) => {
                    r.client.patch(&s, &body)?;
                    Ok("pending: applies at the next reboot".into())
                }
                None => {
                    r.client.patch(&bios, &body)?;
                    Ok("applied".into())
                }
            }
        })
    }

    /// ResetBios.
    pub fn bios_reset(&mut self) -> Result<String, BmcError> {
        self.step("reset BIOS", |r| {
            let bios = r.bios_path()?;
            let b = r.client.get(&bios)?;
            let target = b
                .pointer("/Actions/#Bios.ResetBios/target")
                .and_then(Value::as_str)
                .map(|t| r.client.path_of(t))
                .ok_or("the Bios resource offers no #Bios.ResetBios action")?;
            r.client.post(&target, &json!({}))?;
            Ok("defaults restored at the next reboot".into())
        })
    }

    // ---- jobs ----

    /// The job queue: Dell's Manager Jobs, else the TaskService's Tasks; None when the BMC has
    /// neither (then there is nothing queued, which is not an error).
    fn job_collection(&mut self) -> Result<Option<(String, bool)>, String> {
        if self.quirks.manager_jobs {
            if let Some(m) = self.manager.clone() {
                return Ok(Some((format!("{m}/Jobs"), true)));
            }
        }
        let root = self.client.get("/redfish/v1/")?;
        let Some(ts) = link(&self.client, &root, "Tasks") else { return Ok(None) };
        let service = self.client.get(&ts)?;
        Ok(link(&self.client, &service, "Tasks").map(|t| (t, false)))
    }

    /// The job queue (Dell) or task list (others); empty on a BMC without either.
    pub fn jobs(&mut self) -> Result<Vec<Job>, BmcError> {
        self.step("list jobs", |r| {
            let Some((col, _)) = r.job_collection()? else { return Ok(Vec::new()) };
            let mut jobs = Vec::new();
            for p in members(&mut r.client, &col)? {
                let j = r.client.get(&p)?;
                let s = |k: &str| j.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                jobs.push(Job {
                    id: s("Id"),
                    name: s("Name"),
                    state: if j.get("JobState").is_some() { s("JobState") } else { s("TaskState") },
                    percent: j.get("PercentComplete").and_then(Value::as_u64),
                    message: if j.get("Message").is_some() {
                        s("Message")
                    } else {
                        j.pointer("/Messages/0/Message").and_then(Value::as_str).unwrap_or("").into()
                    },
                });
            }
            Ok(jobs)
        })
    }

    /// Deletes one job or all (Dell: DeleteJobQueue with JID_CLEARALL).
    pub fn jobs_clear(&mut self, id: Option<&str>) -> Result<usize, BmcError> {
        let jobs = self.jobs()?;
        self.step("clear jobs", |r| {
            let Some((col, dell)) = r.job_collection()? else {
                return match id {
                    Some(i) => Err(format!("no job '{i}': the BMC has no job queue (no TaskService)")),
                    None => Ok(0),
                };
            };
            if dell {
                // Source: Dell iDRAC Redfish API guide, DellJobService; quads#726, bmclib#467.
                let m = r.manager.clone().unwrap_or_default();
                let target =
                    format!("/redfish/v1/Dell{}/DellJobService/Actions/DellJobService.DeleteJobQueue", m.trim_start_matches("/redfish/v1"));
                r.client.post(&target, &json!({ "JobID": id.unwrap_or("JID_CLEARALL") }))?;
                return Ok(if id.is_some() { 1 } else { jobs.len() });
            }
            let mut n = 0;
            for j in jobs.iter().filter(|j| id.is_none_or(|i| i == j.id)) {
                r.client.delete(&format!("{col}/{}", j.id))?;
                n += 1;
            }
            if let (Some(i), 0) = (id, n) {
                return Err(format!("no job '{i}'"));
            }
            Ok(n)
        })
    }
}

/// The standard `ResetType` values (Redfish Resource.ResetType).
const RESET_TYPES: &[&str] = &[
    "On",
    "ForceOff",
    "GracefulShutdown",
    "GracefulRestart",
    "ForceRestart",
    "Nmi",
    "ForceOn",
    "PushPowerButton",
    "PowerCycle",
    "Suspend",
    "Pause",
    "Resume",
    "FullPowerCycle",
];

/// A System's Reset action: where to post it and which types it takes (None: it does not say).
struct ResetAction {
    target: String,
    allowed: Option<Vec<&'static str>>,
    /// What the BMC listed, as it spelled it (for messages).
    listed: Vec<String>,
}

impl ResetAction {
    /// The first of `wanted` the action allows (the first, when it does not say).
    fn pick(&self, wanted: &[&'static str]) -> Option<&'static str> {
        wanted.iter().copied().find(|w| self.allowed.as_ref().is_none_or(|a| a.contains(w)))
    }

    /// Like [`pick`](Self::pick), or an error naming what the action allows.
    fn need(&self, wanted: &[&'static str], purpose: &str) -> Result<&'static str, String> {
        self.pick(wanted).ok_or_else(|| {
            format!("the System's Reset action allows {} but not {} ({purpose})", self.listed.join(", "), wanted.join(" or "))
        })
    }
}

/// Whether `path` lies under the resource `resource` (trailing slashes ignored).
fn under(path: &str, resource: &str) -> bool {
    path.strip_prefix(resource.trim_end_matches('/')).is_some_and(|rest| rest.starts_with('/'))
}

/// The strings of a JSON array (none when it is not one).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

/// A command-line value in the JSON type of the attribute's current value.
fn typed(current: &Value, v: &str) -> Result<Value, String> {
    Ok(match current {
        Value::Bool(_) => json!(match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "enabled" => true,
            "false" | "no" | "off" | "disabled" => false,
            _ => return Err("expected true or false".into()),
        }),
        Value::Number(_) => json!(v.parse::<i64>().map_err(|_| "expected a whole number".to_string())?),
        _ => json!(v),
    })
}
