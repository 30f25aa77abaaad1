//! A virtual server with a real Redfish BMC, on loopback, without touching the host's own
//! libvirt: libvirtd runs in a private mount namespace with /etc/libvirt, /run/libvirt and
//! /var/{lib,log,cache}/libvirt bound to folders of the lab, and clients reach it through its
//! socket's path (`qemu:///system?socket=...`). The domain has an empty disk and QEMU user
//! networking with SSH forwarded to a loopback port; sushy-emulator (libvirt driver, basic
//! authentication) is its BMC, reached through a small proxy that can kill the emulator at a
//! chosen request, to show what `boot` does when a BMC dies midway.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The BMC password of the lab (a test value).
pub const PASSWORD: &str = "vlab-Pa55-4471";
/// The node's System Id.
pub const UUID: &str = "5c0b0a3e-7d1f-4c55-9d6e-00000000a001";

/// A running lab; everything stops when it is dropped.
pub struct VirtualLab {
    /// The lab's folder (inventory.yaml, key, pub/, logs).
    pub dir: PathBuf,
    uri: String,
    libvirtd: Child,
    sushy: Arc<Mutex<Option<Child>>>,
    sushy_port: u16,
    /// Where SSH of the virtual server is forwarded.
    pub ssh_port: u16,
    serve: Child,
    /// Set: the proxy kills the emulator when the next power request arrives.
    pub kill_before_power: Arc<AtomicBool>,
    /// tcg or kvm.
    pub accel: String,
}

fn free_port() -> u16 {
    liveboot_runner::local::free_port().unwrap()
}

fn wait_port(port: u16, what: &str, log: &Path) {
    liveboot_runner::local::wait_listening(port, Duration::from_secs(60), what, None, Some(log)).unwrap();
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl VirtualLab {
    /// Brings the lab up under `dir` (emptied first): libvirtd, the storage pool, the domain
    /// (powered off), sushy-emulator behind the proxy, `liveboot serve` of `dir/pub`, an
    /// inventory with the node `vnode` in slice `lab` (a fresh SSH key).
    pub fn start(dir: &Path, accel: &str) -> VirtualLab {
        let _ = std::fs::remove_dir_all(dir);
        for d in ["etc", "run", "lib", "log", "cache", "images", "pub", "sushy/state", "sushy/tmp"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        // libvirtd's configuration: the host's, plus what running QEMU as root from a test needs.
        run(Command::new("cp").arg("-a").arg("/etc/libvirt/.").arg(dir.join("etc")));
        let mut qemu_conf = std::fs::read_to_string(dir.join("etc/qemu.conf")).unwrap_or_default();
        qemu_conf.push_str("\nstdio_handler = \"file\"\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\nsecurity_driver = \"none\"\n");
        std::fs::write(dir.join("etc/qemu.conf"), qemu_conf).unwrap();
        let mut script = String::from("set -e\n");
        for (inside, ours) in [
            ("/etc/libvirt", "etc"),
            ("/run/libvirt", "run"),
            ("/var/lib/libvirt", "lib"),
            ("/var/log/libvirt", "log"),
            ("/var/cache/libvirt", "cache"),
        ] {
            script.push_str(&format!("mkdir -p {inside}\nmount --bind '{}' {inside}\n", dir.join(ours).display()));
        }
        script.push_str("exec libvirtd\n");
        std::fs::write(dir.join("libvirtd.sh"), script).unwrap();
        let log = dir.join("libvirtd.log");
        let libvirtd = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh"])
            .arg(dir.join("libvirtd.sh"))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("libvirtd.err")).unwrap())
            .spawn()
            .expect("unshare and libvirtd (cargo xtask deps installs libvirt-daemon)");
        let socket = dir.join("run/libvirt-sock");
        let uri = format!("qemu:///system?socket={}", socket.display());
        let start = Instant::now();
        while Command::new("virsh").args(["-c", &uri, "version"]).output().map(|o| !o.status.success()).unwrap_or(true) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "libvirtd did not answer: {}",
                std::fs::read_to_string(dir.join("libvirtd.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let virsh = |args: &[&str]| run(Command::new("virsh").args(["-c", &uri]).args(args));
        virsh(&["pool-define-as", "default", "dir", "--target", &dir.join("images").to_string_lossy()]);
        virsh(&["pool-start", "default"]);
        run(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(dir.join("images/vnode-disk.qcow2")).arg("4G"));
        let ssh_port = free_port();
        // i440fx ("pc"): sushy's libvirt driver attaches the Floppy slot on an ISA floppy
        // controller, which q35 lacks. The NIC gets a fixed PCI slot clear of libvirt's own.
        let domain = format!(
            "<domain type='{kind}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vnode</name>
  <uuid>{UUID}</uuid>
  <memory unit='MiB'>2048</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  {cpu}
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{console}' append='on'/><target port='0'/></serial>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/><qemu:arg value='user,id=lbnet,hostfwd=tcp:127.0.0.1:{ssh_port}-:22'/>
    <qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=lbnet,bus=pci.0,addr=0x10'/>
  </qemu:commandline>
</domain>
",
            kind = if accel == "kvm" { "kvm" } else { "qemu" },
            cpu = if accel == "kvm" { "<cpu mode='host-passthrough'/>" } else { "<cpu mode='custom'><model>qemu64</model></cpu>" },
            disk = dir.join("images/vnode-disk.qcow2").display(),
            console = dir.join("console.log").display(),
        );
        std::fs::write(dir.join("vnode.xml"), domain).unwrap();
        virsh(&["define", &dir.join("vnode.xml").to_string_lossy()]);

        // The BMC: sushy-emulator with the libvirt driver and basic authentication.
        std::fs::write(dir.join("sushy/htpasswd"), liveboot_bmc_mock::htpasswd_line("admin", PASSWORD)).unwrap();
        let sushy_port = free_port();
        std::fs::write(
            dir.join("sushy/conf.py"),
            format!(
                "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\nSUSHY_EMULATOR_LISTEN_PORT = {sushy_port}\nSUSHY_EMULATOR_AUTH_FILE = '{}'\nSUSHY_EMULATOR_LIBVIRT_URI = '{uri}'\nSUSHY_EMULATOR_STATE_DIR = '{}'\n",
                dir.join("sushy/htpasswd").display(),
                dir.join("sushy/state").display()
            ),
        )
        .unwrap();
        let serve_port = free_port();
        let serve_log = dir.join("serve.log");
        let serve = Command::new(crate::bin())
            .args(["serve", "--log", "--bind", &format!("127.0.0.1:{serve_port}")])
            .arg(dir.join("pub"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&serve_log).unwrap())
            .spawn()
            .unwrap();
        wait_port(serve_port, "liveboot serve", &serve_log);
        let mut lab = VirtualLab {
            dir: dir.to_path_buf(),
            uri,
            libvirtd,
            sushy: Arc::new(Mutex::new(None)),
            sushy_port,
            ssh_port,
            serve,
            kill_before_power: Arc::new(AtomicBool::new(false)),
            accel: accel.to_string(),
        };
        lab.start_sushy();
        let proxy_port = lab.proxy();

        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "operator@vlab", "-f"]).arg(dir.join("key")));
        std::fs::write(
            dir.join("inventory.yaml"),
            format!(
                "publish:\n  base_url: http://127.0.0.1:{serve_port}\n  dir: pub\nnodes:\n  vnode:\n    hostname: vnode-live\n    ssh: 127.0.0.1:{ssh_port}\n    bmc:\n      address: http://127.0.0.1:{proxy_port}\n      protocol: redfish\n      system: {UUID}\n      username: admin\n      password_env: VLAB_BMC_PASSWORD\nslices:\n  lab:\n    ssh_key_files: [key.pub]\n    nodes: [vnode]\n"
            ),
        )
        .unwrap();
        lab
    }

    /// Starts (or restarts) the emulator on its port, with its state folder kept.
    pub fn start_sushy(&mut self) {
        let err = self.dir.join("sushy/err.log");
        let child = Command::new(liveboot_bmc_mock::venv_bin("sushy-emulator"))
            .arg("--config")
            .arg(self.dir.join("sushy/conf.py"))
            // InsertMedia downloads the whole image into TMPDIR.
            .env("TMPDIR", self.dir.join("sushy/tmp"))
            .stdout(Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(&err).unwrap())
            .spawn()
            .unwrap();
        *self.sushy.lock().unwrap() = Some(child);
        wait_port(self.sushy_port, "sushy-emulator", &err);
    }

    /// Whether the emulator is running.
    pub fn sushy_running(&self) -> bool {
        self.sushy.lock().unwrap().as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// A forwarding proxy in front of the emulator; returns its port.
    fn proxy(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (upstream, sushy, arm) = (self.sushy_port, self.sushy.clone(), self.kill_before_power.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (sushy, arm) = (sushy.clone(), arm.clone());
                std::thread::spawn(move || forward(client, upstream, &sushy, &arm));
            }
        });
        port
    }

    /// `virsh` against the lab's libvirtd.
    pub fn virsh(&self, args: &[&str]) -> String {
        run(Command::new("virsh").args(["-c", &self.uri]).args(args))
    }

    /// The inventory file.
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.yaml")
    }

    /// `liveboot ARGS --inventory <lab> [--json]` with the BMC password in the environment.
    pub fn liveboot(&self, args: &[&str]) -> std::process::Output {
        let o = Command::new(crate::bin())
            .arg("-C")
            .arg(crate::root())
            .args(args)
            .arg("--inventory")
            .arg(self.inventory())
            .env("VLAB_BMC_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        eprintln!("$ liveboot {}\n{}", args.join(" "), String::from_utf8_lossy(&o.stderr));
        for text in [&o.stdout, &o.stderr] {
            assert!(!String::from_utf8_lossy(text).contains(PASSWORD), "the BMC password shows in `liveboot {}`", args.join(" "));
        }
        o
    }

    /// `ssh root@vnode CMD` with the slice's key; None when SSH does not let us in.
    pub fn ssh(&self, cmd: &str) -> Option<String> {
        let ssh = liveboot_qemu::Ssh { key: self.dir.join("key"), user: "root".into(), port: self.ssh_port };
        liveboot_runner::Runner::new().run(&ssh.command(cmd, Duration::from_secs(900))).ok().map(|o| o.stdout_text())
    }

    /// The host key the SSH server at the forwarded port presents (None when none answers).
    pub fn host_key(&self) -> Option<String> {
        let o =
            Command::new("ssh-keyscan").args(["-T", "5", "-t", "ed25519", "-p", &self.ssh_port.to_string(), "127.0.0.1"]).output().ok()?;
        let text = String::from_utf8_lossy(&o.stdout);
        text.lines().find(|l| l.contains("ssh-ed25519")).map(|l| l.split_whitespace().last().unwrap_or("").to_string())
    }

    /// The lab's liveboot serve log (one line per request).
    pub fn serve_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }
}

/// Copies one request to the emulator and its answer back; when armed and the request is a
/// power action, kills the emulator first (so the request finds nobody).
fn forward(mut client: TcpStream, upstream: u16, sushy: &Mutex<Option<Child>>, arm: &AtomicBool) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    if arm.load(Ordering::SeqCst) && text.starts_with("POST ") && text.contains("ComputerSystem.Reset") {
        if let Some(mut c) = sushy.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        arm.store(false, Ordering::SeqCst);
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
    if up.write_all(&head).is_err() {
        return;
    }
    let mut down = client.try_clone().unwrap();
    let mut up2 = up.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client, &mut up2);
        let _ = up2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut down);
    let _ = down.shutdown(std::net::Shutdown::Both);
    let _ = t.join();
}

impl Drop for VirtualLab {
    fn drop(&mut self) {
        let _ = Command::new("virsh").args(["-c", &self.uri, "destroy", "vnode"]).output();
        if let Some(mut c) = self.sushy.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.serve.kill();
        let _ = self.serve.wait();
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.libvirtd.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while self.libvirtd.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.libvirtd.kill();
        let _ = self.libvirtd.wait();
    }
}
