//! Remastered ISOs boot where their originals booted.
//!
//! - r1, r2: third-party ISOs from Debian's packages: iPXE's `ipxe.iso` (isolinux and an EFI
//!   image) fetches its boot script over HTTP after the remaster; GRUB's rescue ISO (GRUB El
//!   Torito, which finds its files by the volume's UUID) boots a kernel with the added argument.
//! - r3, r4: ISOs in the exact shapes of Ubuntu 20.04 (isolinux, EFI El Torito image,
//!   isohybrid) and 22.04+ (GRUB El Torito, the EFI partition appended as GPT partition 2),
//!   with Debian's signed shim, GRUB and kernel: remastered with an added kernel argument, booted
//!   BIOS CD, UEFI CD with Secure Boot and USB; the argument is read back from the kernel's
//!   command line on the serial console.
//! - r5: debian12 treated as an upstream ISO (fetched from `liveboot serve` with SHA256SUMS),
//!   its seed embedded, booted with Secure Boot and no seed medium to SSH.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use liveboot_e2e::{ensure_built, liveboot, liveboot_in, root, work};
use liveboot_qemu::{Accel, Boot, Firmware, Medium, VmSpec};
use liveboot_runner::local::{self, Background};
use liveboot_runner::Runner;

const IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";
const RESCUE_ISO: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";
const SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
const MOK: &str = "/usr/lib/shim/mmx64.efi.signed";
const GRUB_CD: &str = "/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed";

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh folder under the run's work folder.
fn scratch(name: &str) -> PathBuf {
    let d = work().join("remaster").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Debian's signed kernel and an initrd, from the debian12 build.
fn kernel() -> (PathBuf, PathBuf) {
    let (_, out) = ensure_built();
    (out.join("debian12/pxe/vmlinuz"), out.join("debian12/pxe/initrd.img"))
}

/// `-report_el_torito as_mkisofs` with what may move when files change size left out: the
/// lines naming where the system area and the appended partition are read from, and the
/// appended partition's start sector (it follows the ISO's end).
fn boot_records(iso: &Path) -> Vec<String> {
    run(Command::new("xorriso").args(["-report_about", "SORRY", "-indev"]).arg(iso).args(["-report_el_torito", "as_mkisofs"]))
        .lines()
        .filter(|l| !l.contains("--interval:local_fs:"))
        .map(|l| match (l.find("_start_"), l.find("s_size_")) {
            (Some(a), Some(b)) if a < b => format!("{}_start_<sector>{}", &l[..a], &l[b..]),
            _ => l.to_string(),
        })
        .collect()
}

fn remaster(iso: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["remaster", iso.to_str().unwrap(), out.to_str().unwrap()];
    args.extend(extra);
    let o = liveboot(&args);
    assert!(o.status.success(), "liveboot remaster: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(boot_records(iso), boot_records(out), "the boot records of {} changed", iso.display());
}

/// Boots `iso` until the serial console shows `expect`; returns the console and the time.
fn boot_until(iso: &Path, firmware: Firmware, medium: Medium, expect: &str, bootfile: Option<String>, name: &str) -> (String, Duration) {
    let runner = Runner::new();
    let spec = VmSpec {
        boot: Boot::Image { path: iso.to_path_buf(), medium },
        seed: None,
        firmware,
        accel: Accel::Tcg,
        memory_mib: 1024,
        work: work().join("remaster").join(format!("vm-{name}")),
        dhcp_bootfile: bootfile,
    };
    let _ = std::fs::remove_dir_all(&spec.work);
    let started = Instant::now();
    let mut vm = liveboot_qemu::start(&runner, &spec).unwrap();
    let console = vm.wait_for_console(expect, Duration::from_secs(300)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let took = started.elapsed();
    println!("remaster boot {name}: {:?} {:?} reached {expect:?} in {:.1} s", firmware, medium, took.as_secs_f64());
    (console, took)
}

/// The kernel's own line with its command line.
fn kernel_command_line(console: &str) -> String {
    console.lines().find(|l| l.contains("Kernel command line:")).map(str::to_string).unwrap_or_default()
}

/// A FAT image holding Debian's signed shim, CD GRUB and MokManager where shim looks.
fn esp(dir: &Path) -> PathBuf {
    let img = dir.join("esp.img");
    run(Command::new("mkfs.fat").args(["-C", "-n", "ESP"]).arg(&img).arg("8192"));
    let m = |args: &[&str]| run(Command::new(args[0]).env("MTOOLS_SKIP_CHECK", "1").args(&args[1..]));
    let i = img.to_str().unwrap();
    m(&["mmd", "-i", i, "::/EFI", "::/EFI/boot"]);
    m(&["mcopy", "-i", i, SHIM, "::/EFI/boot/bootx64.efi"]);
    m(&["mcopy", "-i", i, GRUB_CD, "::/EFI/boot/grubx64.efi"]);
    m(&["mcopy", "-i", i, MOK, "::/EFI/boot/mmx64.efi"]);
    img
}

/// GRUB's menu of the shapes: one casper entry on the serial console. Signed GRUB finds the
/// ISO by `/.disk/info` and reads it from `/boot/grub/grub.cfg`, as on Ubuntu's media.
const GRUB_MENU: &str = "serial --unit=0 --speed=115200\nterminal_input serial console\nterminal_output serial console\nset timeout=1\nmenuentry \"Try or Install Ubuntu Server\" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz console=ttyS0,115200n8 ---\n\tinitrd\t/casper/initrd\n}\n";

fn casper_tree(tree: &Path) {
    let (vmlinuz, initrd) = kernel();
    std::fs::create_dir_all(tree.join("casper")).unwrap();
    std::fs::create_dir_all(tree.join(".disk")).unwrap();
    std::fs::create_dir_all(tree.join("boot/grub")).unwrap();
    std::fs::copy(vmlinuz, tree.join("casper/vmlinuz")).unwrap();
    std::fs::copy(initrd, tree.join("casper/initrd")).unwrap();
    std::fs::write(tree.join(".disk/info"), "Ubuntu-Server (shape test)\n").unwrap();
    std::fs::write(tree.join("boot/grub/grub.cfg"), GRUB_MENU).unwrap();
}

/// Ubuntu 20.04's shape: isolinux for BIOS, the EFI image as a file in the ISO, isohybrid MBR
/// and GPT.
fn focal_shaped(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    casper_tree(&tree);
    std::fs::create_dir_all(tree.join("isolinux")).unwrap();
    std::fs::copy("/usr/lib/ISOLINUX/isolinux.bin", tree.join("isolinux/isolinux.bin")).unwrap();
    std::fs::copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", tree.join("isolinux/ldlinux.c32")).unwrap();
    std::fs::write(tree.join("isolinux/isolinux.cfg"), "serial 0 115200\ndefault live\nprompt 0\ntimeout 1\ninclude txt.cfg\n").unwrap();
    std::fs::write(
        tree.join("isolinux/txt.cfg"),
        "label live\n  menu label ^Install Ubuntu Server\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd console=ttyS0,115200n8  ---\nlabel hd\n  menu label ^Boot from first hard disk\n  localboot 0x80\n",
    )
    .unwrap();
    std::fs::copy(esp(dir), tree.join("boot/grub/efi.img")).unwrap();
    let iso = dir.join("focal-shaped.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "Ubuntu-Server 20.04.6 LTS amd64"])
        .args(["-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin"])
        .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
        .args(["-eltorito-alt-boot", "-e", "boot/grub/efi.img", "-no-emul-boot", "-isohybrid-gpt-basdat", "-o"])
        .arg(&iso)
        .arg(&tree));
    iso
}

/// Ubuntu 22.04+'s shape: GRUB's El Torito image for BIOS (GRUB's own, from its rescue ISO,
/// with the volume date it looks for), the EFI system partition appended as GPT partition 2
/// and booted from El Torito through it, the protective MBR GRUB writes.
fn jammy_shaped(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    run(Command::new("xorriso").args(["-osirrox", "on", "-indev", RESCUE_ISO, "-extract", "/boot/grub"]).arg(tree.join("boot/grub")));
    run(Command::new("chmod").args(["-R", "u+w"]).arg(&tree));
    casper_tree(&tree);
    let mbr = dir.join("mbr.bin");
    let rescue = std::fs::read(RESCUE_ISO).unwrap();
    std::fs::write(&mbr, &rescue[..512]).unwrap();
    // grub-mkrescue's core image searches for its files by this volume date (the UUID).
    let date = boot_records(Path::new(RESCUE_ISO))
        .iter()
        .find_map(|l| l.strip_prefix("--modification-date=").map(|d| d.trim_matches('\'').to_string()))
        .unwrap();
    let iso = dir.join("jammy-shaped.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "Ubuntu-Server 22.04.5 LTS amd64"])
        .arg(format!("--modification-date={date}"))
        .arg("--grub2-mbr")
        .arg(&mbr)
        .args(["--protective-msdos-label", "-partition_offset", "16", "--mbr-force-bootable"])
        .args(["-append_partition", "2", "28732ac11ff8d211ba4b00a0c93ec93b"])
        .arg(esp(dir))
        .args(["-appended_part_as_gpt", "-iso_mbr_part_type", "a2a0d0ebe5b9334487c068b6b72699c7"])
        .args(["-c", "boot.catalog", "-b", "boot/grub/i386-pc/eltorito.img", "-no-emul-boot", "-boot-load-size", "4"])
        .args(["-boot-info-table", "--grub2-boot-info"])
        .args(["-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot", "-o"])
        .arg(&iso)
        .arg(&tree));
    iso
}

fn shape_boots(shape: &str, make: fn(&Path) -> PathBuf, boots: &[(Firmware, Medium)]) {
    let dir = scratch(shape);
    let iso = make(&dir);
    let out = dir.join(format!("{shape}-remastered.iso"));
    let arg = format!("liveboot.remastered={shape}");
    remaster(&iso, &out, &["--kernel-args", &arg]);
    for (firmware, medium) in boots {
        let name = format!("{shape}-{firmware:?}-{medium:?}").to_lowercase();
        let (console, _) = boot_until(&out, *firmware, *medium, "Kernel command line:", None, &name);
        // Give the line time to be written whole.
        std::thread::sleep(Duration::from_secs(2));
        let console = std::fs::read_to_string(work().join("remaster").join(format!("vm-{name}/serial.log"))).unwrap_or(console);
        let line = kernel_command_line(&console);
        assert!(line.contains(&arg), "{name}: {line}");
        assert!(line.contains(&format!("{arg} ---")), "{name}: the argument goes before the installer's separator: {line}");
    }
}

#[test]
#[ignore]
fn r1_ipxe_iso_remastered_still_boots_ipxe_bios_and_uefi() {
    let dir = scratch("ipxe");
    let out = dir.join("ipxe-remastered.iso");
    let note = dir.join("note.txt");
    std::fs::write(&note, "remastered\n").unwrap();
    remaster(Path::new(IPXE_ISO), &out, &["--add", &format!("{}:/liveboot/note.txt", note.display())]);
    // iPXE asks QEMU's DHCP for a boot file and fetches it from `liveboot serve` on the host.
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("boot.ipxe"), "#!ipxe\necho liveboot\n").unwrap();
    let port = local::free_port().unwrap();
    let log = dir.join("serve.log");
    let child = Command::new(liveboot_e2e::bin())
        .arg("serve")
        .arg(&www)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--log"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let mut server = Background(child);
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", Some(&mut server.0), None).unwrap();
    for firmware in [Firmware::Bios, Firmware::Uefi] {
        let before = std::fs::read_to_string(&log).unwrap_or_default().matches("GET /boot.ipxe").count();
        let runner = Runner::new();
        let spec = VmSpec {
            boot: Boot::Image { path: out.clone(), medium: Medium::Cd },
            seed: None,
            firmware,
            accel: Accel::Tcg,
            memory_mib: 512,
            work: dir.join(format!("vm-{firmware:?}")),
            dhcp_bootfile: Some(format!("http://10.0.2.2:{port}/boot.ipxe")),
        };
        let started = Instant::now();
        let _vm = liveboot_qemu::start(&runner, &spec).unwrap();
        let fetched = liveboot_runner::poll(Duration::from_secs(240), Duration::from_millis(500), || {
            let n = std::fs::read_to_string(&log).unwrap_or_default().matches("GET /boot.ipxe").count();
            if n > before {
                Ok(())
            } else {
                Err(liveboot_runner::Retry::Again(String::new()))
            }
        });
        assert!(
            fetched.is_ok(),
            "{firmware:?}: the remastered ipxe.iso never asked for its script: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        println!("remaster boot ipxe {firmware:?} cd: iPXE fetched its script in {:.1} s", started.elapsed().as_secs_f64());
    }
}

#[test]
#[ignore]
fn r2_grub_rescue_iso_remastered_boots_a_kernel_with_the_argument() {
    let dir = scratch("rescue");
    let (vmlinuz, initrd) = kernel();
    let menu = dir.join("grub.cfg");
    // The rescue ISO's own menu boots from a hard disk that is not there; a casper-like one.
    std::fs::write(&menu, GRUB_MENU.replace("/casper/vmlinuz", "/vmlinuz").replace("/casper/initrd", "/initrd.img")).unwrap();
    let out = dir.join("rescue-remastered.iso");
    remaster(
        Path::new(RESCUE_ISO),
        &out,
        &[
            "--add",
            &format!("{}:/boot/grub/grub.cfg", menu.display()),
            "--add",
            &format!("{}:/vmlinuz", vmlinuz.display()),
            "--add",
            &format!("{}:/initrd.img", initrd.display()),
            "--kernel-args",
            "liveboot.remastered=rescue",
        ],
    );
    let (console, _) = boot_until(&out, Firmware::Bios, Medium::Cd, "Kernel command line:", None, "rescue");
    std::thread::sleep(Duration::from_secs(2));
    let console = std::fs::read_to_string(work().join("remaster/vm-rescue/serial.log")).unwrap_or(console);
    assert!(kernel_command_line(&console).contains("liveboot.remastered=rescue ---"), "{console}");
}

#[test]
#[ignore]
fn r3_focal_shaped_iso_remastered_boots_bios_uefi_secure_boot_and_usb() {
    shape_boots(
        "focal",
        focal_shaped,
        &[(Firmware::Bios, Medium::Cd), (Firmware::UefiSecureBoot, Medium::Cd), (Firmware::Bios, Medium::Usb)],
    );
}

#[test]
#[ignore]
fn r4_jammy_shaped_iso_remastered_boots_bios_uefi_secure_boot_and_usb_and_as_u22s_upstream() {
    shape_boots(
        "jammy",
        jammy_shaped,
        &[(Firmware::Bios, Medium::Cd), (Firmware::UefiSecureBoot, Medium::Cd), (Firmware::UefiSecureBoot, Medium::Usb)],
    );
    // The same shape as the u22 recipe's upstream ISO: `liveboot build u22` fetches it from a
    // local release folder, patches its menu by the recipe's rule and gives it the recipe's
    // volume ID; that ISO boots with Secure Boot, the recipe's arguments on the kernel's line.
    let dir = work().join("remaster/jammy");
    let rel = dir.join("releases");
    std::fs::create_dir_all(&rel).unwrap();
    let name = "ubuntu-22.04.5-live-server-amd64.iso";
    std::fs::copy(dir.join("jammy-shaped.iso"), rel.join(name)).unwrap();
    let sum = liveboot_digest::sha256_file(&rel.join(name)).unwrap();
    std::fs::write(rel.join("SHA256SUMS"), format!("{sum} *{name}\n")).unwrap();
    let port = local::free_port().unwrap();
    let child = Command::new(liveboot_e2e::bin())
        .arg("serve")
        .arg(&rel)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Background(child);
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", Some(&mut server.0), None).unwrap();
    let (cache, out) = (dir.join("u22-cache"), dir.join("u22-out"));
    let mirror = format!("http://127.0.0.1:{port}/");
    let o = liveboot(&["build", "u22", "--mirror", &mirror, "--cache", cache.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let iso = out.join("u22/u22.iso");
    let (_, _) = boot_until(&iso, Firmware::UefiSecureBoot, Medium::Cd, "Kernel command line:", None, "u22-uefisecureboot-cd");
    std::thread::sleep(Duration::from_secs(2));
    let console =
        String::from_utf8_lossy(&std::fs::read(work().join("remaster/vm-u22-uefisecureboot-cd/serial.log")).unwrap()).into_owned();
    let line = kernel_command_line(&console);
    assert!(line.contains("console=ttyS0,115200n8 ds=nocloud console=tty0 console=ttyS0,115200n8 ---"), "{line}");
}

#[test]
#[ignore]
fn r5_debian12_as_an_upstream_iso_with_its_seed_embedded_boots_with_secure_boot_and_no_seed_medium() {
    let (_, out) = ensure_built();
    let dir = scratch("upstream");
    let rel = dir.join("releases");
    std::fs::create_dir_all(&rel).unwrap();
    let iso = rel.join("debian-live-12-amd64.iso");
    std::fs::copy(out.join("debian12/debian12.iso"), &iso).unwrap();
    let sum = liveboot_digest::sha256_file(&iso).unwrap();
    std::fs::write(rel.join("SHA256SUMS"), format!("{sum}  debian-live-12-amd64.iso\n")).unwrap();
    let port = local::free_port().unwrap();
    let child = Command::new(liveboot_e2e::bin())
        .arg("serve")
        .arg(&rel)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Background(child);
    local::wait_listening(port, Duration::from_secs(10), "liveboot serve", Some(&mut server.0), None).unwrap();
    // A project whose recipe takes that ISO as its upstream.
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("recipes")).unwrap();
    for f in ["_base.yaml", "overlay"] {
        copy(&root().join("recipes").join(f), &project.join("recipes").join(f));
    }
    copy(&root().join("templates"), &project.join("templates"));
    std::fs::write(
        project.join("recipes/deb-upstream.yaml"),
        format!(
            "extends: _base\nname: deb-upstream\ntitle: Debian 12 live (remastered)\nlabel: DEB12-UPSTREAM\ndistro:\n  family: debian\n  release: \"12\"\nsource:\n  upstream_iso:\n    url: http://127.0.0.1:{port}/debian-live-12-amd64.iso\n    sha256sums: http://127.0.0.1:{port}/SHA256SUMS\noutputs: [iso]\n"
        ),
    )
    .unwrap();
    let (cache, outdir) = (dir.join("cache"), dir.join("out"));
    let o = liveboot_in(&project, &["build", "deb-upstream", "--cache", cache.to_str().unwrap(), "--out", outdir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(server);
    let built = outdir.join("deb-upstream/deb-upstream.iso");
    let o = liveboot(&["try", built.to_str().unwrap(), "--embed-seed", "--secure-boot", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    assert!(o.status.success(), "try failed: {}\n{v}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(v["seed"], "embedded", "{v}");
    assert_eq!(v["cloud_init"], "status: done", "{v}");
    assert_eq!(v["hostname"], "try-deb-upstream", "{v}");
    println!("time to SSH ({} {} seed embedded): {} s", v["firmware"], v["medium"], v["time_to_ssh_seconds"]);
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}
