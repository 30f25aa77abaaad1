//! The kickstart commands and their options, per version, as pykickstart defines them.
//!
//! `syntax.txt` is generated from pykickstart's own handlers by `tools/syntax.py` (a test checks
//! that it still matches the pinned pykickstart): for each command and each group of versions
//! with the same definition, whether it is removed, deprecated, used once (a later line replaces
//! an earlier one) or many times, its options (every spelling, the attribute it sets, whether it
//! takes a value) and its positional arguments.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The kickstart versions liveboot knows (pykickstart's names), oldest first.
pub const VERSIONS: &[&str] = &["F37", "F38", "F39", "F40", "F41", "F42", "F43", "RHEL8", "RHEL9", "RHEL10"];

/// How a command may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Once: a later line replaces an earlier one.
    Single,
    /// Many times: each line adds one item (a partition, a repository, a user).
    Multi,
    /// Accepted with a warning, no effect.
    Deprecated,
    /// An error.
    Removed,
    /// A section header (`%packages`, `%post`): its options are the header's.
    Section,
}

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// `--flag`.
    Nothing,
    /// `--opt=value` or `--opt value`.
    Value,
    /// `--opt` or `--opt=value`.
    Optional,
}

/// One option of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Every spelling (`--instLangs`, `--inst-langs`).
    pub names: Vec<String>,
    /// The attribute it sets: spellings with one `dest` are the same option.
    pub dest: String,
    /// Whether it takes a value.
    pub takes: Takes,
    /// Accepted with a warning, no effect.
    pub deprecated: bool,
}

/// How many values a positional argument takes (argparse's `nargs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Exactly one.
    One,
    /// Zero or one.
    Maybe,
    /// Any number.
    Any,
    /// At least one.
    Some,
}

/// A command's definition in one version.
#[derive(Debug, Clone)]
pub struct CommandDef {
    /// How it may be used.
    pub usage: Use,
    /// pykickstart's class without its version: names with one class are aliases of one
    /// command (`halt`, `poweroff`, `reboot`, `shutdown`).
    pub class: &'static str,
    /// Its options.
    pub options: Vec<Opt>,
    /// Its positional arguments, in order: name and count.
    pub positional: Vec<(String, Count)>,
}

impl CommandDef {
    /// The option a word names, as argparse finds it: the exact spelling, else the one option
    /// whose spelling it starts (argparse accepts unambiguous abbreviations). `Err` lists the
    /// spellings of an ambiguous abbreviation.
    pub fn option(&self, word: &str) -> Result<Option<&Opt>, Vec<&str>> {
        if let Some(o) = self.options.iter().find(|o| o.names.iter().any(|n| n == word)) {
            return Ok(Some(o));
        }
        let matches: Vec<(&Opt, &str)> = self
            .options
            .iter()
            .flat_map(|o| o.names.iter().filter(|n| n.starts_with(word) && n.starts_with("--")).map(move |n| (o, n.as_str())))
            .collect();
        match matches.as_slice() {
            [] => Ok(None),
            [(o, _)] => Ok(Some(o)),
            many => Err(many.iter().map(|(_, n)| *n).collect()),
        }
    }

    /// Whether the command takes the rest of its line as free text (`auth`, `realm`): its one
    /// positional argument is pykickstart's `options`.
    pub fn free_text(&self) -> bool {
        self.options.is_empty() && matches!(self.positional.as_slice(), [(name, _)] if name == "options")
    }
}

type Table = BTreeMap<&'static str, Vec<(Vec<&'static str>, CommandDef)>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse_table(include_str!("syntax.txt")))
}

fn parse_table(text: &'static str) -> Table {
    let mut table: Table = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("  ") {
            let (_, defs) = table.iter_mut().last().expect("syntax.txt: an option before any command");
            let def = &mut defs.last_mut().expect("a definition").1;
            let words: Vec<&str> = rest.split(' ').collect();
            if words[0] == "=" {
                let count = match words[2] {
                    "1" => Count::One,
                    "?" => Count::Maybe,
                    "*" => Count::Any,
                    _ => Count::Some,
                };
                def.positional.push((words[1].to_string(), count));
            } else {
                let takes = match words[2] {
                    "flag" => Takes::Nothing,
                    "optional" => Takes::Optional,
                    _ => Takes::Value,
                };
                def.options.push(Opt {
                    names: words[0].split(',').map(str::to_string).collect(),
                    dest: words[1].to_string(),
                    takes,
                    deprecated: words.get(3) == Some(&"deprecated"),
                });
            }
        } else {
            let words: Vec<&'static str> = line.split(' ').collect();
            let usage = match words[2] {
                "single" => Use::Single,
                "multi" => Use::Multi,
                "deprecated" => Use::Deprecated,
                "section" => Use::Section,
                _ => Use::Removed,
            };
            let def = CommandDef { usage, class: words[3], options: Vec::new(), positional: Vec::new() };
            table.entry(words[0]).or_default().push((words[1].split(',').collect(), def));
        }
    }
    table
}

/// A command's definition in `version`; `None` when the version has no such command.
pub fn command(version: &str, name: &str) -> Option<&'static CommandDef> {
    table().get(name)?.iter().find(|(versions, _)| versions.contains(&version)).map(|(_, d)| d)
}

/// The command names of `version`, for "did you mean".
pub fn command_names(version: &str) -> impl Iterator<Item = &'static str> + '_ {
    table()
        .iter()
        .filter(move |(_, defs)| defs.iter().any(|(v, d)| v.contains(&version) && !matches!(d.usage, Use::Removed | Use::Section)))
        .map(|(n, _)| *n)
}

/// The pykickstart version of a family's release: `fedora` 37 → `F37`, `rocky` 9 → `RHEL9`.
pub fn version_for(family: &str, release: &str) -> Option<&'static str> {
    let wanted = match family {
        "fedora" => format!("F{release}"),
        "rocky" | "rhel" | "centos" | "alma" => format!("RHEL{}", release.split('.').next().unwrap_or(release)),
        _ => return None,
    };
    VERSIONS.iter().copied().find(|v| *v == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_reads() {
        let part = command("F37", "part").unwrap();
        assert_eq!(part.usage, Use::Multi);
        assert_eq!(part.option("--size").unwrap().unwrap().takes, Takes::Value);
        assert_eq!(part.option("--fsty").unwrap().unwrap().dest, "fstype");
        assert!(command("F37", "auth").unwrap().usage == Use::Removed);
        assert!(command("RHEL9", "auth").unwrap().free_text());
        assert_eq!(command("F37", "lang").unwrap().usage, Use::Single);
        assert!(command("F37", "nosuch").is_none());
        assert_eq!(version_for("rocky", "9"), Some("RHEL9"));
        assert_eq!(version_for("fedora", "36"), None);
    }
}
