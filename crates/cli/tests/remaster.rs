//! `liveboot remaster` on ISOs built by others: iPXE's `ipxe.iso` (isolinux + EFI image) and
//! GRUB's `grub-rescue-cdrom.iso` (GRUB El Torito, protective MBR), from Debian's packages, and
//! an ISO in Ubuntu 20.04's shape (isolinux and GRUB menus, casper). Their boot records, as
//! xorriso reports them, stay as they were.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{boot_records, extract_from_iso as extract, stdout, tool};

const IPXE_ISO: &str = "/usr/lib/ipxe/ipxe.iso";
const RESCUE_ISO: &str = "/usr/lib/grub-rescue/grub-rescue-cdrom.iso";

fn liveboot(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_liveboot")).args(args).output().expect("liveboot runs")
}

fn third_party(path: &str) -> &Path {
    assert!(Path::new(path).is_file(), "{path} is missing: run `cargo xtask deps` (packages ipxe, grub-rescue-pc)");
    Path::new(path)
}

fn files_of(iso: &Path) -> Vec<String> {
    stdout(tool("xorriso").args(["-indev"]).arg(iso).args(["-find", "/", "-type", "f"]))
        .lines()
        .map(|l| l.trim_matches('\'').to_string())
        .collect()
}

fn ok(args: &[&str]) -> String {
    let out = liveboot(args);
    assert!(out.status.success(), "liveboot {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = liveboot(args);
    assert_eq!(out.status.code(), Some(1), "liveboot {args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

/// What a folder holds (names), to show nothing was left behind.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn ipxe_iso_keeps_its_isolinux_and_efi_boot_records() {
    let iso = third_party(IPXE_ISO);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ipxe-remastered.iso");
    let extra = dir.path().join("hello.txt");
    std::fs::write(&extra, "added by liveboot\n").unwrap();
    ok(&["remaster", iso.to_str().unwrap(), out.to_str().unwrap(), "--add", &format!("{}:/extra/hello.txt", extra.display())]);
    assert_eq!(boot_records(iso), boot_records(&out));
    assert!(boot_records(&out).iter().any(|l| l == "-e '/efi.img'"), "{:?}", boot_records(&out));
    assert_eq!(extract(&out, "/extra/hello.txt"), "added by liveboot\n");
    // Everything the original holds is still there.
    let (before, after) = (files_of(iso), files_of(&out));
    assert!(before.iter().all(|f| after.contains(f)), "{before:?} vs {after:?}");
}

#[test]
fn grub_rescue_iso_keeps_its_boot_records_and_volume_date() {
    let iso = third_party(RESCUE_ISO);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rescue.iso");
    let json = ok(&["remaster", iso.to_str().unwrap(), out.to_str().unwrap(), "--kernel-args", "console=ttyS0 ds=nocloud;s=/x/", "--json"]);
    // GRUB's rescue image finds its files by the volume's UUID, which is its modification
    // date: that must survive (it is part of the report).
    let records = boot_records(&out);
    assert_eq!(boot_records(iso), records);
    assert!(records.iter().any(|l| l.starts_with("--modification-date=")), "{records:?}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["menus"][0]["path"], "boot/grub/grub.cfg");
    assert_eq!(report["menus"][0]["lines"], 1);
    let menu = extract(&out, "/boot/grub/grub.cfg");
    // GRUB's quoting: the ';' inside double quotes, not ending the command.
    assert!(menu.contains("\tlinux /vmlinuz root=/dev/sda1 console=ttyS0 \"ds=nocloud;s=/x/\"\n"), "{menu}");
    // The memory tester is no Linux kernel: left alone.
    assert!(menu.contains("\tlinux16 /memtest86+.bin\n"), "{menu}");
}

/// An ISO in Ubuntu 20.04's shape: isolinux (BIOS) with `txt.cfg`, GRUB's menu, casper.
pub fn focal_shaped_iso(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    for d in ["isolinux", "boot/grub", "casper"] {
        std::fs::create_dir_all(tree.join(d)).unwrap();
    }
    std::fs::copy("/usr/lib/ISOLINUX/isolinux.bin", tree.join("isolinux/isolinux.bin")).unwrap();
    std::fs::copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", tree.join("isolinux/ldlinux.c32")).unwrap();
    std::fs::write(tree.join("isolinux/isolinux.cfg"), "include txt.cfg\n").unwrap();
    std::fs::write(
        tree.join("isolinux/txt.cfg"),
        "default live\nlabel live\n  menu label ^Install Ubuntu Server\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet  ---\nlabel memtest\n  menu label Test ^memory\n  kernel /install/mt86plus\nlabel hd\n  menu label ^Boot from first hard disk\n  localboot 0x80\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("boot/grub/grub.cfg"),
        "set timeout=5\nmenuentry \"Install Ubuntu Server\" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz   quiet  ---\n\tinitrd\t/casper/initrd\n}\n",
    )
    .unwrap();
    std::fs::write(tree.join("casper/vmlinuz"), "not a kernel").unwrap();
    std::fs::write(tree.join("casper/initrd"), "not an initrd").unwrap();
    let iso = dir.join("focal.iso");
    stdout(
        tool("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-V", "Ubuntu-Server 20.04.6 LTS amd64"])
            .args(["-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin", "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin"])
            .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-o"])
            .arg(&iso)
            .arg(&tree),
    );
    iso
}

#[test]
fn an_embedded_seed_goes_to_nocloud_with_each_loader_quoting_its_argument() {
    let dir = tempfile::tempdir().unwrap();
    let iso = focal_shaped_iso(dir.path());
    let seed = dir.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    std::fs::write(seed.join("meta-data"), "instance-id: n1\nlocal-hostname: n1\n").unwrap();
    std::fs::write(seed.join("user-data"), "#cloud-config\n{}\n").unwrap();
    let out = dir.path().join("n1.iso");
    let json = ok(&["remaster", iso.to_str().unwrap(), out.to_str().unwrap(), "--seed", seed.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    // casper mounts the medium at /cdrom.
    assert_eq!(report["seed_at"], "/cdrom/nocloud/");
    assert_eq!(boot_records(&iso), boot_records(&out));
    let txt = extract(&out, "/isolinux/txt.cfg");
    assert!(txt.contains("  append   initrd=/casper/initrd quiet ds=nocloud;s=/cdrom/nocloud/ ---\n"), "{txt}");
    assert!(txt.contains("  kernel /install/mt86plus\nlabel hd"), "the memory test entry is left alone: {txt}");
    let grub = extract(&out, "/boot/grub/grub.cfg");
    assert!(grub.contains("\tlinux\t/casper/vmlinuz   quiet \"ds=nocloud;s=/cdrom/nocloud/\" ---\n"), "{grub}");
    assert_eq!(extract(&out, "/nocloud/meta-data"), "instance-id: n1\nlocal-hostname: n1\n");
    assert_eq!(extract(&out, "/nocloud/user-data"), "#cloud-config\n{}\n");
    assert_eq!(names(dir.path()), ["focal.iso", "n1.iso", "seed", "tree"], "no temporary file left");
}

#[test]
fn bad_requests_fail_in_one_message_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.iso");
    let o = out.to_str().unwrap();
    // iPXE's menu boots ipxe.krn, which is no Linux kernel taking arguments.
    let e = fails(&["remaster", third_party(IPXE_ISO).to_str().unwrap(), o, "--kernel-args", "quiet"]);
    assert!(e.contains("no kernel command line found to add the arguments to (menus looked at: isolinux.cfg)"), "{e}");
    // The rescue ISO has no live system: where it would find a seed cannot be known.
    let seed = dir.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    let e = fails(&["remaster", RESCUE_ISO, o, "--seed", seed.to_str().unwrap()]);
    assert!(e.contains("no meta-data in it"), "{e}");
    std::fs::write(seed.join("meta-data"), "instance-id: x\n").unwrap();
    std::fs::write(seed.join("user-data"), "#cloud-config\n").unwrap();
    let e = fails(&["remaster", RESCUE_ISO, o, "--seed", seed.to_str().unwrap()]);
    assert!(e.contains("cannot tell where its live system finds its boot medium"), "{e}");
    let e = fails(&["remaster", RESCUE_ISO, o, "--add", "/nonexistent/x:/x"]);
    assert!(e.contains("/nonexistent/x does not exist"), "{e}");
    let e = fails(&["remaster", RESCUE_ISO, o, "--add", "nodest"]);
    assert!(e.contains("write SRC:DEST"), "{e}");
    let not_iso = dir.path().join("not.iso");
    std::fs::write(&not_iso, "hello").unwrap();
    let e = fails(&["remaster", not_iso.to_str().unwrap(), o]);
    assert!(e.contains("cannot read it as an ISO"), "{e}");
    assert_eq!(names(dir.path()), ["not.iso", "seed"], "nothing written, nothing left");
    // Never the input itself.
    let copy = dir.path().join("copy.iso");
    std::fs::copy(RESCUE_ISO, &copy).unwrap();
    let e = fails(&["remaster", copy.to_str().unwrap(), copy.to_str().unwrap(), "--kernel-args", "quiet"]);
    assert!(e.contains("the output would overwrite the input"), "{e}");
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(RESCUE_ISO).unwrap());
}
