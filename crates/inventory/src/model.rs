//! The inventory as written in YAML. Every struct rejects unknown keys.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    /// Where images are published.
    pub publish: Publish,
    /// Settings merged beneath every node (a node's own values win).
    #[serde(default)]
    #[allow(dead_code)]
    pub defaults: Option<serde::de::IgnoredAny>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeSpec>,
    /// Slices by name.
    #[serde(default)]
    pub slices: BTreeMap<String, SliceSpec>,
}

/// Where published files are served from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The URL under which BMCs and nodes fetch images and seeds.
    pub base_url: String,
    /// The folder that URL serves, when liveboot publishes into another web server's tree.
    pub dir: Option<String>,
}

/// One server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Host name (defaults to the node's name).
    pub hostname: Option<String>,
    /// DNS domain; with the host name it makes the FQDN.
    pub domain: Option<String>,
    /// Full name, when it is not hostname.domain.
    pub fqdn: Option<String>,
    /// MAC addresses of the node's network interfaces.
    #[serde(default)]
    pub macs: Vec<String>,
    /// The node's BMC.
    pub bmc: Bmc,
    /// Static network settings; without them the seed has no network-config (DHCP).
    #[serde(default)]
    pub network: Vec<Interface>,
    /// Extra packages installed at first boot.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Where the booted system's SSH answers, `host` or `host:port` (default: the first static
    /// address, else the FQDN, port 22). `liveboot wait` and `status` look there.
    pub ssh: Option<String>,
    /// BIOS attributes `liveboot status` shows for this node (Redfish names, e.g. BootMode).
    #[serde(default)]
    pub bios_attributes: Vec<String>,
    /// A vendor-data file placed in the seed as is.
    pub vendor_data: Option<String>,
}

/// How to reach a BMC.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bmc {
    /// Host name or address, optionally with a port, or an http(s) URL.
    pub address: String,
    /// Protocol.
    pub protocol: Protocol,
    /// Vendor hint, when detection should be skipped: one of [`VENDORS`].
    pub vendor: Option<String>,
    /// Login.
    pub username: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<String>,
    /// Written here only to be rejected with a clear message.
    pub password: Option<serde::de::IgnoredAny>,
    /// PEM file of the CA that signed a Redfish BMC's certificate (relative to the inventory).
    pub ca_file: Option<String>,
    /// SHA-256 fingerprint of a self-signed BMC certificate (hex, colons allowed): trusted as is.
    pub fingerprint: Option<String>,
    /// IPMI cipher suite (ipmitool -C); 17 on most current BMCs, 3 on older ones and ipmi_sim.
    pub cipher_suite: Option<u8>,
    /// The Id of this node's System when the Redfish service manages several (a chassis
    /// manager, sushy-tools); the first System otherwise.
    pub system: Option<String>,
    /// Where `boot` puts the node's seed: `auto` (a second virtual-media slot when the BMC has
    /// one, else embedded in a copy of the image), `slot` (a second slot, never a copy), `embed`
    /// (always in a copy of the image: one slot is all it uses).
    #[serde(default)]
    pub seed: SeedPlacement,
}

/// Where `boot` puts a node's seed.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SeedPlacement {
    /// A second slot when there is one, else embedded.
    #[default]
    Auto,
    /// A second virtual-media slot only.
    Slot,
    /// Embedded in a copy of the image.
    Embed,
}

/// BMC protocols.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// DMTF Redfish over HTTPS.
    Redfish,
    /// IPMI 2.0 over LAN (ipmitool lanplus).
    Ipmi,
}

/// The BMC makers an inventory may name in `bmc.vendor` (the boot driver maps each to its quirks).
pub const VENDORS: &[&str] = &["dell", "hpe", "supermicro", "lenovo", "ami", "generic"];

/// One interface of a node.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Name the interface gets.
    pub name: String,
    /// Its MAC address.
    pub mac: String,
    /// Static addresses in CIDR form; none means DHCP.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Default gateway.
    pub gateway: Option<String>,
    /// DNS servers.
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// A group of users sharing SSH keys, and the nodes they use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SliceSpec {
    /// Public keys, one per item.
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// Files of public keys (authorized_keys format), relative to the inventory.
    #[serde(default)]
    pub ssh_key_files: Vec<String>,
    /// Member nodes.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Extra packages for the slice's nodes.
    #[serde(default)]
    pub packages: Vec<String>,
}
