//! IPMI through ipmitool (lanplus): power and boot device.
//!
//! The password travels in ipmitool's environment (`-E` reads IPMI_PASSWORD), never on its
//! argv, which every local user can read in /proc. The cipher suite is the inventory's
//! `cipher_suite` (3 by default: ipmi_sim and older BMCs; many current ones need 17).

use std::time::Duration;

use liveboot_runner::{Cmd, RunError, Runner};

use crate::{BmcError, BootReport, Power, Secret, Target, Timing};

/// One IPMI BMC.
pub struct Ipmi {
    node: String,
    host: String,
    port: Option<String>,
    username: String,
    password: Secret,
    cipher: u8,
    timing: Timing,
    runner: Runner,
}

impl Ipmi {
    /// A handle; nothing is sent until the first command.
    pub fn new(t: &Target, timing: &Timing) -> Ipmi {
        let (host, port) = split_port(&t.address);
        Ipmi {
            node: t.node.clone(),
            host,
            port,
            username: t.username.clone(),
            password: t.password.clone(),
            cipher: t.cipher_suite.unwrap_or(3),
            timing: timing.clone(),
            runner: Runner::new(),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The ipmitool command for `args` (password in the environment).
    pub fn command(&self, args: &[&str]) -> Cmd {
        let mut c = Cmd::new("ipmitool").args(["-I", "lanplus", "-H", &self.host]);
        if let Some(p) = &self.port {
            c = c.args(["-p", p]);
        }
        c.args(["-U", &self.username, "-E", "-C", &self.cipher.to_string()])
            .args(["-N", &self.timing.request.as_secs().max(1).to_string(), "-R", &self.timing.attempts.max(1).to_string()])
            .args(args)
            .secret_env("IPMI_PASSWORD", self.password.expose())
            .timeout(self.timing.request * (self.timing.attempts.max(1) + 1))
    }

    fn run(&self, step: &str, args: &[&str]) -> Result<String, BmcError> {
        self.runner.run(&self.command(args)).map(|o| o.stdout_text()).map_err(|e| BmcError {
            node: self.node.clone(),
            step: step.into(),
            message: match e {
                RunError::Failed { stderr_tail, .. } => {
                    let said = stderr_tail.lines().map(|l| l.trim_start_matches("  | ").trim()).collect::<Vec<_>>().join("; ");
                    format!(
                        "ipmitool failed: {said}{}",
                        if said.contains("cipher") || said.contains("Unable to establish") {
                            " (check the address, the credentials and bmc.cipher_suite)"
                        } else {
                            ""
                        }
                    )
                }
                other => other.to_string(),
            },
        })
    }

    /// Chassis power state.
    pub fn power(&mut self) -> Result<Power, BmcError> {
        let out = self.run("read power state", &["chassis", "power", "status"])?;
        Ok(if out.contains("is on") {
            Power::On
        } else if out.contains("is off") {
            Power::Off
        } else {
            Power::Other
        })
    }

    fn wait(&mut self, want: Power, within: Duration) -> Result<bool, BmcError> {
        let timing = self.timing.clone();
        timing.poll_until(within, || Ok(self.power()? == want))
    }

    /// What `mc info` tells: the BMC's firmware revision and its manufacturer.
    pub fn info(&mut self) -> Result<crate::SystemInfo, BmcError> {
        let out = self.run("read BMC info", &["mc", "info"])?;
        let field = |name: &str| {
            out.lines()
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_string()))
                .filter(|v| !v.is_empty())
        };
        Ok(crate::SystemInfo {
            vendor: "ipmi".into(),
            manufacturer: field("Manufacturer Name"),
            bmc_firmware: field("Firmware Revision"),
            ..Default::default()
        })
    }

    /// Power on and wait for it.
    pub fn on(&mut self) -> Result<(), BmcError> {
        if self.power()? != Power::On {
            self.run("power on", &["chassis", "power", "on"])?;
        }
        if self.wait(Power::On, self.timing.settle)? {
            Ok(())
        } else {
            Err(BmcError { node: self.node.clone(), step: "power on".into(), message: "the BMC does not report power on".into() })
        }
    }

    /// Soft off (ACPI), forced after `grace`.
    pub fn off(&mut self, grace: Duration) -> Result<String, BmcError> {
        if self.power()? == Power::Off {
            return Ok("already off".into());
        }
        self.run("power off", &["chassis", "power", "soft"])?;
        if self.wait(Power::Off, grace)? {
            return Ok("shut down".into());
        }
        self.run("power off", &["chassis", "power", "off"])?;
        if self.wait(Power::Off, self.timing.settle)? {
            Ok(format!("forced off after {} s", grace.as_secs()))
        } else {
            Err(BmcError { node: self.node.clone(), step: "power off".into(), message: "the BMC does not report power off".into() })
        }
    }

    /// Cycle when on, on when off.
    pub fn power_cycle(&mut self) -> Result<String, BmcError> {
        if self.power()? == Power::Off {
            self.run("power on", &["chassis", "power", "on"])?;
            Ok("on".into())
        } else {
            self.run("power cycle", &["chassis", "power", "cycle"])?;
            Ok("cycle".into())
        }
    }

    /// The boot device for the next boot (UEFI).
    pub fn bootdev(&mut self, dev: &str) -> Result<(), BmcError> {
        self.run("set boot device", &["chassis", "bootdev", dev, "options=efiboot"]).map(|_| ())
    }

    /// Next boot from the network (the PXE bundle), then power cycle.
    pub fn boot_pxe(&mut self) -> Result<BootReport, BmcError> {
        self.bootdev("pxe")?;
        let power = self.power_cycle()?;
        Ok(BootReport { image_slot: "-".into(), seed_slot: "-".into(), boot_once: "bootdev pxe (EFI)".into(), power })
    }

    /// Next boot from disk, then power cycle.
    pub fn diskboot(&mut self) -> Result<String, BmcError> {
        self.bootdev("disk")?;
        Ok(format!("bootdev disk (EFI), {}", self.power_cycle()?))
    }

    /// The serial-over-LAN console command (interactive; the caller runs it with a terminal).
    pub fn sol_command(&self) -> Cmd {
        self.command(&["sol", "activate"])
    }
}

fn split_port(address: &str) -> (String, Option<String>) {
    if let Some(rest) = address.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once("]:") {
            return (h.to_string(), Some(p.to_string()));
        }
        return (rest.trim_end_matches(']').to_string(), None);
    }
    match address.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p.to_string())),
        _ => (address.to_string(), None),
    }
}
