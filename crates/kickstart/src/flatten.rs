//! The flattened kickstart: one file with every `%include` and `%ksappend` resolved, what
//! `ksflatten` makes, in liveboot's order.
//!
//! ksflatten prints pykickstart's model back: every command rewritten in pykickstart's own
//! spelling, sorted by its internal write order, with defaults spelled out. liveboot keeps each
//! command line as it was written, in the order written (a command used once but written
//! twice is kept twice: how pykickstart combines the two lines differs from command to command),
//! then one `%packages` (all sections merged), the scripts in their order, then the
//! sections it keeps without reading. Both describe the same kickstart: the tests check that
//! pykickstart reads liveboot's flattened file to exactly what it reads from the original.

use std::fmt::Write;

use crate::model::{GroupInclude, Kickstart};
use crate::parse::quote;
use crate::syntax::{self, Use};

impl Kickstart {
    /// The flattened kickstart, as text.
    pub fn flatten(&self) -> String {
        let mut out = String::new();
        if let Some(platform) = &self.platform {
            let _ = writeln!(out, "#platform={platform}");
        }
        for c in &self.commands {
            out.push_str(&c.text);
            out.push('\n');
        }
        let p = &self.packages;
        if p.seen {
            out.push_str("\n%packages");
            let flag = |out: &mut String, on: bool, dest: &str| {
                if on {
                    let _ = write!(out, " {}", self.spelling("%packages", dest));
                }
            };
            flag(&mut out, p.default, "defaultPackages");
            flag(&mut out, p.nocore, "nocore");
            flag(&mut out, p.excludedocs, "excludedocs");
            flag(&mut out, p.multilib, "multiLib");
            flag(&mut out, p.exclude_weakdeps, "excludeWeakdeps");
            flag(&mut out, p.ignore_missing, "ignoremissing");
            flag(&mut out, p.ignore_broken, "ignorebroken");
            for (dest, v) in [("instLangs", &p.inst_langs), ("timeout", &p.timeout), ("retries", &p.retries)] {
                if let Some(v) = v {
                    let _ = write!(out, " {}={}", self.spelling("%packages", dest), quote(v));
                }
            }
            out.push('\n');
            // Excluded groups first: `-@^x` names a group unless it cancels the environment,
            // so written after `@^x` it would read back differently.
            for name in &p.excluded_groups {
                let _ = writeln!(out, "-@{name}");
            }
            if let Some(env) = &p.environment {
                let _ = writeln!(out, "@^{env}");
            }
            for g in &p.groups {
                let how = match g.include {
                    GroupInclude::Default => "",
                    GroupInclude::Required => " --nodefaults",
                    GroupInclude::All => " --optional",
                };
                let _ = writeln!(out, "@{}{how}", g.name);
            }
            for name in &p.packages {
                let _ = writeln!(out, "{name}");
            }
            for name in &p.excluded {
                let _ = writeln!(out, "-{name}");
            }
            out.push_str("%end\n");
        }
        for s in &self.scripts {
            let _ = write!(out, "\n{}", s.kind.section());
            if s.kind == crate::ScriptKind::Post && !s.chroot {
                out.push_str(" --nochroot");
            }
            if s.interpreter != "/bin/sh" {
                let _ = write!(out, " --interpreter={}", quote(&s.interpreter));
            }
            if s.error_on_fail {
                out.push_str(" --erroronfail");
            }
            if let Some(log) = &s.log {
                let _ = write!(out, " --log={}", quote(log));
            }
            out.push('\n');
            out.push_str(&s.body);
            if !s.body.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("%end\n");
        }
        for s in &self.sections {
            let _ = write!(out, "\n{}\n{}", s.header, s.body);
            if !s.body.is_empty() && !s.body.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("%end\n");
        }
        out
    }

    /// The spelling of option `dest` of `command` that this version takes and does not call
    /// deprecated (`--inst-langs` where it exists, `--instLangs` on RHEL 8).
    fn spelling(&self, command: &str, dest: &str) -> String {
        let def = syntax::command(self.version, command).filter(|d| d.usage == Use::Section || d.usage == Use::Single);
        def.and_then(|d| {
            let mut options: Vec<_> = d.options.iter().filter(|o| o.dest == dest).collect();
            options.sort_by_key(|o| o.deprecated);
            options.first().map(|o| o.names.iter().find(|n| n.contains('-') && n[2..].contains('-')).unwrap_or(&o.names[0]).clone())
        })
        .unwrap_or_else(|| format!("--{dest}"))
    }
}
