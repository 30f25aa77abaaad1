//! The state machine that reads a kickstart as pykickstart's `KickstartParser` does: commands
//! until a `%section` header, a section's lines until `%end`, `%include` anywhere. Unlike
//! pykickstart it goes on after a problem, so that one run reports all of them.

use liveboot_yaml::Diagnostic;

use crate::lex::{self, blank_or_comment, first_word, LexError};
use crate::model::{Command, Group, GroupInclude, Kickstart, Packages, Script, ScriptKind, Section};
use crate::read::{Origin, Reader};
use crate::syntax::{self, CommandDef, Count, Takes, Use};

/// What reading found: the kickstart as far as it could be read, its errors and its warnings.
pub struct Parsed {
    /// The kickstart (complete only when `errors` is empty).
    pub kickstart: Kickstart,
    /// Problems that make it unusable.
    pub errors: Vec<Diagnostic>,
    /// Things it says that have no effect or may not do what was meant.
    pub warnings: Vec<Diagnostic>,
}

struct Parser {
    version: &'static str,
    reader: Reader,
    ks: Kickstart,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Unknown sections seen so far (a later header of the same name is a section too).
    unknown_sections: Vec<String>,
}

/// Reads `reader`'s kickstart as `version`.
pub fn parse(reader: Reader, version: &'static str) -> Parsed {
    let mut p = Parser {
        version,
        reader,
        ks: Kickstart {
            version,
            platform: None,
            commands: Vec::new(),
            packages: Packages::default(),
            scripts: Vec::new(),
            sections: Vec::new(),
        },
        errors: Vec::new(),
        warnings: Vec::new(),
        unknown_sections: Vec::new(),
    };
    p.errors.append(&mut p.reader.problems);
    p.run();
    Parsed { kickstart: p.ks, errors: p.errors, warnings: p.warnings }
}

fn lex_error(e: LexError) -> (String, &'static str) {
    match e {
        LexError::UnclosedQuote(q) => {
            (format!("the quote {q} is not closed on this line"), "close the quote; a kickstart line cannot go on to the next one")
        }
        LexError::TrailingEscape => ("the line ends with a lone \\".into(), "remove the \\ (kickstart has no line continuation)"),
    }
}

impl Parser {
    fn run(&mut self) {
        while let Some((line, at)) = self.reader.next_line() {
            if blank_or_comment(&line) {
                // The one comment pykickstart keeps (written by system-config-kickstart).
                if let Some(platform) = line.strip_prefix("#platform=") {
                    self.ks.platform = Some(platform.trim_matches(lex::is_py_space).to_string());
                }
                continue;
            }
            let words = match lex::split(&line, true) {
                Ok(w) => w,
                Err(e) => {
                    let (m, h) = lex_error(e);
                    self.errors.push(at.error(m, h));
                    // A section header that cannot be split still opens its section, so that
                    // its body is not read as commands.
                    let first = first_word(&line);
                    if first.starts_with('%') && first != "%end" && first != "%include" {
                        self.section(vec![first.to_string()], at);
                    }
                    continue;
                }
            };
            let Some(first) = words.first() else { continue };
            if first == "%include" {
                self.include(&words, &at);
            } else if first == "%ksappend" {
                self.warnings.push(at.error(
                    "%ksappend in an included file is ignored",
                    "anaconda expands %ksappend only in the kickstart it is given: move it there, or use %include",
                ));
            } else if first == "%end" {
                self.errors.push(at.error("%end without a section to end", "remove it, or add the section header it ends"));
            } else if first.starts_with('%') {
                self.section(words, at);
            } else {
                self.command(&line, words, at);
            }
        }
    }

    fn include(&mut self, words: &[String], at: &Origin) {
        match words.get(1).filter(|n| !n.is_empty()) {
            None => self.errors.push(at.error("%include names no file", "write `%include FILE` (relative to this file's folder)")),
            Some(name) => {
                if let Err(e) = self.reader.include(name, at) {
                    self.errors.push(e);
                }
            }
        }
    }

    fn is_section(&self, name: &str) -> bool {
        syntax::command(self.version, name).is_some_and(|d| d.usage == Use::Section) || self.unknown_sections.iter().any(|s| s == name)
    }

    fn command(&mut self, line: &str, words: Vec<String>, at: Origin) {
        let name = words[0].clone();
        let Some(def) = syntax::command(self.version, &name) else {
            let near = syntax::command_names(self.version).filter(|n| strsim::levenshtein(n, &name) <= 2).collect::<Vec<_>>();
            let help = match near.first() {
                Some(n) => format!("did you mean '{n}'?"),
                None => format!(
                    "kickstart {} has no such command (the commands: https://pykickstart.readthedocs.io/en/latest/kickstart-docs.html)",
                    self.version
                ),
            };
            self.errors.push(at.error(format!("unknown command '{name}'"), help));
            return;
        };
        match def.usage {
            Use::Removed => {
                self.errors.push(at.error(
                    format!("'{name}' has been removed from kickstart (version {})", self.version),
                    "remove the line (see the kickstart documentation of this release for what replaces it)",
                ));
                return;
            }
            Use::Deprecated => {
                self.warnings
                    .push(at.error(format!("'{name}' is deprecated and has no effect (version {})", self.version), "remove the line"));
                return;
            }
            Use::Section => unreachable!("section names start with %"),
            Use::Single | Use::Multi => {}
        }
        if words.last().is_some_and(|w| w.ends_with('\n')) {
            // shlex reads `\` + newline as an escaped newline, not as a continuation.
            self.errors.push(
                at.error(format!("'{name}' ends with \\: kickstart has no line continuation"), "write the whole command on one line"),
            );
            return;
        }
        self.check_args(def, &words[1..], &at, &format!("'{name}'"));
        let text = line.trim_matches(lex::is_py_space).to_string();
        self.ks.commands.push(Command { name, args: words[1..].to_vec(), text, at });
    }

    /// Checks options and positional arguments against the definition, as argparse would.
    fn check_args(&mut self, def: &CommandDef, args: &[String], at: &Origin, what: &str) {
        if def.free_text() {
            return;
        }
        let mut positional = 0usize;
        let mut i = 0;
        while i < args.len() {
            let w = &args[i];
            i += 1;
            if !(w.starts_with('-') && w.len() > 1 && !w[1..].starts_with(|c: char| c.is_ascii_digit())) {
                positional += 1;
                continue;
            }
            let (name, inline) = match w.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (w.as_str(), None),
            };
            let opt = match def.option(name) {
                Ok(Some(o)) => o,
                Ok(None) => {
                    let mut names: Vec<&str> = def.options.iter().flat_map(|o| o.names.iter().map(String::as_str)).collect();
                    names.sort_unstable();
                    let near = names.iter().find(|n| strsim::levenshtein(n, name) <= 2);
                    let help = match (near, names.is_empty()) {
                        (_, true) => format!("{what} takes no options"),
                        (Some(n), _) => format!("did you mean '{n}'? ({what} takes {})", names.join(" ")),
                        (None, _) => format!("{what} takes {}", names.join(" ")),
                    };
                    self.errors.push(at.error(format!("unknown option '{name}' of {what}"), help));
                    continue;
                }
                Err(many) => {
                    self.errors.push(at.error(format!("'{name}' of {what} is ambiguous: {}", many.join(", ")), "write the whole option"));
                    continue;
                }
            };
            if opt.deprecated {
                self.warnings.push(at.error(format!("option '{name}' of {what} is deprecated and has no effect"), "remove it"));
            }
            match (opt.takes, inline) {
                (Takes::Nothing, Some(_)) => {
                    self.errors.push(at.error(format!("option '{name}' of {what} takes no value"), format!("write {name} alone")))
                }
                (Takes::Value, None) => {
                    if args.get(i).is_some_and(|v| !v.starts_with("--")) {
                        i += 1;
                    } else {
                        self.errors.push(at.error(format!("option '{name}' of {what} needs a value"), format!("write {name}=VALUE")));
                    }
                }
                _ => {}
            }
        }
        // Too few positional arguments is an error argparse reports; too many is not checked:
        // several commands (btrfs, raid, volgroup) take theirs outside argparse's table.
        let required = def.positional.iter().filter(|(_, c)| matches!(c, Count::One | Count::Some)).count();
        if positional < required {
            let names: Vec<&str> = def.positional.iter().map(|(n, _)| n.as_str()).collect();
            let upper = names.join(" ").to_uppercase();
            self.errors
                .push(at.error(format!("{what} needs its argument {upper}"), format!("write it as: {} {upper}", what.trim_matches('\''))));
        }
    }

    fn section(&mut self, words: Vec<String>, at: Origin) {
        let name = words[0].clone();
        let known = syntax::command(self.version, &name).filter(|d| d.usage == Use::Section);
        if known.is_none() && !self.unknown_sections.contains(&name) {
            self.warnings.push(at.error(
                format!("unknown section '{name}': kept as written, liveboot does not read it"),
                "sections liveboot reads: %packages %pre %pre-install %post %onerror %traceback",
            ));
            self.unknown_sections.push(name.clone());
        }
        if let Some(def) = known {
            if !def.options.is_empty() || name != "%addon" && name != "%anaconda" {
                self.check_args(def, &words[1..], &at, &name);
            }
        }
        let keep_all = name != "%packages";
        let mut body = String::new();
        let mut ended = false;
        while let Some((line, lat)) = self.reader.next_line() {
            if !keep_all && blank_or_comment(&line) {
                continue;
            }
            if line.trim_start_matches(lex::is_py_space).starts_with('%') {
                let first = first_word(&line);
                if self.is_section(first) || first == "%end" || first == "%include" {
                    match lex::split(&line, false) {
                        Err(e) => {
                            let (m, h) = lex_error(e);
                            self.errors.push(lat.error(m, h));
                            continue;
                        }
                        Ok(w) if w.first().map(String::as_str) == Some("%end") => {
                            ended = true;
                            break;
                        }
                        Ok(w) if w.first().map(String::as_str) == Some("%include") => {
                            self.include(&w, &lat);
                            continue;
                        }
                        Ok(_) => {
                            self.errors.push(lat.error(
                                format!("{first} starts before {name} (line {}) has ended", at.span.line),
                                format!("write %end on the line before {first}"),
                            ));
                            // Read the new section as if the old one had ended.
                            self.finish(&name, &words, body, at);
                            let words = lex::split(&line, true).unwrap_or_default();
                            self.section(words, lat);
                            return;
                        }
                    }
                }
            }
            if keep_all {
                body.push_str(&line);
            } else {
                self.package_line(&line, &lat);
            }
        }
        if !ended {
            self.errors.push(
                at.error(format!("{name} has no %end"), format!("end the section with a line %end (it starts on line {})", at.span.line)),
            );
        }
        self.finish(&name, &words, body, at);
    }

    fn finish(&mut self, name: &str, words: &[String], body: String, at: Origin) {
        let version = self.version;
        let value = |dest: &str| {
            Command { name: name.into(), args: words[1..].to_vec(), text: String::new(), at: at.clone() }.option(version, dest)
        };
        if name == "%packages" {
            let p = &mut self.ks.packages;
            p.seen = true;
            p.excludedocs = value("excludedocs").is_some();
            p.ignore_missing = value("ignoremissing").is_some();
            p.default = value("defaultPackages").is_some();
            if let Some(v) = value("instLangs") {
                p.inst_langs = v;
            }
            p.multilib = value("multiLib").is_some();
            p.nocore = value("nocore").is_some();
            p.timeout = value("timeout").flatten();
            p.retries = value("retries").flatten();
            p.exclude_weakdeps = value("excludeWeakdeps").is_some();
            p.ignore_broken = value("ignorebroken").is_some();
            if p.default && p.nocore {
                self.errors.push(at.error("%packages --default and --nocore cannot be used together", "keep one of them"));
            }
        } else if let Some(kind) = ScriptKind::from_section(name) {
            // pykickstart drops a script whose body is only whitespace.
            if body.trim().is_empty() {
                return;
            }
            if kind == ScriptKind::Traceback {
                self.warnings.push(at.error("%traceback is deprecated", "write %onerror instead"));
            }
            self.ks.scripts.push(Script {
                kind,
                interpreter: value("interpreter").flatten().unwrap_or_else(|| "/bin/sh".into()),
                chroot: kind == ScriptKind::Post && value("nochroot").is_none(),
                error_on_fail: value("errorOnFail").is_some(),
                log: value("log").flatten(),
                body,
                at,
            });
        } else {
            let header = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
            self.ks.sections.push(Section { header, body, at });
        }
    }

    /// One line of `%packages`, as pykickstart's `Packages.add`.
    fn package_line(&mut self, line: &str, at: &Origin) {
        let line = line.split('#').next().unwrap_or("").trim_end_matches(lex::is_py_space);
        let s = line.trim_matches(lex::is_py_space);
        if s.is_empty() {
            return;
        }
        let p = &mut self.ks.packages;
        if let Some(env) = s.strip_prefix("@^") {
            p.environment = Some(env.to_string());
        } else if let Some(group) = s.strip_prefix('@') {
            let words: Vec<&str> = group.split(lex::is_py_space).filter(|w| !w.is_empty()).collect();
            let nodefaults = words.contains(&"--nodefaults");
            let optional = words.contains(&"--optional");
            let name = words.iter().filter(|w| **w != "--nodefaults" && **w != "--optional").copied().collect::<Vec<_>>().join(" ");
            if nodefaults && optional {
                self.errors.push(at.error("a group cannot be both --nodefaults and --optional", "keep one of them"));
                return;
            }
            if name.is_empty() {
                self.errors.push(at.error("'@' names no group", "write @GROUP"));
                return;
            }
            if !p.groups.iter().any(|g| g.name == name) {
                let include = if nodefaults {
                    GroupInclude::Required
                } else if optional {
                    GroupInclude::All
                } else {
                    GroupInclude::Default
                };
                p.groups.push(Group { name, include });
            }
        } else if let Some(ex) = s.strip_prefix('-') {
            if ex.is_empty() {
                self.errors.push(at.error("'-' names no package", "write -PACKAGE to leave a package out"));
            } else if ex.strip_prefix("@^").is_some_and(|env| p.environment.as_deref() == Some(env)) {
                p.environment = None;
            } else if let Some(g) = ex.strip_prefix('@') {
                p.groups.retain(|x| x.name != g);
                p.excluded_groups.push(g.to_string());
            } else {
                p.packages.retain(|x| x != ex);
                if !p.excluded.iter().any(|x| x == ex) {
                    p.excluded.push(ex.to_string());
                    p.excluded.sort();
                }
            }
        } else {
            p.excluded.retain(|x| x != s);
            if !p.packages.iter().any(|x| x == s) {
                p.packages.push(s.to_string());
                p.packages.sort();
            }
        }
    }
}

/// A word written so that shlex reads it back as it is.
pub(crate) fn quote(w: &str) -> String {
    if !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || "@%+=:,./-_^*?[]~$".contains(c)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\"'\"'"))
    }
}
