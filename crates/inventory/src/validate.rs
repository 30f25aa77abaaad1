//! Inventory checks beyond types: names, addresses, keys, references between nodes and slices.

use std::collections::BTreeMap;
use std::path::Path;

use liveboot_yaml::{Diagnostic, Diagnostics, Node, PathSeg, Span};

use crate::{at, parse_public_key, Inventory, InventoryFile, Slice};

macro_rules! path {
    ($($seg:expr),* $(,)?) => { &[$(PathSeg::from($seg)),*][..] };
}

/// RFC 1123 host name label.
fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !s.starts_with('-') && !s.ends_with('-')
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

/// A MAC address as inventories write it: six hex pairs separated by `:`.
pub fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn mac_fix(s: &str) -> String {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_lowercase();
    if hex.len() == 12 {
        let pairs: Vec<&str> = (0..6).map(|i| &hex[2 * i..2 * i + 2]).collect();
        format!("write it as '{}'", pairs.join(":"))
    } else {
        "write six pairs of hexadecimal digits separated by ':', e.g. '52:54:00:12:34:56'".into()
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len.parse::<u8>().is_ok_and(|l| l <= 32),
        Ok(std::net::IpAddr::V6(_)) => len.parse::<u8>().is_ok_and(|l| l <= 128),
        Err(_) => false,
    }
}

/// The 32 bytes of a SHA-256 fingerprint written as hex, with or without colons.
pub fn parse_fingerprint(s: &str) -> Option<[u8; 32]> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn bmc_address_ok(a: &str) -> bool {
    let rest = a.strip_prefix("https://").or_else(|| a.strip_prefix("http://")).unwrap_or(a);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return false;
    }
    if rest.starts_with('[') {
        return rest.find(']').is_some_and(|i| rest[1..i].parse::<std::net::Ipv6Addr>().is_ok());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0)) && (host.parse::<std::net::Ipv4Addr>().is_ok() || is_dns_name(host))
}

pub(crate) fn validate(file: &Path, tree: &Node, raw: InventoryFile) -> Result<Inventory, Diagnostics> {
    let mut problems: Vec<Diagnostic> = Vec::new();
    // Files the inventory names (vendor data, key files) lie in its own folder.
    let home = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    macro_rules! p {
        ($path:expr, $m:expr, $h:expr $(,)?) => {
            problems.push(at(tree, $path, $m, $h))
        };
    }

    let url = &raw.publish.base_url;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        p!(
            path!["publish", "base_url"],
            format!("'{url}' is not an http(s) URL"),
            "write the URL the BMCs fetch images from, e.g. http://10.0.0.1:8080/liveboot"
        );
    } else if url.contains(['?', '=', '#', ' ']) {
        p!(
            path!["publish", "base_url"],
            format!("'{url}' contains '?', '=', '#' or a space, which some BMCs reject in image URLs"),
            "publish under a plain path"
        );
    }

    for (name, node) in &raw.nodes {
        let n = name.as_str();
        if !is_label(n) {
            p!(
                path!["nodes", n],
                format!("node name '{n}' is not a valid host name label"),
                "use letters, digits and '-', at most 63 characters"
            );
        }
        if let Some(h) = &node.hostname {
            if !is_label(h) {
                p!(
                    path!["nodes", n, "hostname"],
                    format!("'{h}' is not a valid host name"),
                    "use letters, digits and '-' (no dots: put the domain in 'domain:')"
                );
            }
        }
        for (key, v) in [("domain", &node.domain), ("fqdn", &node.fqdn)] {
            if let Some(v) = v {
                if !is_dns_name(v) {
                    p!(
                        path!["nodes", n, key],
                        format!("'{v}' is not a valid DNS name"),
                        "use dot-separated labels of letters, digits and '-'"
                    );
                }
            }
        }
        for (i, mac) in node.macs.iter().enumerate() {
            if !is_mac(mac) {
                p!(path!["nodes", n, "macs", i], format!("'{mac}' is not a MAC address"), &mac_fix(mac));
            }
        }
        let bmc = &node.bmc;
        if !bmc_address_ok(&bmc.address) {
            p!(
                path!["nodes", n, "bmc", "address"],
                format!("'{}' is not a BMC address", bmc.address),
                "write a host name or IP address, optionally with :port, or an https:// URL"
            );
        }
        if bmc.password.is_some() {
            p!(
                path!["nodes", n, "bmc", "password"],
                "a BMC password must not be written in the inventory",
                "remove it and name where it is kept: 'password_env: VAR' or 'password_file: path'",
            );
        }
        match (&bmc.password_env, &bmc.password_file) {
            (None, None) if bmc.password.is_none() => p!(
                path!["nodes", n, "bmc"],
                format!("node '{n}' has no BMC credentials reference"),
                "add 'password_env: VAR' or 'password_file: path' (here or under defaults.bmc)",
            ),
            (Some(_), Some(_)) => {
                p!(path!["nodes", n, "bmc", "password_file"], "both password_env and password_file are set", "keep one of them")
            }
            (Some(v), None) if !is_env_name(v) => p!(
                path!["nodes", n, "bmc", "password_env"],
                format!("'{v}' is not an environment variable name"),
                "use letters, digits and '_', e.g. BMC_PASSWORD"
            ),
            _ => {}
        }
        if let Some(v) = bmc.vendor.as_deref().filter(|v| !crate::VENDORS.contains(v)) {
            p!(
                path!["nodes", n, "bmc", "vendor"],
                format!("unknown BMC vendor '{v}'"),
                match liveboot_yaml::closest(v, crate::VENDORS) {
                    Some(c) => format!("did you mean '{c}'?"),
                    None => format!("use one of {}, or leave it out to detect it", crate::VENDORS.join(", ")),
                }
            );
        }
        if bmc.username.is_empty() {
            p!(path!["nodes", n, "bmc", "username"], "the BMC user name is empty", "write the BMC login, e.g. root or ADMIN");
        }
        if let Some(fp) = &bmc.fingerprint {
            if parse_fingerprint(fp).is_none() {
                p!(
                    path!["nodes", n, "bmc", "fingerprint"],
                    format!("'{fp}' is not a SHA-256 certificate fingerprint"),
                    "write 64 hex digits (colons allowed), as `openssl x509 -noout -fingerprint -sha256` prints them"
                );
            }
        }
        if let Some(ca) = &bmc.ca_file {
            if !file.parent().unwrap_or(Path::new(".")).join(ca).is_file() {
                p!(
                    path!["nodes", n, "bmc", "ca_file"],
                    format!("CA file '{ca}' does not exist"),
                    "write the path of a PEM file, relative to the inventory"
                );
            }
        }
        if let Some(ssh) = &node.ssh {
            if !bmc_address_ok(ssh) || ssh.contains("://") {
                p!(path!["nodes", n, "ssh"], format!("'{ssh}' is not a host or host:port"), "write e.g. 10.0.0.5 or w1.lab:2222");
            }
        }
        for (i, ifc) in node.network.iter().enumerate() {
            if !is_mac(&ifc.mac) {
                p!(path!["nodes", n, "network", i, "mac"], format!("'{}' is not a MAC address", ifc.mac), &mac_fix(&ifc.mac));
            }
            if !is_label(&ifc.name) || ifc.name.len() > 15 {
                p!(
                    path!["nodes", n, "network", i, "name"],
                    format!("'{}' is not a valid interface name", ifc.name),
                    "use at most 15 letters, digits and '-', e.g. eno1"
                );
            }
            for (j, a) in ifc.addresses.iter().enumerate() {
                if !is_cidr(a) {
                    p!(
                        path!["nodes", n, "network", i, "addresses", j],
                        format!("'{a}' is not an address with a prefix length"),
                        "write it like 10.0.0.11/24"
                    );
                }
            }
            if let Some(g) = &ifc.gateway {
                if g.parse::<std::net::IpAddr>().is_err() {
                    p!(
                        path!["nodes", n, "network", i, "gateway"],
                        format!("'{g}' is not an IP address"),
                        "write the gateway's address, e.g. 10.0.0.1"
                    );
                }
            }
            for (j, d) in ifc.nameservers.iter().enumerate() {
                if d.parse::<std::net::IpAddr>().is_err() {
                    p!(
                        path!["nodes", n, "network", i, "nameservers", j],
                        format!("'{d}' is not an IP address"),
                        "write a DNS server's address"
                    );
                }
            }
        }
        if let Some(v) = &node.vendor_data {
            let resolved = tree.locate(path!["nodes", n, "vendor_data"]).span.resolve(v);
            if !resolved.is_file() {
                p!(
                    path!["nodes", n, "vendor_data"],
                    format!("vendor-data file '{v}' not found ({} does not exist)", resolved.display()),
                    "fix the path; it is taken from the inventory's folder"
                );
            } else if let Some((m, h)) = liveboot_yaml::outside(&resolved, &home, "vendor-data file") {
                p!(path!["nodes", n, "vendor_data"], m, &h);
            }
        }
    }

    let mut slices = BTreeMap::new();
    let mut member_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, s) in &raw.slices {
        let sn = name.as_str();
        let mut keys = Vec::new();
        let before = problems.len();
        for (i, k) in s.ssh_keys.iter().enumerate() {
            match parse_public_key(k) {
                Ok(key) => keys.push(key),
                Err((m, h)) => p!(path!["slices", sn, "ssh_keys", i], m, &h),
            }
        }
        for (i, f) in s.ssh_key_files.iter().enumerate() {
            let span = &tree.locate(path!["slices", sn, "ssh_key_files", i]).span;
            let resolved = span.resolve(f);
            if let Some((m, h)) = resolved.exists().then(|| liveboot_yaml::outside(&resolved, &home, "key file")).flatten() {
                p!(path!["slices", sn, "ssh_key_files", i], m, &h);
                continue;
            }
            match liveboot_yaml::read_bounded(&resolved, 1 << 20) {
                Err(e) => p!(
                    path!["slices", sn, "ssh_key_files", i],
                    format!("cannot read key file '{f}' ({}: {})", resolved.display(), e.message),
                    "name a regular file of public keys (at most 1 MiB); the path is taken from the inventory's folder"
                ),
                Ok(text) => {
                    for (ln, line) in text.lines().enumerate() {
                        if line.trim().is_empty() || line.trim_start().starts_with('#') {
                            continue;
                        }
                        match parse_public_key(line) {
                            Ok(key) => keys.push(key),
                            Err((m, h)) => problems.push(Diagnostic::at(&Span::new(&resolved, ln as u32 + 1, 1), m).with_help(h)),
                        }
                    }
                }
            }
        }
        // A slice whose keys were all rejected above has been told so already.
        if keys.is_empty() && problems.len() == before {
            p!(
                path!["slices", sn],
                format!("slice '{sn}' has no SSH keys"),
                "add 'ssh_keys:' or 'ssh_key_files:'; without a key nobody can log in"
            );
        }
        for (i, member) in s.nodes.iter().enumerate() {
            if !raw.nodes.contains_key(member) {
                let known: Vec<&str> = raw.nodes.keys().map(String::as_str).collect();
                p!(
                    path!["slices", sn, "nodes", i],
                    format!("slice '{sn}' names unknown node '{member}'"),
                    &format!("define it under 'nodes:' or use one of {}", known.join(", "))
                );
            } else if let Some(other) = member_of.insert(member, sn) {
                p!(
                    path!["slices", sn, "nodes", i],
                    format!("node '{member}' is in slices '{other}' and '{sn}'"),
                    "a node belongs to one slice at a time: remove it from one of them"
                );
            }
        }
        slices.insert(name.clone(), Slice { name: name.clone(), keys, nodes: s.nodes.clone(), packages: s.packages.clone() });
    }

    if problems.is_empty() {
        Ok(Inventory { file: file.to_path_buf(), publish: raw.publish, nodes: raw.nodes, slices })
    } else {
        Err(Diagnostics(problems))
    }
}
