//! `liveboot kickstart check|flatten`: the kickstart crate on a user's own files.

use serde::Serialize;

use liveboot_kickstart::{Diagnostic, Options};

use crate::{note_raw, Failure, KickstartCommand};

/// One problem, for `--json`.
#[derive(Serialize)]
pub(crate) struct Problem {
    file: Option<String>,
    line: Option<u32>,
    message: String,
    help: Option<String>,
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Self {
        Problem {
            file: d.span.as_ref().map(|s| s.file.display().to_string()),
            line: d.span.as_ref().map(|s| s.line),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    version: &'a str,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn version(v: &str) -> &'static str {
    liveboot_kickstart::syntax::VERSIONS.iter().copied().find(|x| *x == v).expect("clap checked the version")
}

/// Runs `liveboot kickstart ...`.
pub fn run(cmd: KickstartCommand) -> Result<(), Failure> {
    match cmd {
        KickstartCommand::Check(a) => {
            let v = version(&a.syntax.ks_version);
            let parsed = liveboot_kickstart::read(&a.file, Options { version: v, confine: None }).map_err(Failure::input)?;
            if a.json {
                let report = Report {
                    file: a.file.display().to_string(),
                    version: v,
                    errors: parsed.errors.iter().map(Problem::from).collect(),
                    warnings: parsed.warnings.iter().map(Problem::from).collect(),
                };
                out!("{}", serde_json::to_string_pretty(&report).expect("serializes"));
            } else {
                for d in parsed.errors.iter() {
                    out!("error: {d}");
                }
                for d in parsed.warnings.iter() {
                    out!("warning: {d}");
                }
                out!("{}: {} error(s), {} warning(s) (kickstart {v})", a.file.display(), parsed.errors.len(), parsed.warnings.len());
            }
            if parsed.errors.is_empty() {
                Ok(())
            } else {
                Err(Failure { message: String::new(), code: 1 })
            }
        }
        KickstartCommand::Flatten(a) => {
            let v = version(&a.syntax.ks_version);
            let parsed = liveboot_kickstart::read(&a.file, Options { version: v, confine: None }).map_err(Failure::input)?;
            for d in &parsed.warnings {
                note!("warning: {d}");
            }
            if !parsed.errors.is_empty() {
                let all: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
                return Err(Failure::input(format!(
                    "{}\nerror: {}: {} error(s), nothing flattened",
                    all.join("\nerror: "),
                    a.file.display(),
                    parsed.errors.len()
                )));
            }
            let text = parsed.kickstart.flatten();
            match &a.output {
                None => {
                    use std::io::Write;
                    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
                        if e.kind() != std::io::ErrorKind::BrokenPipe {
                            return Err(Failure::input(format!("cannot write the flattened kickstart: {e}")));
                        }
                    }
                }
                Some(path) => liveboot_publish::write_batch(&[(path.clone(), text.into_bytes())])
                    .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))?,
            }
            Ok(())
        }
    }
}
