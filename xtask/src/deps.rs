//! Host packages. Everything the project runs that is not a Rust crate comes from Debian 12's
//! archive, installed here so that a fresh machine needs nothing but the Rust toolchain.

use std::process::Command;

use anyhow::{bail, Result};

/// Debian packages and why each is needed.
pub const PACKAGES: &[(&str, &str)] = &[
    (
        "xorriso",
        "reads (tests) and writes (image builds) ISO 9660 images",
    ),
    (
        "genisoimage",
        "isoinfo, a second independent ISO reader for the seed tests",
    ),
    (
        "cloud-image-utils",
        "cloud-localds, the peer tool of the seed benchmark",
    ),
    (
        "cloud-init",
        "cloud-init's own schema check of every rendered user-data",
    ),
];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs what is missing; does nothing (quickly) when all is there.
pub fn install() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask deps: installing {}", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let status = cmd.status()?;
        if !status.success() {
            bail!(
                "apt-get {} failed ({status}); install these Debian packages by hand: {}",
                args.join(" "),
                missing.join(" ")
            );
        }
        Ok(())
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}
