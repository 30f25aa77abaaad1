//! debian12 booted over the network from its PXE bundle. Slow: `cargo xtask e2e`.
//!
//! Without root networking first: `liveboot try --pxe`, where QEMU's user network gives DHCP and
//! TFTP (the laid-out bundle as TFTP root) and `liveboot serve` the HTTP the guest reaches as
//! 10.0.2.2: BIOS through pxelinux, BIOS through iPXE, UEFI with Secure Boot enforced through the
//! firmware's PXE, signed shim and signed network GRUB. Each boot has its own MAC and host name:
//! the loaders find the seed by MAC. Then for real: a network namespace with a bridge and a tap,
//! dnsmasq running the config `liveboot pxe` wrote (DHCP and TFTP), `liveboot serve` in the
//! namespace, and QEMU on the tap: with full DHCP (UEFI, Secure Boot, shim and GRUB), and as
//! proxy DHCP beside a site's DHCP server in a namespace of its own (UEFI through iPXE's EFI
//! binary, which then fetches the iPXE script over HTTP).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use liveboot_e2e::*;
use liveboot_runner::local::Background;

/// `liveboot try debian12 --pxe LOADER --mac MAC`; checks SSH, cloud-init, the host name that
/// MAC's seed gives, and that cloud-init took the seed over HTTP.
fn pxe_boot(loader: &str, mac: &str, extra: &[&str]) -> serde_json::Value {
    let (_, out) = ensure_built();
    let out = out.to_string_lossy().into_owned();
    let mut args = vec!["try", "debian12", "--out", &out, "--pxe", loader, "--mac", mac, "--json", "--exec", "cat /proc/cmdline"];
    args.extend(extra);
    let o = liveboot(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try --pxe {loader} failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], format!("try-debian12-{}", mac[12..].replace(':', "")), "{v}");
    let cmdline = v["commands"][0]["output"].as_str().unwrap();
    assert!(cmdline.contains("ds=nocloud-net;s=http://10.0.2.2:") && cmdline.contains(&format!("/seeds/{mac}/")), "{cmdline}");
    assert!(cmdline.contains("fetch=http://10.0.2.2:"), "{cmdline}");
    println!("time to SSH ({} {}): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
    v
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn p1_boots_bios_through_pxelinux() {
    pxe_boot("bios", "52:54:00:e2:00:01", &[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn p2_boots_bios_through_ipxe() {
    pxe_boot("ipxe", "52:54:00:e2:00:02", &[]);
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn p3_boots_uefi_with_secure_boot_through_shim_and_grub() {
    let v = pxe_boot("uefi", "52:54:00:e2:00:03", &["--secure-boot", "--exec", "od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-*"]);
    let sb = v["commands"][1]["output"].as_str().unwrap();
    assert_eq!(sb.split_whitespace().last(), Some("1"), "Secure Boot is not on in the guest: {sb}");
}

/// A network namespace with a bridge (10.0.3.1/24) and a tap on it, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("lbpxe{}", std::process::id());
        let ns = Netns(name.clone());
        ip(&["netns", "add", &name]);
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", "br0", "type", "bridge"],
            vec!["addr", "add", "10.0.3.1/24", "dev", "br0"],
            vec!["link", "set", "br0", "up"],
            vec!["tuntap", "add", "dev", "tap0", "mode", "tap"],
            vec!["link", "set", "tap0", "master", "br0"],
            vec!["link", "set", "tap0", "up"],
        ] {
            let mut a = vec!["-n", &name];
            a.extend(args);
            ip(&a);
        }
        ns
    }

    /// A command run inside the namespace.
    fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("ip (iproute2) runs");
    assert!(o.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
}

/// Starts a server in the background, its output in a log.
fn background(mut cmd: Command, log: &Path) -> Background {
    let f = std::fs::File::create(log).unwrap();
    Background(cmd.stdout(f.try_clone().unwrap()).stderr(f).stdin(Stdio::null()).spawn().unwrap())
}

/// How a boot from the generated dnsmasq config is set up.
struct Site {
    /// Full DHCP from our dnsmasq, or proxy DHCP beside another DHCP server that gives the
    /// addresses (a second dnsmasq in a namespace of its own, on the same bridge, as a site's
    /// DHCP server elsewhere on the LAN).
    proxy: bool,
    /// UEFI with Secure Boot enforced (Microsoft keys) and the signed shim, or without Secure
    /// Boot and iPXE's EFI binary (`--uefi ipxe`).
    secure_boot: bool,
    /// The node booted: its name in the inventory and its MAC.
    node: &'static str,
    mac: &'static str,
}

/// A namespace for the site's own DHCP server, linked to the test namespace's bridge by a veth
/// pair; its dnsmasq gives addresses only (10.0.3.2, leases .100-.150).
fn site_dhcp(ns: &Netns, w: &Path) -> (Netns, Background, PathBuf) {
    let other = Netns(format!("lbdhcp{}", std::process::id()));
    ip(&["netns", "add", &other.0]);
    ip(&["-n", &ns.0, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", &other.0]);
    ip(&["-n", &ns.0, "link", "set", "veth0", "master", "br0"]);
    ip(&["-n", &ns.0, "link", "set", "veth0", "up"]);
    ip(&["-n", &other.0, "addr", "add", "10.0.3.2/24", "dev", "veth1"]);
    ip(&["-n", &other.0, "link", "set", "veth1", "up"]);
    let leases = w.join("site-dhcp.leases");
    let mut d = other.exec("dnsmasq");
    d.args(["--keep-in-foreground", "--log-facility=-", "--log-dhcp", "--port=0", "--conf-file=/dev/null"])
        .args(["--interface=veth1", "--bind-interfaces", "--dhcp-range=10.0.3.100,10.0.3.150,1h"])
        .arg(format!("--dhcp-leasefile={}", leases.display()))
        .arg(format!("--pid-file={}", w.join("site-dhcp.pid").display()));
    let server = background(d, &w.join("site-dhcp.log"));
    (other, server, leases)
}

/// Lays out the bundle with `liveboot pxe` for two nodes, runs dnsmasq with the config it
/// wrote (and, for proxy DHCP, the site's DHCP server), `liveboot serve` in the namespace, and
/// boots QEMU on the tap with the firmware's own PXE (the NIC without iPXE ROM) to SSH.
fn boot_from_site(site: Site) {
    let (_, out) = ensure_built();
    let w = work().join(format!("netns-{}", site.node));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).unwrap();
    // dnsmasq serves TFTP as `nobody`: the folder must be reachable by everyone, as on a site.
    let netboot = tempfile::Builder::new().prefix("liveboot-netboot-").tempdir().unwrap();
    std::fs::set_permissions(netboot.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let key = w.join("key");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).status().unwrap().success());
    let public = std::fs::read_to_string(w.join("key.pub")).unwrap();
    let inventory = w.join("inventory.yaml");
    std::fs::write(
        &inventory,
        format!(
            "publish: {{base_url: \"http://10.0.3.1:8080/liveboot\", dir: /srv/liveboot}}\ndefaults:\n  bmc: {{protocol: redfish, username: admin, password_env: BMC_PASSWORD}}\nnodes:\n  pxe-a:\n    macs: [\"{MAC_A}\"]\n    bmc: {{address: 192.0.2.1}}\n  pxe-b:\n    macs: [\"{MAC_B}\"]\n    bmc: {{address: 192.0.2.2}}\nslices:\n  lab:\n    ssh_keys: [\"{}\"]\n    nodes: [pxe-a, pxe-b]\n",
            public.trim()
        ),
    )
    .unwrap();
    let (out, dir, inv) = (out.to_string_lossy(), netboot.path().to_string_lossy(), inventory.to_string_lossy());
    let mut args = vec!["pxe", "debian12", "--out", &out, "--dir", &dir, "--http-url", "http://10.0.3.1:8080", "--inventory", &inv];
    args.extend(["--slice", "lab", "--interface", "br0", "--json"]);
    if site.proxy {
        args.extend(["--dhcp", "proxy", "--dhcp-range", "10.0.3.0"]);
    } else {
        args.extend(["--dhcp", "full", "--dhcp-range", "10.0.3.100,10.0.3.150,1h"]);
    }
    if !site.secure_boot {
        args.extend(["--uefi", "ipxe"]);
    }
    let o = liveboot(&args);
    assert!(o.status.success(), "liveboot pxe: {}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["nodes"].as_array().unwrap().len(), 2, "{r}");
    let conf = netboot.path().join("dnsmasq.conf");
    assert!(!std::fs::read_to_string(&conf).unwrap().contains("${"));

    let ns = Netns::new();
    let (_site_ns, _site_dhcp, leases) = if site.proxy {
        let (n, d, l) = site_dhcp(&ns, &w);
        (Some(n), Some(d), l)
    } else {
        (None, None, w.join("dnsmasq.leases"))
    };
    let mut dnsmasq = ns.exec("dnsmasq");
    dnsmasq.arg("--keep-in-foreground").arg("--log-facility=-").arg(format!("--conf-file={}", conf.display()));
    if !site.proxy {
        dnsmasq.arg(format!("--dhcp-leasefile={}", leases.display()));
    }
    dnsmasq.arg(format!("--pid-file={}", w.join("dnsmasq.pid").display()));
    let _dnsmasq = background(dnsmasq, &w.join("dnsmasq.log"));
    let mut serve = ns.exec(&bin().to_string_lossy());
    serve.arg("serve").arg(netboot.path()).args(["--bind", "10.0.3.1:8080", "--log"]);
    let _serve = background(serve, &w.join("serve.log"));

    // The NIC without iPXE ROM: the firmware's own PXE asks dnsmasq (client arch 7), gets the
    // signed shim (then shim the signed GRUB, GRUB its config, kernel and initrd by TFTP) or
    // iPXE's EFI binary (then iPXE the script over HTTP); the initrd fetches the root from
    // `liveboot serve`.
    let (code, vars_template) = if site.secure_boot {
        ("/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd")
    } else {
        ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd")
    };
    let vars = w.join("OVMF_VARS.fd");
    std::fs::copy(vars_template, &vars).unwrap();
    let serial = w.join("serial.log");
    let mut qemu = ns.exec("qemu-system-x86_64");
    qemu.args(["-accel", "tcg", "-machine", "q35,smm=on", "-cpu", "max", "-smp", "2", "-m", "2048"]).args([
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
    ]);
    if site.secure_boot {
        qemu.args(["-global", "driver=cfi.pflash01,property=secure,value=on"]);
    }
    qemu.arg("-drive")
        .arg(format!("if=pflash,format=raw,unit=0,readonly=on,file={code}"))
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,unit=1,file={}", vars.display()))
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
        .arg("-device")
        .arg(format!("virtio-net-pci,netdev=n0,mac={},romfile=,bootindex=1", site.mac));
    let started = Instant::now();
    let _qemu = background(qemu, &w.join("qemu.log"));

    // The guest's address from the DHCP server's leases (the last DHCP is the live system's),
    // then SSH.
    let ssh = |addr: &str, remote: &str| {
        ns.exec("ssh")
            .arg("-i")
            .arg(&key)
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5"])
            .args(["-o", "LogLevel=ERROR", &format!("root@{addr}"), remote])
            .output()
            .unwrap()
    };
    let mut up = None;
    while started.elapsed() < Duration::from_secs(900) && up.is_none() {
        std::thread::sleep(Duration::from_secs(5));
        let lease = std::fs::read_to_string(&leases).unwrap_or_default();
        if let Some(addr) = lease.lines().find(|l| l.contains(site.mac)).and_then(|l| l.split_whitespace().nth(2)) {
            if ssh(addr, "true").status.success() {
                up = Some(addr.to_string());
            }
        }
    }
    let log = |f: &str| std::fs::read_to_string(w.join(f)).unwrap_or_default();
    let Some(addr) = up else {
        panic!(
            "no SSH within 900 s\ndnsmasq:\n{}\nsite DHCP:\n{}\nserve:\n{}\nserial (end):\n{}",
            log("dnsmasq.log"),
            log("site-dhcp.log"),
            log("serve.log"),
            {
                let s = log("serial.log");
                s[s.len().saturating_sub(3000)..].to_string()
            }
        );
    };
    let firmware = if site.secure_boot { "uefi-secure-boot" } else { "uefi" };
    let medium = if site.proxy { "pxe-dnsmasq-proxy" } else { "pxe-dnsmasq" };
    println!("time to SSH (\"{firmware}\" \"{medium}\"): {:.1} s", started.elapsed().as_secs_f64());
    let text = |o: std::process::Output| String::from_utf8_lossy(&o.stdout).trim().to_string();
    // `--wait` prints a dot a second until it is done.
    assert_eq!(text(ssh(&addr, "cloud-init status --wait")).lines().last(), Some("status: done"));
    assert_eq!(text(ssh(&addr, "hostname")), site.node, "the seed of this node's MAC");
    let cmdline = text(ssh(&addr, "cat /proc/cmdline"));
    assert!(cmdline.contains(&format!("ds=nocloud-net;s=http://10.0.3.1:8080/seeds/{}/", site.mac)), "{cmdline}");
    let sb = text(ssh(&addr, "od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-*"));
    let want = if site.secure_boot { "1" } else { "0" };
    assert_eq!(sb.split_whitespace().last(), Some(want), "Secure Boot state in the guest: {sb}");
    let _ = ssh(&addr, "systemctl poweroff");
    // What dnsmasq handed out and served, and what was fetched over HTTP.
    let (dlog, slog) = (log("dnsmasq.log"), log("serve.log"));
    if site.secure_boot {
        assert!(dlog.contains("bootx64.efi") && dlog.contains("grub/grub.cfg"), "{dlog}");
    } else {
        assert!(dlog.contains("sent") && dlog.contains("ipxe.efi"), "iPXE's EFI binary was not sent by TFTP: {dlog}");
        assert!(slog.contains("GET /boot.ipxe"), "iPXE did not fetch its script: {slog}");
    }
    if site.proxy {
        assert!(dlog.contains("proxy"), "{dlog}");
        assert!(log("site-dhcp.log").contains("DHCPACK(veth1) 10.0.3."), "the site's DHCP server gave no address");
    }
    assert!(slog.contains(&format!("GET /seeds/{}/meta-data", site.mac)), "{slog}");
}

const MAC_A: &str = "52:54:00:e2:00:0a";
const MAC_B: &str = "52:54:00:e2:00:0b";

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn p4_boots_from_the_generated_dnsmasq_config_in_a_network_namespace() {
    boot_from_site(Site { proxy: false, secure_boot: true, node: "pxe-b", mac: MAC_B });
}

#[test]
#[ignore = "slow: cargo xtask e2e"]
fn p5_boots_uefi_through_ipxe_from_a_proxy_dhcp_beside_the_sites_dhcp_server() {
    boot_from_site(Site { proxy: true, secure_boot: false, node: "pxe-a", mac: MAC_A });
}
