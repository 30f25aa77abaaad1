//! The `liveboot` command line: argument parsing, output and exit codes. What the commands do
//! is in `liveboot-ops` (and the libraries beneath it); this crate only turns arguments into
//! its calls and its typed results and progress events into lines for people or JSON.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde::Serialize;

use liveboot_ops::{Event, Progress, Project};

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
    /// Needs root when it builds a root filesystem (files of other owners, device nodes, file
    /// capabilities); an upstream ISO is downloaded, verified and remastered without.
    #[command(
        after_help = "Examples:\n  sudo liveboot build debian12\n  liveboot build debian12 --json | jq '.stages[] | select(.ran)'\n  liveboot build u22 --iso ~/Downloads/ubuntu-22.04.5-live-server-amd64.iso\n  liveboot build u22 --mirror http://mirror.lab/ubuntu-releases/22.04.5/"
    )]
    Build(BuildArgs),
    /// Boot a built image in QEMU with a throwaway seed and key, wait for SSH, run commands.
    ///
    /// Says how long SSH took to answer, checks that cloud-init finished and set the seed's
    /// host name, runs the --exec commands, then powers the machine off. KVM is used when it
    /// really works on this host (probed once, then remembered), else TCG.
    #[command(
        after_help = "Examples:\n  liveboot try debian12\n  liveboot try debian12 --uefi --usb\n  liveboot try debian12 --secure-boot\n  liveboot try debian12 --pxe uefi --secure-boot\n  liveboot try debian12 --to-ram\n  liveboot try out/debian12/debian12.iso --exec 'getcap /usr/bin/ping' --json"
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
    /// Read kickstart files as anaconda and pykickstart do: check them, or flatten them.
    #[command(subcommand)]
    Kickstart(KickstartCommand),
    /// Read KIWI image descriptions as kiwi-ng does.
    #[command(subcommand)]
    Kiwi(KiwiCommand),
    /// Remaster a bootable Linux ISO: kernel arguments added to every kernel command line of
    /// its menus, a NoCloud seed embedded, files added; its boot setup kept.
    ///
    /// BIOS and EFI El Torito images, the MBR, the GPT with an appended EFI partition and the
    /// isohybrid layout are replayed as they were (xorriso -boot_image any replay), so the ISO
    /// boots where it booted before, Secure Boot chain untouched. Arguments are written in each
    /// loader's quoting: GRUB gets "ds=nocloud;s=..." in double quotes (an unquoted ';' ends
    /// its command), syslinux as it is. --seed DIR puts the seed at /nocloud/ and adds
    /// ds=nocloud;s=<where the live system mounts its medium>/nocloud/ (casper: /cdrom,
    /// live-boot: /run/live/medium, dracut: /run/initramfs/live), so one virtual-media slot
    /// is enough. Needs no root.
    #[command(
        after_help = "Examples:\n  liveboot remaster ubuntu-22.04.5-live-server-amd64.iso u22-serial.iso --kernel-args 'console=ttyS0,115200n8'\n  liveboot remaster out/debian12/debian12.iso node1.iso --seed seeds/node1/\n  liveboot remaster in.iso out.iso --add extra/:/extra --volid MYLIVE --json"
    )]
    Remaster(RemasterArgs),
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
    /// Lay out a TFTP + HTTP root for network boot from a recipe's PXE bundle.
    ///
    /// The folder (default out/<recipe>/netboot) gets the bundle's kernel, initrd, root image
    /// and loaders (pxelinux, iPXE, signed shim + network GRUB for UEFI with Secure Boot), each
    /// loader's config (boot.ipxe, grub/grub.cfg, pxelinux.cfg/), a NoCloud seed per node MAC
    /// under seeds/<mac>/ (found by the loaders from the booting MAC), and with --dhcp a dnsmasq
    /// config to run as is. Serve the folder over HTTP at --http-url (`liveboot serve`) and by
    /// TFTP (the dnsmasq config does). Files written for MACs no longer listed are removed.
    #[command(
        after_help = "Examples:\n  liveboot pxe debian12 --http-url http://10.0.3.1:8080 --inventory inventory.yaml --slice alice --dhcp full --dhcp-range 10.0.3.100,10.0.3.200 --interface eth1\n  liveboot pxe debian12 --http-url http://10.0.3.1:8080 --inventory inventory.yaml --all --dhcp proxy --dhcp-range 10.0.3.0 --json\n  liveboot serve out/debian12/netboot --bind 10.0.3.1:8080"
    )]
    Pxe(PxeArgs),
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
    /// Plan with this mirror (see `liveboot build --help`); repeat for several.
    #[arg(long, value_name = "[NAME=]URL")]
    pub mirror: Vec<String>,
    /// Plan with the upstream ISO taken from this file (see `liveboot build --help`).
    #[arg(long, value_name = "FILE")]
    pub iso: Option<PathBuf>,
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
    /// Download from this mirror instead: URL replaces a Debian recipe's mirror, a
    /// kickstart's `url` source (its `repo` lines are then left out), a KIWI description's first
    /// repository (its others are then left out), or the folder an upstream ISO and its
    /// SHA256SUMS come from; NAME=URL replaces the kickstart repository NAME, or the KIWI
    /// repository whose alias is NAME.
    /// Repeat for several.
    #[arg(long, value_name = "[NAME=]URL")]
    pub mirror: Vec<String>,
    /// Take the upstream ISO from this file (verified against the release's SHA256SUMS beside
    /// it, or the sum the recipe pins).
    #[arg(long, value_name = "FILE")]
    pub iso: Option<PathBuf>,
    /// Print the build report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemasterArgs {
    /// The ISO to read.
    pub iso: PathBuf,
    /// The ISO to write (replaced whole when it exists; never the input).
    pub out: PathBuf,
    /// Kernel arguments to add (space-separated; repeat for more).
    #[arg(long, value_name = "ARGS")]
    pub kernel_args: Vec<String>,
    /// A NoCloud seed folder (user-data, meta-data, network-config) to embed.
    #[arg(long, value_name = "DIR")]
    pub seed: Option<PathBuf>,
    /// A file or folder to put on the ISO at DEST (repeat for more).
    #[arg(long, value_name = "SRC:DEST")]
    pub add: Vec<String>,
    /// A new volume ID (the original is kept by default).
    #[arg(long, value_name = "LABEL")]
    pub volid: Option<String>,
    /// Print the report as JSON on standard output.
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

/// `liveboot kickstart ...`.
#[derive(Debug, Subcommand)]
pub enum KickstartCommand {
    /// Print the kickstart with every %include and %ksappend resolved (what `ksflatten -c FILE` makes).
    ///
    /// Command lines stay as written and in their order, then one %packages (all sections
    /// merged), the scripts in order, then the sections liveboot keeps unread (%addon ...).
    /// pykickstart reads the result exactly as it reads the original. Nothing is printed when the
    /// kickstart has errors.
    #[command(
        after_help = "Examples:\n  liveboot kickstart flatten fedora-live-xfce.ks > flat.ks\n  liveboot kickstart flatten rocky-live-base.ks --ks-version RHEL9 -o flat.ks"
    )]
    Flatten(KickstartFlattenArgs),
    /// Report every problem of a kickstart and the files it includes: file, line, what, the fix.
    ///
    /// Commands and options are checked against pykickstart's definitions for the version;
    /// exit status 1 when there is an error (warnings alone exit 0).
    #[command(after_help = "Examples:\n  liveboot kickstart check my.ks\n  liveboot kickstart check rocky.ks --ks-version RHEL9 --json")]
    Check(KickstartCheckArgs),
}

/// `liveboot kiwi ...`.
#[derive(Debug, Subcommand)]
pub enum KiwiCommand {
    /// Print what liveboot reads from a KIWI description: the build type and its attributes,
    /// repositories, packages per phase, users, scripts, after the profiles are applied.
    ///
    /// The description file is found as kiwi-ng finds it (config.xml, config.kiwi, or the one
    /// *.kiwi file). Without --profile the profiles marked import="true" apply; a profile brings
    /// the profiles it requires. The build type is --type, else the primary one, else the first.
    /// Every problem is reported with its file and line (exit status 1); elements liveboot does
    /// not act on are named in warnings.
    #[command(
        after_help = "Examples:\n  liveboot kiwi show kiwi/leap15 --profile live\n  liveboot kiwi show my-appliance/ --type pxe --json"
    )]
    Show(KiwiShowArgs),
}

#[derive(Debug, Args)]
pub struct KiwiShowArgs {
    /// The description folder, or the description file.
    pub description: PathBuf,
    /// A profile to apply (repeat it, or separate names with commas).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub profile: Vec<String>,
    /// The build type (the <type image=...> value: iso, oem, pxe, kis, ...).
    #[arg(long = "type", value_name = "IMAGE")]
    pub build_type: Option<String>,
    /// The architecture arch="..." attributes are matched against.
    #[arg(long, value_name = "ARCH", default_value = "x86_64")]
    pub arch: String,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Which kickstart version to read a file as.
#[derive(Debug, Args)]
pub struct KsVersion {
    /// The kickstart version (pykickstart's names): F37 … F43, RHEL8, RHEL9, RHEL10.
    #[arg(long = "ks-version", value_name = "VERSION", default_value = "F43", value_parser = clap::builder::PossibleValuesParser::new(liveboot_kickstart::syntax::VERSIONS))]
    pub ks_version: String,
}

#[derive(Debug, Args)]
pub struct KickstartFlattenArgs {
    /// The kickstart file.
    pub file: PathBuf,
    #[command(flatten)]
    pub syntax: KsVersion,
    /// Write the flattened kickstart to FILE (replaced whole) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KickstartCheckArgs {
    /// The kickstart file.
    pub file: PathBuf,
    #[command(flatten)]
    pub syntax: KsVersion,
    /// Print the problems as JSON.
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
    /// Boot with UEFI firmware enforcing Secure Boot with Microsoft's keys enrolled, as servers
    /// ship (implies --uefi).
    #[arg(long)]
    pub secure_boot: bool,
    /// Attach the image as a USB stick instead of a CD.
    #[arg(long, conflicts_with = "pxe")]
    pub usb: bool,
    /// Boot the recipe's PXE bundle over the network instead: bios (pxelinux), ipxe (the iPXE
    /// script) or uefi (signed shim + GRUB; add --secure-boot to enforce it). QEMU's own DHCP and
    /// TFTP, `liveboot serve` for HTTP, the seed found by the NIC's MAC.
    #[arg(long, value_enum, value_name = "LOADER")]
    pub pxe: Option<PxeArg>,
    /// The NIC's MAC address for --pxe [default: one per run].
    #[arg(long, value_name = "MAC", requires = "pxe")]
    pub mac: Option<String>,
    /// Boot the menu's copy-to-RAM entry, take the medium away once SSH answers (as a BMC's
    /// eject does) and check that the system still reads its whole root.
    #[arg(long, conflicts_with = "pxe")]
    pub to_ram: bool,
    /// Embed the seed in (a copy of) the image and attach no seed medium, as on a BMC with a
    /// single virtual-media slot.
    #[arg(long, conflicts_with = "pxe")]
    pub embed_seed: bool,
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

/// Network boot loaders of `try --pxe`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PxeArg {
    /// BIOS, pxelinux.
    Bios,
    /// BIOS, the iPXE script.
    Ipxe,
    /// UEFI, signed shim and GRUB.
    Uefi,
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

#[derive(Debug, Args)]
pub struct PxeArgs {
    /// The recipe whose PXE bundle (out/<recipe>/pxe/) to use.
    pub recipe: String,
    /// The URL the folder is served at, as the booting nodes reach it (http://address:port).
    #[arg(long, value_name = "URL")]
    pub http_url: String,
    /// The folder to write [default: <out>/<recipe>/netboot].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The builds' output folder [default: <project>/out].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The inventory whose nodes get seeds (by their `macs`).
    #[arg(long, value_name = "FILE", requires = "which")]
    pub inventory: Option<PathBuf>,
    /// A node (repeat for several).
    #[arg(long, value_name = "NODE", group = "which")]
    pub node: Vec<String>,
    /// Every node of a slice.
    #[arg(long, value_name = "SLICE", group = "which")]
    pub slice: Option<String>,
    /// Every node that belongs to a slice.
    #[arg(long, group = "which")]
    pub all: bool,
    /// Write a dnsmasq config: full (dnsmasq gives the addresses) or proxy (beside the site's
    /// DHCP server).
    #[arg(long, value_enum, value_name = "MODE", requires = "dhcp_range")]
    pub dhcp: Option<DhcpArg>,
    /// Full: first,last[,netmask][,lease]; proxy: the network's address.
    #[arg(long, value_name = "RANGE")]
    pub dhcp_range: Option<String>,
    /// The interface dnsmasq serves on [default: all].
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// The loader BIOS clients get: ipxe (then HTTP) or pxelinux (TFTP only).
    #[arg(long, value_enum, default_value_t = BiosLoaderArg::Ipxe)]
    pub bios: BiosLoaderArg,
    /// The loader UEFI clients get: shim (signed shim + GRUB, Secure Boot on or off) or ipxe
    /// (Secure Boot off only).
    #[arg(long, value_enum, default_value_t = UefiLoaderArg::Shim)]
    pub uefi: UefiLoaderArg,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// DHCP modes on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DhcpArg {
    /// dnsmasq gives the addresses.
    Full,
    /// Proxy DHCP beside another DHCP server.
    Proxy,
}

/// BIOS loaders on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BiosLoaderArg {
    /// iPXE (undionly.kpxe), then the iPXE script over HTTP.
    Ipxe,
    /// pxelinux, kernel and initrd over TFTP.
    Pxelinux,
}

/// UEFI loaders on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum UefiLoaderArg {
    /// Signed shim and signed network GRUB.
    Shim,
    /// iPXE (ipxe.efi), unsigned.
    Ipxe,
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

mod kickstart;
mod kiwi;

mod nodes;

fn note_raw(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Failure> {
    // "-C ." is the default: keep paths in messages short ("recipes/x.yaml", not "./recipes/x.yaml").
    let project = Project::new(if cli.project == Path::new(".") { Path::new("") } else { &cli.project });
    if std::env::var_os(liveboot_yaml::ALLOW_OUTSIDE).is_some_and(|v| v == "1") {
        note!(
            "warning: {}=1: recipes and inventories may name files anywhere on this machine, and what they name goes into images and seeds",
            liveboot_yaml::ALLOW_OUTSIDE
        );
    }
    match cli.command {
        Command::Plan(a) => {
            let (_, p) = liveboot_ops::build::plan_recipe(&project, &a.recipe, a.source_date_epoch, &sources(&a.mirror, &a.iso))
                .map_err(Failure::input)?;
            if a.json {
                out!("{}", serde_json::to_string_pretty(&p).expect("plan serializes"));
            } else {
                out!("{p}");
            }
            Ok(())
        }
        Command::Check(a) => check(&project, a),
        Command::Kickstart(k) => kickstart::run(k),
        Command::Kiwi(k) => kiwi::run(k),
        Command::Remaster(a) => remaster(a),
        Command::Build(a) => build(&project, a),
        Command::Try(a) => try_image(&project, a),
        Command::Serve(a) => {
            let opts = liveboot_publish::ServeOptions { log: a.log, ..Default::default() };
            let server = liveboot_publish::serve(&a.dir, &a.bind, opts)
                .map_err(|e| Failure::input(format!("cannot serve {} on {}: {e}", a.dir.display(), a.bind)))?;
            note!("serving {} on http://{}/ (Ctrl-C stops)", a.dir.display(), server.addr());
            server.join();
            Ok(())
        }
        Command::Publish(a) => publish(a),
        Command::Prune(a) => {
            let cache = a.cache.unwrap_or_else(|| project.cache());
            let out_dir = a.out.unwrap_or_else(|| project.out());
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
        Command::Seed(a) => seed(&project, a),
        Command::Pxe(a) => pxe(&project, a),
        Command::Status(a) => nodes::run(&a, liveboot_ops::nodes::Action::Status),
        Command::On(a) => nodes::run(&a, liveboot_ops::nodes::Action::On),
        Command::Off(a) => nodes::run(&a.nodes, liveboot_ops::nodes::Action::Off(std::time::Duration::from_secs(a.grace))),
        Command::Reboot(a) => nodes::run(&a, liveboot_ops::nodes::Action::Reboot),
        Command::Boot(a) => nodes::boot(&project, a),
        Command::Diskboot(a) => nodes::run(&a, liveboot_ops::nodes::Action::Diskboot),
        Command::Wait(a) => nodes::run(&a.nodes, liveboot_ops::nodes::Action::Wait(std::time::Duration::from_secs(a.timeout))),
        Command::Bios(nodes::BiosCommand::Get { nodes: a, pattern }) => nodes::run(&a, liveboot_ops::nodes::Action::BiosGet(pattern)),
        Command::Bios(nodes::BiosCommand::Set { nodes: mut a }) => {
            let (names, pairs) = nodes::split_settings(&a.names);
            if pairs.is_empty() {
                return Err(Failure::input("bios set: name the attributes to set, e.g. `liveboot bios set w1 BootMode=Uefi`"));
            }
            a.names = names;
            nodes::run(&a, liveboot_ops::nodes::Action::BiosSet(pairs))
        }
        Command::Bios(nodes::BiosCommand::Reset { nodes: a }) => nodes::run(&a, liveboot_ops::nodes::Action::BiosReset),
        Command::Jobs(nodes::JobsCommand::List { nodes: a, all }) => nodes::run(&a, liveboot_ops::nodes::Action::Jobs { all }),
        Command::Jobs(nodes::JobsCommand::Clear { nodes: a, id }) => nodes::run(&a, liveboot_ops::nodes::Action::JobsClear(id)),
        Command::Console(a) => nodes::console(&a),
    }
}

fn publish(a: PublishArgs) -> Result<(), Failure> {
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

/// Progress for people on standard error: notes and warnings as lines; with a terminal, a
/// status line showing the running program's last output line and the stage's time.
fn progress_printer() -> Progress {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::sync::Mutex::new(std::time::Instant::now());
    std::sync::Arc::new(move |e: Event| {
        use liveboot_image::Event as Stage;
        let clear = if tty { "\r\x1b[K" } else { "" };
        match e {
            Event::Output(line) if tty => {
                let t = started.lock().map(|s| s.elapsed().as_secs()).unwrap_or(0);
                let short: String = line.chars().take(90).collect();
                note_raw(&format!("\r\x1b[K      {:>2}:{:02} {short}", t / 60, t % 60));
            }
            Event::Output(_) => {}
            Event::Stage(Stage::Reused { index, total, stage }) => note!("{clear}[{}/{total}] {stage:<10} reused", index + 1),
            Event::Stage(Stage::Started { index, total, stage }) => {
                if let Ok(mut s) = started.lock() {
                    *s = std::time::Instant::now();
                }
                note!("{clear}[{}/{total}] {stage:<10} running", index + 1)
            }
            Event::Stage(Stage::Finished { index, total, stage, elapsed }) => {
                note!("{clear}[{}/{total}] {stage:<10} ran in {:.1} s", index + 1, elapsed.as_secs_f64())
            }
            Event::Note(n) => note!("{n}"),
            Event::Warning(w) => note!("warning: {w}"),
            Event::NodeFinished(o) => {
                if let liveboot_ops::nodes::NodeResult::Failed { error, .. } = &o.result {
                    note!("error: {error}");
                }
            }
        }
    })
}

fn sources(mirrors: &[String], iso: &Option<PathBuf>) -> liveboot_ops::build::Sources {
    liveboot_ops::build::Sources { mirrors: mirrors.to_vec(), iso: iso.clone() }
}

fn remaster(a: RemasterArgs) -> Result<(), Failure> {
    let add = a.add.iter().map(|s| liveboot_ops::remaster::parse_add(s)).collect::<Result<Vec<_>, _>>().map_err(Failure::input)?;
    let req = liveboot_ops::remaster::Request {
        iso: a.iso,
        out: a.out,
        kernel_args: a.kernel_args.iter().flat_map(|s| s.split_whitespace().map(str::to_string)).collect(),
        seed: a.seed,
        add,
        volid: a.volid,
    };
    let runner = liveboot_runner::Runner::new().with_interrupt(interrupt_flag());
    let report = liveboot_ops::remaster::remaster(&req, &runner).map_err(Failure::input)?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&report).expect("serializes"));
    } else {
        for m in &report.menus {
            out!("{}: kernel arguments added to {} line(s) ({})", m.path, m.lines, m.loader);
        }
        if let Some(at) = &report.seed_at {
            out!("seed embedded at /nocloud/, read by the live system from {at}");
        }
        out!("wrote {} ({} MiB) in {:.1} s", report.out.display(), report.bytes >> 20, report.seconds);
    }
    Ok(())
}

fn build(project: &Project, a: BuildArgs) -> Result<(), Failure> {
    let settings = liveboot_ops::build::BuildSettings {
        cache: a.cache,
        out: a.out,
        source_date_epoch: a.source_date_epoch,
        sources: sources(&a.mirror, &a.iso),
        interrupt: interrupt_flag(),
    };
    match liveboot_ops::build::build(project, &a.recipe, &settings, progress_printer()) {
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
        Err(e) => Err(Failure { message: e.message, code: if e.interrupted { 130 } else { 1 } }),
    }
}

fn try_image(project: &Project, a: TryArgs) -> Result<(), Failure> {
    use liveboot_ops::tryboot::{PxeLoader, TryMedium};
    use liveboot_qemu::{Accel, Firmware, Medium};
    let settings = liveboot_ops::tryboot::TrySettings {
        image: a.image,
        out: a.out,
        firmware: match (a.secure_boot, a.uefi || matches!(a.pxe, Some(PxeArg::Uefi))) {
            (true, _) => Firmware::UefiSecureBoot,
            (false, true) => Firmware::Uefi,
            (false, false) => Firmware::Bios,
        },
        medium: match (a.pxe, a.usb) {
            (Some(PxeArg::Bios), _) => TryMedium::Pxe(PxeLoader::Bios),
            (Some(PxeArg::Ipxe), _) => TryMedium::Pxe(PxeLoader::Ipxe),
            (Some(PxeArg::Uefi), _) => TryMedium::Pxe(PxeLoader::Uefi),
            (None, true) => TryMedium::Image(Medium::Usb),
            (None, false) => TryMedium::Image(Medium::Cd),
        },
        mac: a.mac,
        to_ram: a.to_ram,
        embed_seed: a.embed_seed,
        accel: match a.accel {
            AccelArg::Kvm => Some(Accel::Kvm),
            AccelArg::Tcg => Some(Accel::Tcg),
            AccelArg::Auto => None,
        },
        timeout: std::time::Duration::from_secs(a.timeout),
        exec: a.exec,
        interrupt: interrupt_flag(),
    };
    let result = liveboot_ops::tryboot::try_image(project, &settings, progress_printer()).map_err(Failure::input)?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&result).expect("serializes"));
    } else {
        out!("time to SSH: {:.1} s ({:?}, {}, {:?})", result.time_to_ssh_seconds, result.firmware, result.medium, result.accel);
        out!("cloud-init:  {}", result.cloud_init);
        out!("hostname:    {}", result.hostname);
        for c in &result.commands {
            out!("$ {}{}\n{}", c.command, if c.ok { "" } else { "  (failed)" }, c.output.trim_end());
        }
    }
    if result.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::input(result.problems.join("; ")))
    }
}

fn check(project: &Project, a: CheckArgs) -> Result<(), Failure> {
    let results = liveboot_ops::check::check(project, &a.recipes, a.inventory.as_deref()).map_err(Failure::input)?;
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

fn seed(project: &Project, a: SeedArgs) -> Result<(), Failure> {
    use liveboot_ops::seeds::{select, write_seeds};
    let inv = liveboot_inventory::load(&a.inventory).map_err(Failure::input)?;
    let which = selection(a.node, a.slice, a.all);
    let nodes = select(&inv, &which).map_err(Failure::input)?;
    let results = write_seeds(project, &inv, &nodes, &a.out, a.format.into()).map_err(Failure::input)?;
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

fn pxe(project: &Project, a: PxeArgs) -> Result<(), Failure> {
    use liveboot_ops::pxe::{BiosLoader, Dhcp, DhcpMode, PxeSettings, Site, UefiLoader};
    let which = selection(a.node, a.slice, a.all);
    let dhcp = a.dhcp.map(|mode| Dhcp {
        mode: match mode {
            DhcpArg::Full => DhcpMode::Full,
            DhcpArg::Proxy => DhcpMode::Proxy,
        },
        range: a.dhcp_range.clone().unwrap_or_default(),
        interface: a.interface.clone(),
        bios: match a.bios {
            BiosLoaderArg::Ipxe => BiosLoader::Ipxe,
            BiosLoaderArg::Pxelinux => BiosLoader::Pxelinux,
        },
        uefi: match a.uefi {
            UefiLoaderArg::Shim => UefiLoader::Shim,
            UefiLoaderArg::Ipxe => UefiLoader::Ipxe,
        },
    });
    let settings = PxeSettings {
        recipe: a.recipe,
        out: a.out,
        dest: a.dir,
        inventory: a.inventory.map(|f| (f, which)),
        site: Site { http_url: a.http_url, dhcp },
    };
    let r = liveboot_ops::pxe::pxe(project, &settings).map_err(Failure::input)?;
    if a.json {
        out!("{}", serde_json::to_string_pretty(&r).expect("serializes"));
    } else {
        out!("{}: {} files for {} at {}", r.dir, r.files.len(), r.recipe, r.http_url);
        for n in &r.nodes {
            out!("  {:<12} seeds/{}/", n.node, n.macs.join("/, seeds/"));
        }
        for f in &r.removed {
            out!("  removed {f} (its MAC is no longer listed)");
        }
        if let Some(d) = &r.dnsmasq {
            out!("dnsmasq: dnsmasq --keep-in-foreground --conf-file={d}");
        }
        out!("HTTP:    liveboot serve {} --bind <address:port of {}>", r.dir, r.http_url);
    }
    Ok(())
}

/// The nodes `--node`, `--slice` and `--all` name.
fn selection(node: Vec<String>, slice: Option<String>, all: bool) -> liveboot_ops::seeds::Selection {
    use liveboot_ops::seeds::Selection;
    match (all, slice) {
        (true, _) => Selection::All,
        (false, Some(s)) => Selection::Slice(s),
        (false, None) => Selection::Nodes(node),
    }
}
