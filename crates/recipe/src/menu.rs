//! Boot menus written by others (an upstream ISO's `grub.cfg`, `loopback.cfg`, isolinux's
//! `txt.cfg`): which loader reads a file, how that loader quotes a kernel argument, and adding
//! arguments to every kernel command line of a menu.
//!
//! GRUB splits a line into words like a shell: `;` ends a command, `$` expands, quotes group.
//! An unquoted `ds=nocloud;s=/cdrom/nocloud/` boots with `ds=nocloud` alone and GRUB runs
//! `s=/cdrom/nocloud/` as a command (the pain users of the original tool reported); in double
//! quotes the kernel gets it whole. syslinux passes its `append` line through as it is: nothing
//! needs quoting there, and nothing can be quoted (an argument with a space cannot be written).

/// The loader that reads a menu file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuSyntax {
    /// GRUB 2: `linux`/`linuxefi` lines.
    Grub,
    /// syslinux/isolinux: `append` lines of entries with a kernel.
    Syslinux,
}

/// A kernel command line that cannot be written in a menu's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unquotable {
    /// The argument.
    pub arg: String,
    /// Why.
    pub why: &'static str,
}

impl MenuSyntax {
    /// `grub` or `syslinux`.
    pub fn name(self) -> &'static str {
        match self {
            MenuSyntax::Grub => "grub",
            MenuSyntax::Syslinux => "syslinux",
        }
    }

    /// The loader reading `path` (a path inside an ISO), by the conventions of the loaders:
    /// anything under a `grub`/`grub2` folder, `grub*.cfg` and `loopback.cfg` is GRUB's; anything
    /// under `isolinux`/`syslinux`, and `isolinux.cfg`, `syslinux.cfg`, `txt.cfg` is syslinux's.
    pub fn of(path: &str) -> Option<MenuSyntax> {
        let lower = path.to_ascii_lowercase();
        let parts: Vec<&str> = lower.trim_start_matches('/').split('/').collect();
        let (dirs, name) = parts.split_at(parts.len().saturating_sub(1));
        let name = name.first().copied().unwrap_or_default();
        if !name.ends_with(".cfg") {
            return None;
        }
        if dirs.iter().any(|d| *d == "grub" || *d == "grub2") || name.starts_with("grub") || name == "loopback.cfg" {
            Some(MenuSyntax::Grub)
        } else if dirs.iter().any(|d| *d == "isolinux" || *d == "syslinux") || ["isolinux.cfg", "syslinux.cfg", "txt.cfg"].contains(&name) {
            Some(MenuSyntax::Syslinux)
        } else {
            None
        }
    }

    /// The arguments as this loader must read them, joined by spaces.
    pub fn quote(self, args: &[String]) -> Result<String, Unquotable> {
        let mut out = Vec::new();
        for a in args {
            if a.is_empty() || a.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Unquotable { arg: a.clone(), why: "a kernel argument holds no blank or control character" });
            }
            out.push(match self {
                MenuSyntax::Syslinux => a.clone(),
                MenuSyntax::Grub if a.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%^~".contains(c)) => a.clone(),
                MenuSyntax::Grub => {
                    let mut q = String::from("\"");
                    for c in a.chars() {
                        if matches!(c, '"' | '\\' | '$') {
                            q.push('\\');
                        }
                        q.push(c);
                    }
                    q.push('"');
                    q
                }
            });
        }
        Ok(out.join(" "))
    }

    /// Whether the line (trimmed) passes a kernel command line, and where the arguments start
    /// (the byte offset in `line` after the kernel's path). Memory testers and other loaders'
    /// images (`linux16 /boot/memtest86+.bin`) are no Linux kernels and are left alone.
    fn kernel_args_start(self, line: &str, in_kernel_entry: bool) -> Option<usize> {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let mut words = trimmed.split_whitespace();
        let first = words.next()?.to_ascii_lowercase();
        match self {
            MenuSyntax::Grub => {
                if !["linux", "linuxefi"].contains(&first.as_str()) {
                    return None;
                }
                let kernel = words.next()?;
                if is_not_linux(kernel) {
                    return None;
                }
                let at = trimmed.find(kernel)? + kernel.len();
                Some(indent + at)
            }
            MenuSyntax::Syslinux => {
                if first != "append" || !in_kernel_entry {
                    return None;
                }
                Some(indent + first.len())
            }
        }
    }

    /// The lines of `text` that pass a kernel command line, with their numbers (from 1).
    pub fn kernel_lines(self, text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let mut entry = Entry::default();
        for (i, line) in text.lines().enumerate() {
            entry.see(self, line);
            if self.kernel_args_start(line, entry.linux).is_some() {
                out.push((i + 1, line.to_string()));
            }
        }
        out
    }

    /// `text` with `args` (already quoted for this syntax) added to every kernel command line:
    /// before the `---` or `--` that ends the arguments meant for the running system (Debian's
    /// and Ubuntu's installers copy what follows it to the installed system), else at the end.
    /// Returns the new text and how many lines changed.
    pub fn add_args(self, text: &str, args: &str) -> (String, usize) {
        let mut out = String::with_capacity(text.len() + 64);
        let mut changed = 0;
        let mut entry = Entry::default();
        for piece in text.split_inclusive('\n') {
            let (line, end) = match piece.strip_suffix('\n') {
                Some(l) => match l.strip_suffix('\r') {
                    Some(l2) => (l2, "\r\n"),
                    None => (l, "\n"),
                },
                None => (piece, ""),
            };
            entry.see(self, line);
            match self.kernel_args_start(line, entry.linux) {
                Some(start) if !args.is_empty() => {
                    out.push_str(&insert_args(line, start, args));
                    changed += 1;
                }
                _ => out.push_str(line),
            }
            out.push_str(end);
        }
        (out, changed)
    }
}

/// Tracks, in a syslinux menu, whether the current `label` boots a Linux kernel (its `append`
/// lines are kernel arguments then; `localboot`, `com32` modules and memory testers are not).
#[derive(Default)]
struct Entry {
    linux: bool,
}

impl Entry {
    fn see(&mut self, syntax: MenuSyntax, line: &str) {
        if syntax != MenuSyntax::Syslinux {
            return;
        }
        let mut words = line.split_whitespace();
        let Some(first) = words.next().map(str::to_ascii_lowercase) else { return };
        match first.as_str() {
            "label" => self.linux = false,
            "kernel" | "linux" => self.linux = words.next().is_some_and(|k| !is_not_linux(k) && !k.ends_with(".c32")),
            _ => {}
        }
    }
}

/// Images a menu boots that are not Linux kernels taking arguments.
fn is_not_linux(kernel: &str) -> bool {
    let k = kernel.to_ascii_lowercase();
    ["memtest", "mt86", "ipxe", ".efi", "hdt", "chain"].iter().any(|m| k.contains(m))
}

/// The line with `args` inserted before its ` --- `/` -- ` separator, else appended.
fn insert_args(line: &str, start: usize, args: &str) -> String {
    let rest = &line[start..];
    // The first word that is exactly `---` or `--`.
    let mut offset = 0;
    for word in rest.split(' ') {
        let w = word.trim_matches('\t');
        if w == "---" || w == "--" {
            let at = start + offset + (word.len() - word.trim_start_matches('\t').len());
            let before = line[..at].trim_end_matches([' ', '\t']);
            return format!("{before} {args} {}", &line[at..]);
        }
        offset += word.len() + 1;
    }
    let trimmed = line.trim_end_matches([' ', '\t']);
    format!("{trimmed} {args}{}", &line[trimmed.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn loaders_by_path() {
        assert_eq!(MenuSyntax::of("boot/grub/grub.cfg"), Some(MenuSyntax::Grub));
        assert_eq!(MenuSyntax::of("/boot/grub/loopback.cfg"), Some(MenuSyntax::Grub));
        assert_eq!(MenuSyntax::of("EFI/BOOT/grub.cfg"), Some(MenuSyntax::Grub));
        assert_eq!(MenuSyntax::of("isolinux/txt.cfg"), Some(MenuSyntax::Syslinux));
        assert_eq!(MenuSyntax::of("isolinux.cfg"), Some(MenuSyntax::Syslinux));
        assert_eq!(MenuSyntax::of("syslinux/syslinux.cfg"), Some(MenuSyntax::Syslinux));
        assert_eq!(MenuSyntax::of("boot/x86_64/loader/isolinux.cfg"), Some(MenuSyntax::Syslinux));
        assert_eq!(MenuSyntax::of("boot/grub/unicode.pf2"), None);
        assert_eq!(MenuSyntax::of("casper/menu.cfg"), None);
    }

    #[test]
    fn grub_quotes_what_its_lexer_would_split() {
        let g = MenuSyntax::Grub;
        assert_eq!(g.quote(&s(&["ds=nocloud", "console=ttyS0,115200n8"])).unwrap(), "ds=nocloud console=ttyS0,115200n8");
        assert_eq!(g.quote(&s(&["ds=nocloud;s=/cdrom/nocloud/"])).unwrap(), "\"ds=nocloud;s=/cdrom/nocloud/\"");
        assert_eq!(g.quote(&s(&["a=$x\"y\\"])).unwrap(), r#""a=\$x\"y\\""#);
        assert_eq!(g.quote(&s(&["a b"])).unwrap_err().arg, "a b");
        assert_eq!(MenuSyntax::Syslinux.quote(&s(&["ds=nocloud;s=/cdrom/nocloud/"])).unwrap(), "ds=nocloud;s=/cdrom/nocloud/");
    }

    #[test]
    fn arguments_go_before_the_separator() {
        let g = MenuSyntax::Grub;
        let menu = "menuentry \"x\" {\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\nmenuentry 'Test memory' {\n\tlinux16 /boot/memtest86+x64.bin\n}\n";
        let (out, n) = g.add_args(menu, "ds=nocloud");
        assert_eq!(n, 1);
        assert!(out.contains("\tlinux\t/casper/vmlinuz ds=nocloud ---\n"), "{out}");
        assert!(out.contains("linux16 /boot/memtest86+x64.bin\n"));
        let (out, _) = g.add_args("linux /casper/vmlinuz --- quiet splash\n", "a=1");
        assert_eq!(out, "linux /casper/vmlinuz a=1 --- quiet splash\n");
        let (out, _) = g.add_args("  linux /vmlinuz root=/dev/sda1\r\n", "a=1");
        assert_eq!(out, "  linux /vmlinuz root=/dev/sda1 a=1\r\n");
        let (out, _) = g.add_args("linux /vmlinuz-x quiet -- x\n", "a=1");
        assert_eq!(out, "linux /vmlinuz-x quiet a=1 -- x\n");
    }

    #[test]
    fn syslinux_appends_only_to_linux_entries() {
        let menu = "default live\nlabel live\n  menu label ^Install Ubuntu Server\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet  ---\nlabel memtest\n  kernel /install/mt86plus\n  append foo\nlabel hd\n  localboot 0x80\n";
        let (out, n) = MenuSyntax::Syslinux.add_args(menu, "ds=nocloud");
        assert_eq!(n, 1);
        assert!(out.contains("  append   initrd=/casper/initrd quiet ds=nocloud ---\n"), "{out}");
        assert!(out.contains("  append foo\n"));
        assert_eq!(MenuSyntax::Syslinux.kernel_lines(menu), vec![(5, "  append   initrd=/casper/initrd quiet  ---".to_string())]);
    }
}
