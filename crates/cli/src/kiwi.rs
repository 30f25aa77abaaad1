//! `liveboot kiwi show`: the kiwi crate on a user's own descriptions.

use serde::Serialize;

use liveboot_kiwi::{Description, Options};

use crate::kickstart::Problem;
use crate::{note_raw, Failure, KiwiCommand};

#[derive(Serialize)]
struct Report<'a> {
    description: &'a Description,
    warnings: Vec<Problem>,
}

/// Runs `liveboot kiwi ...`.
pub fn run(cmd: KiwiCommand) -> Result<(), Failure> {
    let KiwiCommand::Show(a) = cmd;
    let profiles: Vec<String> = a.profile.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let options = Options { profiles: &profiles, build_type: a.build_type.as_deref(), arch: &a.arch };
    let read = match liveboot_kiwi::read(&a.description, options) {
        Ok(r) => r,
        Err(errors) => {
            if a.json {
                let problems: Vec<Problem> = errors.iter().map(Problem::from).collect();
                out!("{}", serde_json::to_string_pretty(&serde_json::json!({ "errors": problems })).expect("serializes"));
                return Err(Failure { message: String::new(), code: 1 });
            }
            let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(Failure::input(format!(
                "{}\nerror: {} error(s) in {}",
                all.join("\nerror: "),
                errors.len(),
                a.description.display()
            )));
        }
    };
    let d = &read.description;
    if a.json {
        let report = Report { description: d, warnings: read.warnings.iter().map(Problem::from).collect() };
        out!("{}", serde_json::to_string_pretty(&report).expect("serializes"));
        return Ok(());
    }
    for w in &read.warnings {
        note!("warning: {w}");
    }
    out!("{}", human(d));
    Ok(())
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(" ")
    }
}

fn human(d: &Description) -> String {
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!("{} ({}, schema {})", d.name, d.file.display(), d.schemaversion));
    line(format!("  {} ({}, {})", d.specification, d.author, d.contact));
    let declared: Vec<String> =
        d.declared_profiles.iter().map(|p| if p.import { format!("{} (import)", p.name) } else { p.name.clone() }).collect();
    line(format!("profiles: {}   declared: {}", list(&d.profiles), list(&declared)));
    let t = &d.build_type;
    let mut attrs: Vec<String> = Vec::new();
    for (k, v) in [("firmware", &t.firmware), ("flags", &t.flags), ("filesystem", &t.filesystem), ("volid", &t.volid)] {
        if let Some(v) = v {
            attrs.push(format!("{k}={v}"));
        }
    }
    if let Some(k) = &t.kernelcmdline {
        attrs.push(format!("kernelcmdline={k:?}"));
    }
    line(format!(
        "type: {}{} ({}) initrd {}   {}",
        t.image,
        if t.primary { " primary" } else { "" },
        t.at,
        t.initrd_system,
        attrs.join(" ")
    ));
    if let Some(b) = &t.bootloader {
        let console = t.bootloader_console.as_ref().map(|c| c.join("/")).unwrap_or_default();
        let timeout = t.bootloader_timeout.map(|s| format!(" timeout {s}s")).unwrap_or_default();
        line(format!(
            "  bootloader {b}{}{timeout}",
            if console.trim_matches('/').is_empty() { String::new() } else { format!(" console {console}") }
        ));
    }
    if !d.other_types.is_empty() {
        line(format!("  other types: {} (--type)", d.other_types.join(" ")));
    }
    line(format!(
        "package manager: {}   version {}   locale {}   keytable {}   timezone {}",
        d.packagemanager,
        or_dash(&d.version),
        d.locale.as_ref().map(|l| l.join(",")).unwrap_or_else(|| "-".into()),
        or_dash(&d.keytable),
        or_dash(&d.timezone)
    ));
    line(format!("  rpm-check-signatures {}   rpm-excludedocs {}", d.rpm_check_signatures, d.rpm_excludedocs));
    line(format!("repositories ({}):", d.repositories.len()));
    for r in &d.repositories {
        let mut extra = Vec::new();
        if let Some(x) = &r.distribution {
            extra.push(format!("distribution {x}"));
        }
        if let Some(x) = &r.components {
            extra.push(format!("components {x}"));
        }
        if let Some(x) = &r.alias {
            extra.push(format!("alias {x}"));
        }
        if let Some(x) = r.priority {
            extra.push(format!("priority {x}"));
        }
        if r.imageinclude {
            extra.push("imageinclude".into());
        }
        let extra = if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(", ")) };
        line(format!("  {} {}{extra}", r.kind.as_deref().unwrap_or("(package manager's)"), r.path));
    }
    let p = &d.packages;
    line("packages:".to_string());
    for (name, v) in [
        ("bootstrap", &p.bootstrap),
        ("image", &p.image),
        ("delete", &p.delete),
        ("uninstall", &p.uninstall),
        ("bootstrap collections", &p.bootstrap_collections),
        ("image collections", &p.image_collections),
        ("bootstrap archives", &p.bootstrap_archives),
        ("image archives", &p.image_archives),
        ("ignored", &p.ignore),
    ] {
        if !v.is_empty() || name == "bootstrap" || name == "image" {
            line(format!("  {name} ({}): {}", v.len(), list(v)));
        }
    }
    let users: Vec<String> = d
        .users
        .iter()
        .map(|u| format!("{} (groups {}{})", u.name, list(&u.groups), if u.password { ", password set" } else { "" }))
        .collect();
    line(format!("users: {}", if users.is_empty() { "-".into() } else { users.join(", ") }));
    line(format!("scripts: {}   overlay: {}   cdroot: {}", list(&d.scripts), if d.overlay { "root/" } else { "-" }, or_dash(&d.cdroot)));
    s.trim_end().to_string()
}
