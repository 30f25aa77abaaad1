//! A local RPM repository that a kickstart build can install a bootable live root from, made
//! on this Debian host (no Fedora or Rocky mirror is reachable here).
//!
//! The payload is a Debian root (mmdebstrap: kernel, systemd, dracut with its live modules,
//! cloud-init, sshd, Debian's signed shim and GRUB) made to look like a Fedora root where a
//! kickstart build looks (no `/vmlinuz` link, the signed loaders under
//! `/boot/efi/EFI/{fedora,rocky}/`), wrapped into RPMs with rpmbuild: `liveboot-test-setup`
//! (passwd, group, shadow: installed first, through `Requires(pre)`, so that the owners of
//! the other files resolve) and `liveboot-test-root` (everything else, every path with an
//! explicit `%attr` owner named through the *root's* passwd and group, file capabilities kept,
//! `Provides:` the names Fedora kickstarts ask for). Four small packages exercise a comps
//! group (`liveboot-extras`: two default packages, one optional, one of them excluded by the
//! test's kickstart) and `services` (`liveboot-hello.service`, not enabled by its package).
//! `createrepo_c -g comps.xml` makes the repository, with the groups `core` and
//! `liveboot-extras`.
//!
//! Built once per inputs under `.cache/e2e/` of the project (a `complete` marker is written
//! last), so later runs reuse it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian packages of the payload root.
const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "systemd-sysv",
    "dracut",
    "dracut-live",
    "dracut-network",
    "curl",
    "cloud-init",
    "openssh-server",
    "ifupdown",
    "isc-dhcp-client",
    "iproute2",
    "iputils-ping",
    "libcap2-bin",
    "sudo",
    "locales",
    "ca-certificates",
    "tzdata",
    "shim-signed",
    "shim-helpers-amd64-signed",
    "grub-efi-amd64-signed",
];

/// What `liveboot-test-root` says it provides: the names Fedora's and Rocky's kickstarts and
/// liveboot's kickstart family ask for.
const PROVIDES: &[&str] = &[
    "kernel",
    "kernel-core",
    "kernel-modules",
    "systemd",
    "dracut",
    "dracut-live",
    "dracut-network",
    "dracut-config-generic",
    "openssh-server",
    "openssh-clients",
    "cloud-init",
    "NetworkManager",
    "iputils",
    "libcap",
    "passwd",
    "shadow-utils",
    "tzdata",
    "curl",
    "sudo",
    "shim-x64",
    "grub2-efi-x64-cdboot",
    "grub2-efi-x64",
];

/// Bumped when the way the repository is made changes (the cache key has it).
const RECIPE: &str = "rpmrepo-2";

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The repository (a folder to serve), made if it is not there yet.
pub fn ensure() -> PathBuf {
    let key = &liveboot_digest::sha256_hex(format!("{RECIPE}\n{}\n{}", PACKAGES.join(","), PROVIDES.join(",")).as_bytes())[..12];
    let base = crate::root().join(".cache/e2e");
    let dir = base.join(format!("rpmrepo-{key}"));
    if dir.join("complete").exists() {
        return dir.join("repo");
    }
    std::fs::create_dir_all(&dir).unwrap();
    let started = std::time::Instant::now();
    let root = dir.join("root");
    // The root survives an interrupted run (it is the slow part); the packages are made anew.
    if !dir.join("root-complete").exists() {
        let _ = std::fs::remove_dir_all(&root);
        // The downloads of the run's debian12 builds serve here too (the same kernel, systemd ...).
        bootstrap(&root, &crate::work().join("cache/apt"));
        like_fedora(&root);
        std::fs::write(dir.join("root-complete"), "").unwrap();
    }
    let rpms = dir.join("repo");
    let work = dir.join("rpmbuild");
    let _ = std::fs::remove_dir_all(&rpms);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&rpms).unwrap();
    let ids = Ids::of(&root);
    // passwd and friends first: rpm resolves the other packages' owners through them.
    let setup_files = ["etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"];
    pack(
        &work,
        &rpms,
        Package {
            name: "liveboot-test-setup",
            tree: &root,
            only: Some(&setup_files),
            skip: &[],
            provides: &["setup"],
            requires_pre: &[],
            ids: &ids,
            post: None,
        },
    );
    let skip: Vec<&str> = setup_files.iter().copied().chain(["dev", "proc", "sys", "run", "tmp"]).collect();
    pack(
        &work,
        &rpms,
        Package {
            name: "liveboot-test-root",
            tree: &root,
            only: None,
            skip: &skip,
            provides: PROVIDES,
            requires_pre: &["liveboot-test-setup"],
            ids: &ids,
            post: None,
        },
    );
    for (name, path, content) in [
        (
            "liveboot-hello",
            "usr/lib/systemd/system/liveboot-hello.service",
            "[Unit]\nDescription=liveboot test: enabled by the kickstart's services line\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
        ),
        ("liveboot-groupie", "usr/share/liveboot-test/groupie", "a default package of the group liveboot-extras\n"),
        ("liveboot-unwanted", "usr/share/liveboot-test/unwanted", "a default package of liveboot-extras that the kickstart excludes\n"),
        ("liveboot-optional", "usr/share/liveboot-test/optional", "an optional package of liveboot-extras\n"),
    ] {
        let tree = dir.join(format!("tree-{name}"));
        std::fs::create_dir_all(tree.join(path).parent().unwrap()).unwrap();
        std::fs::write(tree.join(path), content).unwrap();
        pack(&work, &rpms, Package { name, tree: &tree, only: Some(&[path]), skip: &[], provides: &[], requires_pre: &[], ids: &ids, post: None });
    }
    std::fs::write(dir.join("comps.xml"), COMPS).unwrap();
    run(Command::new("createrepo_c").arg("-q").arg("-g").arg(dir.join("comps.xml")).arg(&rpms));
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::write(dir.join("complete"), format!("made in {} s\n", started.elapsed().as_secs())).unwrap();
    eprintln!("rpmrepo: made {} in {} s", rpms.display(), started.elapsed().as_secs());
    rpms
}

/// The names of Leap's packages that kiwi/leap15 and the SUSE family ask for and the payload
/// does not provide already: `liveboot-suse-names` provides them on top of the payload.
const SUSE_PROVIDES: &[&str] = &[
    "zypper",
    "udev",
    "filesystem",
    "glibc-locale",
    "cracklib-dict-full",
    "ca-certificates",
    "ca-certificates-mozilla",
    "bind-utils",
    "patterns-openSUSE-base",
    "plymouth-theme-bgrt",
    "grub2-branding-openSUSE",
    "vim",
    "grub2",
    "grub2-x86_64-efi",
    "grub2-i386-pc",
    "lvm2",
    "plymouth",
    "fontconfig",
    "tar",
    "parted",
    "openssh",
    "iproute2",
    "less",
    "bash-completion",
    "dhcp-client",
    "which",
    "kernel-default",
    "shim",
    "timezone",
    "procps",
    "dracut-kiwi-live",
    "wicked",
    // Its own %post's interpreter: the payload has it at /usr/bin/sh (Debian's merged /usr),
    // and repository metadata lists no file under a symlinked /bin.
    "/bin/sh",
];

/// Leap's name of the SSH server unit, over the payload's sshd.
const SSHD_UNIT: &str = "[Unit]\nDescription=OpenSSH server (the Leap-named unit of liveboot's test payload)\nAfter=network.target\n\n[Service]\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D\nExecReload=/bin/kill -HUP $MAINPID\nRuntimeDirectory=sshd\nRuntimeDirectoryMode=0755\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n";

/// Bumped when the way the SUSE repository is made changes.
const SUSE_RECIPE: &str = "suserepo-2";

/// A repository in the shape of Leap's for the KIWI zypper build (no openSUSE mirror is
/// reachable here): the payload's packages beside `liveboot-suse-names` (Leap's package names
/// over the payload, and the signed loaders where Leap keeps them, `/usr/share/efi/x86_64/`:
/// Debian's signed shim, MokManager and CD GRUB here), a package-based pattern as Leap makes
/// them (`patterns-base-base`: `Provides: pattern() = base`), and `fonts-config`, which the
/// description deletes. No comps: Leap's repositories have none.
pub fn ensure_suse() -> PathBuf {
    let payload = ensure();
    let key = &liveboot_digest::sha256_hex(format!("{SUSE_RECIPE}\n{}\n{}", SUSE_PROVIDES.join(","), payload.display()).as_bytes())[..12];
    let dir = crate::root().join(".cache/e2e").join(format!("suserepo-{key}"));
    if dir.join("complete").exists() {
        return dir.join("repo");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (rpms, work) = (dir.join("repo"), dir.join("rpmbuild"));
    std::fs::create_dir_all(&rpms).unwrap();
    for e in std::fs::read_dir(&payload).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "rpm") {
            std::fs::hard_link(e.path(), rpms.join(e.file_name())).unwrap();
        }
    }
    let ids = Ids { users: [(0, "root".to_string())].into(), groups: [(0, "root".to_string())].into() };
    let names = dir.join("tree-liveboot-suse-names");
    let efi = "usr/share/efi/x86_64";
    std::fs::create_dir_all(names.join(efi)).unwrap();
    let loaders = [
        ("/usr/lib/shim/shimx64.efi.signed", "shim.efi"),
        ("/usr/lib/shim/mmx64.efi.signed", "MokManager.efi"),
        ("/usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed", "grub.efi"),
    ];
    let mut files: Vec<String> = Vec::new();
    for (from, to) in loaders {
        std::fs::copy(from, names.join(efi).join(to)).unwrap_or_else(|e| panic!("{from}: {e} (cargo xtask deps installs it)"));
        files.push(format!("{efi}/{to}"));
    }
    // Leap's SSH server unit is sshd.service (KIWI's config.sh enables it by that name); the
    // payload's is Debian's ssh.service, aliased sshd.service, which systemctl refuses to
    // enable by its alias. The Leap-named unit replaces it.
    let unit = "usr/lib/systemd/system/sshd.service";
    std::fs::create_dir_all(names.join("usr/lib/systemd/system")).unwrap();
    std::fs::write(names.join(unit), SSHD_UNIT).unwrap();
    files.push(unit.to_string());
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    pack(
        &work,
        &rpms,
        Package {
            name: "liveboot-suse-names",
            tree: &names,
            only: Some(&files),
            skip: &[],
            provides: SUSE_PROVIDES,
            requires_pre: &["liveboot-test-root"],
            ids: &ids,
            post: Some("rm -f /etc/systemd/system/sshd.service /etc/systemd/system/multi-user.target.wants/ssh.service"),
        },
    );
    for (name, provides) in
        [("patterns-base-base", &["pattern() = base", "pattern-visible()", "pattern-order() = 1000"][..]), ("fonts-config", &[][..])]
    {
        let tree = dir.join(format!("tree-{name}"));
        let path = format!("usr/share/liveboot-test/{name}");
        std::fs::create_dir_all(tree.join("usr/share/liveboot-test")).unwrap();
        std::fs::write(tree.join(&path), format!("{name}: a package of the SUSE test repository\n")).unwrap();
        pack(
            &work,
            &rpms,
            Package { name, tree: &tree, only: Some(&[path.as_str()]), skip: &[], provides, requires_pre: &[], ids: &ids, post: None },
        );
    }
    run(Command::new("createrepo_c").arg("-q").arg(&rpms));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::write(dir.join("complete"), "").unwrap();
    rpms
}

const COMPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <description>The bootable test payload.</description>
    <default>true</default>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">liveboot-test-root</packagereq>
    </packagelist>
  </group>
  <group>
    <id>liveboot-extras</id>
    <name>liveboot extras</name>
    <description>Default, excluded and optional packages for the kickstart test.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist>
      <packagereq type="default">liveboot-groupie</packagereq>
      <packagereq type="default">liveboot-unwanted</packagereq>
      <packagereq type="optional">liveboot-optional</packagereq>
    </packagelist>
  </group>
</comps>
"#;

/// mmdebstrap of the payload root; downloads kept in `apt` (shared with the debian12 builds).
fn bootstrap(root: &Path, apt: &Path) {
    std::fs::create_dir_all(apt).unwrap();
    // The payload's dracut needs network-legacy for dracut-network in a systemd root (see
    // DESIGN) when the kickstart build runs it. While the packages install, dracut is diverted
    // to `true`: the initrds the kernel's and dracut's postinst scripts would build (a minute)
    // are thrown away anyway.
    let conf = "mkdir -p \"$1\"/etc/dracut.conf.d && printf '%s\\n' 'hostonly=\"no\"' 'add_dracutmodules+=\" network-legacy \"' > \"$1\"/etc/dracut.conf.d/10-payload.conf";
    let divert = "chroot \"$1\" dpkg-divert --quiet --local --rename --add /usr/bin/dracut && ln -s /bin/true \"$1\"/usr/bin/dracut";
    let undivert = "rm \"$1\"/usr/bin/dracut && chroot \"$1\" dpkg-divert --quiet --local --rename --remove /usr/bin/dracut";
    run(Command::new("mmdebstrap")
        .args(["--mode=unshare", "--variant=apt", "--architectures=amd64", "--components=main", "--skip=essential/unlink"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(format!("--essential-hook={conf}"))
        .arg(format!("--essential-hook={divert}"))
        .arg(format!("--customize-hook={undivert}"))
        .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/")
        .arg(format!("--setup-hook=sync-in {} /var/cache/apt/archives/", apt.display()))
        .arg(format!("--customize-hook=sync-out /var/cache/apt/archives {}", apt.display()))
        .arg("bookworm")
        .arg(root)
        .arg("http://deb.debian.org/debian"));
}

/// Makes the Debian root look like a Fedora or Rocky root where a kickstart build looks.
fn like_fedora(root: &Path) {
    for link in ["vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"] {
        let _ = std::fs::remove_file(root.join(link));
    }
    for e in std::fs::read_dir(root.join("boot")).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("initrd.img-") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    for distro in ["fedora", "rocky"] {
        let efi = root.join(format!("boot/efi/EFI/{distro}"));
        std::fs::create_dir_all(&efi).unwrap();
        for (from, to) in [
            ("usr/lib/shim/shimx64.efi.signed", "shimx64.efi"),
            ("usr/lib/shim/mmx64.efi.signed", "mmx64.efi"),
            ("usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed", "gcdx64.efi"),
        ] {
            std::fs::copy(root.join(from), efi.join(to)).unwrap();
        }
    }
}

/// Owner names by id, from the root's own passwd and group (never the host's).
struct Ids {
    users: BTreeMap<u32, String>,
    groups: BTreeMap<u32, String>,
}

impl Ids {
    fn of(root: &Path) -> Ids {
        let read = |f: &str| -> BTreeMap<u32, String> {
            std::fs::read_to_string(root.join(f))
                .unwrap()
                .lines()
                .filter_map(|l| {
                    let mut it = l.split(':');
                    let name = it.next()?.to_string();
                    let id = it.nth(1)?.parse().ok()?;
                    Some((id, name))
                })
                .collect()
        };
        Ids { users: read("etc/passwd"), groups: read("etc/group") }
    }
}

struct Package<'a> {
    name: &'a str,
    tree: &'a Path,
    /// Only these paths (relative); else everything but `skip`'s contents.
    only: Option<&'a [&'a str]>,
    skip: &'a [&'a str],
    provides: &'a [&'a str],
    requires_pre: &'a [&'a str],
    ids: &'a Ids,
    /// A `%post` scriptlet.
    post: Option<&'a str>,
}

/// A path as a spec's %files takes it: quoted, % doubled. rpm reads a path with glob
/// characters as a pattern and does not unescape them, so each of them (and a backslash, as in
/// systemd's `system-systemd\x2dcryptsetup.slice`) becomes `?`, which matches it (and perhaps a
/// file listed anyway: rpmbuild only warns about that).
fn spec_path(rel: &str) -> String {
    let mut out = String::from("\"/");
    for c in rel.chars() {
        match c {
            '%' => out.push_str("%%"),
            '*' | '?' | '[' | ']' | '{' | '}' | '\\' | '"' => out.push('?'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The %files line of one path.
fn files_line(p: &Package, rel: &str) -> String {
    let path = p.tree.join(rel);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    let user =
        p.ids.users.get(&meta.uid()).cloned().unwrap_or_else(|| panic!("{}: uid {} not in the root's passwd", path.display(), meta.uid()));
    let group =
        p.ids.groups.get(&meta.gid()).cloned().unwrap_or_else(|| panic!("{}: gid {} not in the root's group", path.display(), meta.gid()));
    let mut line = String::new();
    if meta.is_dir() {
        line.push_str("%dir ");
    }
    if meta.file_type().is_symlink() {
        let _ = write!(line, "%attr(-,{user},{group}) ");
    } else {
        let _ = write!(line, "%attr({:04o},{user},{group}) ", meta.permissions().mode() & 0o7777);
    }
    if meta.is_file() {
        let caps = Command::new("getcap").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&caps.stdout);
        if let Some(cap) = text.split_whitespace().nth(1) {
            let _ = write!(line, "%caps({cap}) ");
        }
    }
    line.push_str(&spec_path(rel));
    line
}

fn walk(tree: &Path, rel: &str, skip: &[&str], out: &mut Vec<String>) {
    for e in std::fs::read_dir(tree.join(rel)).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if child.contains('\n') {
            continue;
        }
        let ft = e.file_type().unwrap();
        if skip.contains(&child.as_str()) {
            // The folder itself, not what is in it (API filesystems, mount points).
            if ft.is_dir() {
                out.push(child);
            }
            continue;
        }
        if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
            continue; // device nodes, FIFOs, sockets
        }
        out.push(child.clone());
        if ft.is_dir() {
            walk(tree, &child, skip, out);
        }
    }
}

/// rpmbuild of one package from a tree, into `rpms`.
fn pack(work: &Path, rpms: &Path, p: Package) {
    let mut paths: Vec<String> = match p.only {
        Some(only) => only.iter().map(|s| s.to_string()).collect(),
        None => {
            let mut v = Vec::new();
            walk(p.tree, "", p.skip, &mut v);
            v
        }
    };
    paths.sort();
    let mut spec = format!(
        "Name: {}\nVersion: 1.0\nRelease: 1\nSummary: liveboot test payload\nLicense: various (Debian packages)\nBuildArch: x86_64\nAutoReqProv: no\n",
        p.name
    );
    for prov in p.provides {
        let _ = writeln!(spec, "Provides: {prov}");
    }
    for req in p.requires_pre {
        let _ = writeln!(spec, "Requires(pre): {req}");
    }
    let _ = writeln!(spec, "\n%description\nliveboot's end-to-end test payload ({}).\n", p.name);
    if let Some(post) = p.post {
        let _ = writeln!(spec, "%post\n{post}\n");
    }
    spec.push_str("%files\n");
    for rel in &paths {
        spec.push_str(&files_line(&p, rel));
        spec.push('\n');
    }
    let dir = work.join(p.name);
    std::fs::create_dir_all(&dir).unwrap();
    let spec_file = dir.join(format!("{}.spec", p.name));
    std::fs::write(&spec_file, spec).unwrap();
    let define = |k: &str, v: &str| format!("{k} {v}");
    run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--noclean")
        .arg(format!("--buildroot={}", p.tree.display()))
        .args(["--define", &define("_topdir", &dir.to_string_lossy())])
        .args(["--define", &define("_rpmdir", &rpms.to_string_lossy())])
        .args(["--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm"])
        // The tree is the payload as it is: nothing removed, stripped, compressed or checked.
        .args(["--define", "__spec_install_pre %{___build_pre}"])
        .args(["--define", "__os_install_post %{nil}"])
        .args(["--define", "_build_id_links none"])
        .args(["--define", "debug_package %{nil}"])
        .args(["--define", "_binary_payload w0.ufdio"])
        .args(["--define", "_unpackaged_files_terminate_build 0"])
        .args(["--define", "__check_files %{nil}"])
        .arg(&spec_file));
}
