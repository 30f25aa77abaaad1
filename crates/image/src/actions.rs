//! The actions of a stage, executed. Errors are messages for people: what failed and where.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use liveboot_recipe::plan::{Action, PackageDb, Piece, Place, Plan, Text};
use liveboot_runner::{Cmd, Runner};

/// What an action may refer to.
pub(crate) struct Context<'a> {
    pub(crate) plan: &'a Plan,
    /// The stage's own (temporary) output folder.
    pub(crate) own: &'a Path,
    pub(crate) cache: &'a Path,
    pub(crate) project: &'a Path,
    pub(crate) templates: &'a Path,
    pub(crate) runner: &'a Runner,
    pub(crate) epoch: u64,
}

impl Context<'_> {
    /// Where a place is on this machine.
    pub(crate) fn place(&self, place: &Place) -> Result<PathBuf, String> {
        let under = |base: &Path, p: &str| if p.is_empty() { base.to_path_buf() } else { base.join(p) };
        Ok(match place {
            Place::Own(p) => under(self.own, p),
            Place::Cache(p) => under(self.cache, p),
            Place::Project(p) => under(self.project, p),
            Place::Host(p) => PathBuf::from(p),
            Place::Stage { stage, path } => {
                // The plan checked the reference when it was made; a plan edited by hand may not hold.
                let s = self.plan.stages.iter().find(|s| &s.name == stage).ok_or_else(|| format!("unknown stage '{stage}'"))?;
                under(&crate::stage_dir(self.cache, s), path)
            }
        })
    }

    /// The text with its places replaced by their paths.
    pub(crate) fn text(&self, text: &Text) -> Result<String, String> {
        let mut out = String::new();
        for piece in &text.0 {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::At(p) => out.push_str(&self.place(p)?.to_string_lossy()),
            }
        }
        Ok(out)
    }

    fn path(&self, text: &Text) -> Result<PathBuf, String> {
        self.text(text).map(PathBuf::from)
    }
}

/// Removes a file, a symbolic link or a whole folder; missing is fine. Never follows links.
pub(crate) fn remove_all(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    }
}

/// Refuses a destination inside a root filesystem tree whose way there crosses a symbolic link
/// with an absolute target: following it would write on the build host.
fn check_inside(own: &Path, dest: &Path) -> Result<(), String> {
    let Ok(rel) = dest.strip_prefix(own) else {
        return Ok(());
    };
    let mut p = own.to_path_buf();
    let comps: Vec<Component> = rel.components().collect();
    for c in &comps[..comps.len().saturating_sub(1)] {
        p.push(c);
        if let Ok(target) = std::fs::read_link(&p) {
            if target.is_absolute() {
                return Err(format!("{} is a link to {}; refusing to write through it", p.display(), target.display()));
            }
        }
    }
    Ok(())
}

/// Replaces `dest` with `bytes`: removes it first, so a hard link into a cached stage (from
/// a link tree) is never written through.
fn replace_file(own: &Path, dest: &Path, bytes: &[u8], mode: Option<&str>) -> Result<(), String> {
    check_inside(own, dest)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    remove_all(dest).map_err(|e| format!("cannot replace {}: {e}", dest.display()))?;
    std::fs::write(dest, bytes).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        let bits = u32::from_str_radix(m, 8).map_err(|_| format!("bad mode {m}"))?;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(bits))
            .map_err(|e| format!("cannot chmod {}: {e}", dest.display()))?;
    }
    Ok(())
}

/// Follows a link inside a root filesystem: absolute targets are taken from the tree's root.
fn resolve_in(root: &Path, link: &Path) -> Result<PathBuf, String> {
    let mut p = link.to_path_buf();
    for _ in 0..16 {
        match std::fs::read_link(&p) {
            Ok(t) if t.is_absolute() => p = root.join(t.strip_prefix("/").unwrap_or(&t)),
            Ok(t) => p = p.parent().unwrap_or(root).join(t),
            Err(_) => return Ok(p),
        }
    }
    Err(format!("{} is a loop of links", link.display()))
}

fn set_mtime(path: &Path, epoch: u64) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL byte", path.display()))?;
    let t = libc::timespec { tv_sec: epoch as libc::time_t, tv_nsec: 0 };
    let times = [t, t];
    // SAFETY: c is a valid NUL-terminated path; times points at two timespecs.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if r != 0 {
        return Err(format!("cannot set the time of {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    Ok(())
}

fn pin_times(dir: &Path, epoch: u64) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| e.to_string())?;
        let p = e.path();
        if e.file_type().map_err(|e| e.to_string())?.is_dir() {
            pin_times(&p, epoch)?;
        }
        set_mtime(&p, epoch)?;
    }
    set_mtime(dir, epoch)
}

fn remove_glob(pattern: &Path) -> Result<(), String> {
    let name = pattern.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains('*') {
        return remove_all(pattern).map_err(|e| format!("cannot remove {}: {e}", pattern.display()));
    }
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        if glob_match(&name, &e.file_name().to_string_lossy()) {
            remove_all(&e.path()).map_err(|err| format!("cannot remove {}: {err}", e.path().display()))?;
        }
    }
    Ok(())
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| name.is_char_boundary(head.len() + i) && glob_match(tail, &name[head.len() + i..]))
        }
    }
}

fn render(ctx: &Context, template: &str, vars: &serde_json::Value) -> Result<String, String> {
    render_template(ctx.templates, template, vars)
}

/// Renders a template of the project's `templates/` folder as plans do: strict (an undefined
/// variable is an error), no auto-escaping, ending in a newline.
pub fn render_template(templates: &std::path::Path, template: &str, vars: &serde_json::Value) -> Result<String, String> {
    let path = templates.join(template);
    let src = std::fs::read_to_string(&path).map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_template_owned(template.to_string(), src).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = env
        .get_template(template)
        .and_then(|t| t.render(vars))
        .map_err(|e| format!("{}:{}: {e}", path.display(), e.line().unwrap_or(0)))?;
    Ok(if out.ends_with('\n') { out } else { out + "\n" })
}

/// Executes one action.
pub(crate) fn execute(ctx: &Context, action: &Action) -> Result<(), String> {
    let own = ctx.own;
    match action {
        Action::Run { argv, env } => {
            let program = argv.first().ok_or("a run action with no program")?;
            let mut cmd = Cmd::new(ctx.text(program)?);
            for a in &argv[1..] {
                cmd = cmd.arg(ctx.text(a)?);
            }
            for (k, v) in env {
                cmd = cmd.env(k, v);
            }
            ctx.runner.run(&cmd.contained()).map(|_| ()).map_err(|e| e.to_string())
        }
        Action::Render { template, dest, vars } => {
            let text = render(ctx, template, vars)?;
            replace_file(own, &ctx.path(dest)?, text.as_bytes(), None)
        }
        Action::Copy { src, dest, mode } => {
            let src = ctx.path(src)?;
            let bytes = std::fs::read(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
            let dest = ctx.path(dest)?;
            replace_file(own, &dest, &bytes, mode.as_deref())?;
            if mode.is_none() {
                let perm = std::fs::metadata(&src).map_err(|e| e.to_string())?.permissions();
                std::fs::set_permissions(&dest, perm).map_err(|e| format!("cannot chmod {}: {e}", dest.display()))?;
            }
            Ok(())
        }
        Action::Link { src, dest } => {
            let (src, dest) = (ctx.path(src)?, ctx.path(dest)?);
            check_inside(own, &dest)?;
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            remove_all(&dest).map_err(|e| format!("cannot replace {}: {e}", dest.display()))?;
            std::fs::hard_link(&src, &dest).map_err(|e| format!("cannot link {} to {}: {e}", src.display(), dest.display()))
        }
        Action::Write { dest, content, mode } => replace_file(own, &ctx.path(dest)?, content.as_bytes(), mode.as_deref()),
        Action::MakeDir { path } => {
            let p = ctx.path(path)?;
            std::fs::create_dir_all(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))
        }
        Action::Remove { paths } => paths.iter().try_for_each(|p| remove_glob(&ctx.path(p)?)),
        Action::LinkTree { src, dest } => {
            let cmd = Cmd::new("cp").args(["-a", "-l", "--"]).arg(ctx.path(src)?).arg(ctx.path(dest)?);
            ctx.runner.run(&cmd).map(|_| ()).map_err(|e| e.to_string())
        }
        Action::BootFiles { rootfs, dest } => {
            let root = ctx.path(rootfs)?;
            let dest = ctx.path(dest)?;
            let (kernel, initrd, version) = boot_files(&root)?;
            for (from, to) in [(&kernel, "vmlinuz"), (&initrd, "initrd.img")] {
                let bytes = std::fs::read(from)
                    .map_err(|e| format!("the root filesystem has no {to} ({}: {e}); is a kernel package installed?", from.display()))?;
                replace_file(own, &dest.join(to), &bytes, Some("0644"))?;
            }
            replace_file(own, &dest.join("kernel-version"), format!("{version}\n").as_bytes(), None)
        }
        Action::Packages { rootfs, dest, db } => {
            let root = ctx.path(rootfs)?;
            let cmd = match db {
                PackageDb::Dpkg => Cmd::new("dpkg-query")
                    .arg(format!("--admindir={}", root.join("var/lib/dpkg").display()))
                    .args(["-W", "-f=${Package}\t${Version}\n"]),
                PackageDb::Rpm(path) => Cmd::new("rpm").arg(format!("--root={}", root.display())).arg(format!("--dbpath={path}")).args([
                    "-qa",
                    "--qf",
                    "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\n",
                ]),
            };
            let out = ctx.runner.run(&cmd).map_err(|e| e.to_string())?;
            let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).map_err(|e| e.to_string())?.lines().collect();
            lines.sort();
            replace_file(own, &ctx.path(dest)?, (lines.join("\n") + "\n").as_bytes(), None)
        }
        Action::PinTimes { dir } => pin_times(&ctx.path(dir)?, ctx.epoch),
        Action::Script { root, chroot, interpreter, body, args, log, error_on_fail, what } => {
            let root = ctx.path(root)?;
            let script = ScriptRun { root: &root, chroot: *chroot, interpreter, body, args, log: log.as_deref(), what };
            match script.run(ctx) {
                Ok(()) => Ok(()),
                Err(e) if *error_on_fail => Err(e),
                Err(e) => {
                    ctx.runner.note(&format!("liveboot warning: {e}; the build goes on (--erroronfail would stop it)"));
                    Ok(())
                }
            }
        }
        Action::Reachable { repos, help } => crate::reach::all_answer(repos).map_err(|e| format!("{e}\n  help: {help}")),
        Action::Fetch { url, sha256, sums, keyring, dest, help } => {
            let keyring = keyring.as_ref().map(|k| ctx.path(k)).transpose()?;
            let d = crate::fetch::Download { url, sha256: sha256.as_deref(), sums: sums.as_deref(), keyring: keyring.as_deref(), help };
            crate::fetch::fetch(&d, ctx.cache, &ctx.path(dest)?, ctx.runner, &ctx.own.join(".fetch"))?;
            remove_all(&ctx.own.join(".fetch")).map_err(|e| e.to_string())
        }
        Action::Edit { file, find, replace, min_matches, help } => {
            let path = ctx.path(file)?;
            // Messages name the file as it is on the ISO (after the stage's own `iso/`).
            let shown = path.strip_prefix(ctx.own).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| path.display().to_string());
            let shown = shown.strip_prefix("iso/").unwrap_or(&shown).to_string();
            crate::remaster::edit(&path, &shown, find, replace, *min_matches, help)
        }
        Action::Extract { iso, paths, dest } => crate::remaster::extract(&ctx.path(iso)?, paths, &ctx.path(dest)?, ctx.runner),
        Action::Remaster { iso, out, volid, files } => {
            let r = crate::remaster::Remaster {
                iso: ctx.path(iso)?,
                out: ctx.path(out)?,
                volid: volid.clone(),
                files: files.iter().map(|(f, p)| Ok((ctx.path(f)?, p.clone()))).collect::<Result<_, String>>()?,
                env: [("SOURCE_DATE_EPOCH".to_string(), ctx.epoch.to_string())].into_iter().collect(),
            };
            crate::remaster::remaster(&r, ctx.runner)
        }
    }
}

/// The kernel and initrd of a root and the kernel's version: Debian's `/vmlinuz` and
/// `/initrd.img` links when there, else the one kernel under `/lib/modules/<version>/`, as
/// `/lib/modules/<version>/vmlinuz` or `/boot/vmlinuz-<version>` (Fedora, RHEL), with
/// `/boot/initramfs-<version>.img`.
fn boot_files(root: &Path) -> Result<(PathBuf, PathBuf, String), String> {
    if std::fs::symlink_metadata(root.join("vmlinuz")).is_ok() {
        let kernel = resolve_in(root, &root.join("vmlinuz"))?;
        let initrd = resolve_in(root, &root.join("initrd.img"))?;
        let version = kernel.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("vmlinuz-")).unwrap_or("unknown").to_string();
        return Ok((kernel, initrd, version));
    }
    let mut versions: Vec<String> = std::fs::read_dir(root.join("lib/modules"))
        .map(|d| {
            d.flatten().filter(|e| e.path().join("modules.dep").exists()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
        })
        .unwrap_or_default();
    versions.sort();
    let version = match versions.as_slice() {
        [] => {
            return Err("the root filesystem has no kernel (no /lib/modules/<version>/modules.dep); is a kernel package installed?".into())
        }
        [one] => one.clone(),
        many => {
            return Err(format!(
                "the root filesystem has {} kernels ({}); a live image boots one: install one kernel",
                many.len(),
                many.join(", ")
            ))
        }
    };
    let in_modules = root.join(format!("lib/modules/{version}/vmlinuz"));
    let kernel = if in_modules.exists() { in_modules } else { root.join(format!("boot/vmlinuz-{version}")) };
    Ok((kernel, root.join(format!("boot/initramfs-{version}.img")), version))
}

/// A script run with the root filesystem's /proc, /sys, /dev, /run and resolv.conf set up, in a
/// mount namespace of its own (so nothing stays mounted, whatever happens).
struct ScriptRun<'a> {
    root: &'a Path,
    chroot: bool,
    interpreter: &'a str,
    body: &'a str,
    args: &'a [String],
    log: Option<&'a str>,
    what: &'a str,
}

/// Sets up the root's API filesystems, then runs the script: in the root (`chroot` = 1) or on
/// the host with INSTALL_ROOT and LIVE_ROOT. Arguments: root, chroot, interpreter, script path
/// (inside the root when chrooted), log path (inside the root, or empty), then the script's own.
const SCRIPT_WRAPPER: &str = r#"set -e
r=$1; c=$2; i=$3; s=$4; l=$5; shift 5
mount -t proc proc "$r/proc"
mount --rbind /sys "$r/sys"; mount --make-rslave "$r/sys"
mount --rbind /dev "$r/dev"; mount --make-rslave "$r/dev"
mount -t tmpfs -o mode=0755 tmpfs "$r/run"
# Name resolution as the host has it, without leaving a trace in the root.
t="$r/etc/resolv.conf"
if [ -L "$t" ]; then
  case "$(readlink "$t")" in
    /run/*|../run/*) x=$(readlink "$t"); d="$r/run/${x#*run/}"; mkdir -p "$(dirname "$d")"; cp /etc/resolv.conf "$d" 2>/dev/null || true ;;
  esac
elif [ -f "$t" ] && [ -f /etc/resolv.conf ]; then mount --bind /etc/resolv.conf "$t"
fi
set +e
if [ "$c" = 1 ]; then
  if [ -n "$l" ]; then chroot "$r" "$i" "$s" "$@" >>"$r$l" 2>&1; else chroot "$r" "$i" "$s" "$@"; fi
else
  INSTALL_ROOT="$r" LIVE_ROOT="$r.live-root" "$i" "$s" "$@"
fi
"#;

impl ScriptRun<'_> {
    fn run(&self, ctx: &Context) -> Result<(), String> {
        let name = format!("liveboot-script-{}", std::process::id());
        let (host_path, script_arg) = if self.chroot {
            (self.root.join("tmp").join(&name), format!("/tmp/{name}"))
        } else {
            let p = self.root.with_extension(&name);
            (p.clone(), p.to_string_lossy().into_owned())
        };
        check_inside(ctx.own, &host_path)?;
        if let Some(dir) = host_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        replace_file(ctx.own, &host_path, self.body.as_bytes(), Some("0700"))?;
        // The wrapper as a file beside the stage's outputs, so that the log shows one short line.
        let wrapper = ctx.own.join(".liveboot-script-wrapper");
        replace_file(ctx.own, &wrapper, SCRIPT_WRAPPER.as_bytes(), Some("0644"))?;
        ctx.runner.note(&format!("running {}", self.what));
        let cmd = Cmd::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh"])
            .arg(&wrapper)
            .arg(self.root)
            .arg(if self.chroot { "1" } else { "0" })
            .arg(self.interpreter)
            .arg(&script_arg)
            .arg(self.log.unwrap_or(""))
            .args(self.args)
            .contained();
        let result = ctx.runner.run(&cmd);
        let _ = std::fs::remove_file(&host_path);
        let _ = std::fs::remove_file(&wrapper);
        result.map(|_| ()).map_err(|e| match e {
            liveboot_runner::RunError::Failed { status, stderr_tail, .. } => {
                let tail = if stderr_tail.is_empty() { String::new() } else { format!("; its last output:\n{stderr_tail}") };
                format!("{} failed ({status}){tail}", self.what)
            }
            other => format!("{}: {other}", self.what),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("ssh_host_*", "ssh_host_rsa_key.pub"));
        assert!(glob_match("*_key", "ssh_host_rsa_key"));
        assert!(!glob_match("ssh_host_*", "sshd_config"));
        assert!(glob_match("a*b*c", "aXXbYYc") && !glob_match("a*b*c", "aXXc"));
    }

    #[test]
    fn links_resolve_inside_the_tree() {
        let d = std::env::temp_dir().join(format!("lb-resolve-{}", std::process::id()));
        std::fs::create_dir_all(d.join("boot")).unwrap();
        std::fs::write(d.join("boot/vmlinuz-6.1"), b"k").unwrap();
        std::os::unix::fs::symlink("/boot/vmlinuz-6.1", d.join("vmlinuz")).unwrap();
        std::os::unix::fs::symlink("boot/vmlinuz-6.1", d.join("vmlinuz.rel")).unwrap();
        assert_eq!(resolve_in(&d, &d.join("vmlinuz")).unwrap(), d.join("boot/vmlinuz-6.1"));
        assert_eq!(resolve_in(&d, &d.join("vmlinuz.rel")).unwrap(), d.join("boot/vmlinuz-6.1"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn writing_never_goes_through_an_absolute_link() {
        let d = std::env::temp_dir().join(format!("lb-inside-{}", std::process::id()));
        std::fs::create_dir_all(d.join("rootfs")).unwrap();
        std::os::unix::fs::symlink("/tmp", d.join("rootfs/etc")).unwrap();
        let e = replace_file(&d, &d.join("rootfs/etc/motd"), b"x", None).unwrap_err();
        assert!(e.contains("refusing to write through it"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
