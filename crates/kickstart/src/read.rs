//! Reading a kickstart and the files it pulls in, line by line, each line knowing where it was
//! written and through which `%include`s.
//!
//! `%include FILE` is followed where the parser meets it (in any section, as pykickstart does),
//! relative to the folder of the file that names it. `%ksappend FILE` is expanded as anaconda
//! does before parsing: only in the kickstart given, the named file's lines in its place.

use std::path::{Path, PathBuf};

use liveboot_yaml::{Diagnostic, Span};

/// The largest kickstart file read (a bigger one is not a kickstart).
const MAX_FILE: u64 = 4 << 20;
/// How deep `%include`s may nest.
const MAX_DEPTH: usize = 32;

/// Where a line was written: its place, and the `%include` lines that led there, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The line's file and line number (column 1).
    pub span: Span,
    /// The `%include` (or `%ksappend`) lines that pulled its file in, innermost first.
    pub via: Vec<Span>,
}

impl Origin {
    /// " (included from a.ks:3, from main.ks:1)" or "".
    pub fn chain(&self) -> String {
        if self.via.is_empty() {
            return String::new();
        }
        let places: Vec<String> = self.via.iter().map(|s| format!("{}:{}", s.file.display(), s.line)).collect();
        format!(" (included from {})", places.join(", from "))
    }

    /// A diagnostic at this line, its include chain added to the message.
    pub fn error(&self, message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.span, format!("{}{}", message.into(), self.chain())).with_help(help)
    }
}

struct Frame {
    path: PathBuf,
    lines: Vec<Line>,
    next: usize,
    origin_via: Vec<Span>,
}

/// The line source of the parser: a stack of files.
pub struct Reader {
    stack: Vec<Frame>,
    confine: Option<PathBuf>,
    /// Lines of `%ksappend`ed files waiting to be read (anaconda's preprocessing).
    pub(crate) problems: Vec<Diagnostic>,
}

impl Reader {
    /// Opens the kickstart `path`. `confine`: the folder every included file must lie in.
    pub fn open(path: &Path, confine: Option<&Path>) -> Result<Reader, Diagnostic> {
        let text = read(path, None)?;
        let mut reader = Reader { stack: Vec::new(), confine: confine.map(Path::to_path_buf), problems: Vec::new() };
        let lines = split_lines(&text);
        let lines = reader.expand_ksappend(path, lines);
        reader.stack.push(Frame { path: path.to_path_buf(), lines, next: 0, origin_via: Vec::new() });
        Ok(reader)
    }

    /// The next line and where it was written; `None` at the end of the kickstart given.
    pub fn next_line(&mut self) -> Option<(String, Origin)> {
        loop {
            let frame = self.stack.last_mut()?;
            if let Some(line) = frame.lines.get(frame.next) {
                frame.next += 1;
                let (text, file, n) = match line {
                    Line::Own(t) => (t.clone(), frame.path.clone(), frame.next),
                    Line::Appended { text, file, line, .. } => (text.clone(), file.clone(), *line),
                };
                let mut via = frame.origin_via.clone();
                if let Line::Appended { site, .. } = line {
                    via.insert(0, site.clone());
                }
                return Some((text, Origin { span: Span::new(&file, n as u32, 1), via }));
            }
            self.stack.pop();
        }
    }

    /// Follows `%include name` written at `at`.
    pub fn include(&mut self, name: &str, at: &Origin) -> Result<(), Diagnostic> {
        let including = self.stack.last().map(|f| f.path.clone()).unwrap_or_default();
        let path = resolve(&including, name);
        if self.stack.len() >= MAX_DEPTH {
            return Err(at.error(format!("%include nests deeper than {MAX_DEPTH} files"), "flatten some of the included files"));
        }
        let real = path.canonicalize().ok();
        if let Some(real) = &real {
            if let Some(i) = self.stack.iter().position(|f| f.path.canonicalize().ok().as_ref() == Some(real)) {
                let cycle: Vec<String> = self.stack[i..].iter().map(|f| f.path.display().to_string()).collect();
                return Err(at.error(
                    format!("include loop: {} → {}", cycle.join(" → "), path.display()),
                    "remove the %include that closes the loop",
                ));
            }
        }
        let text = read(&path, Some((at, name, &including)))?;
        if let (Some(root), Some(_)) = (&self.confine, &real) {
            if let Some((message, help)) = liveboot_yaml::outside(&path, root, "the included file") {
                return Err(at.error(message, help));
            }
        }
        let mut via = vec![at.span.clone()];
        via.extend(at.via.iter().cloned());
        let lines = split_lines(&text);
        self.stack.push(Frame { path, lines, next: 0, origin_via: via });
        Ok(())
    }

    /// Anaconda's `%ksappend` preprocessing of the kickstart given: each line whose stripped
    /// text starts with `%ksappend` is replaced by the named file's lines.
    fn expand_ksappend(&mut self, path: &Path, lines: Vec<Line>) -> Vec<Line> {
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let Line::Own(text) = &line else { unreachable!("own lines only before expansion") };
            let stripped = text.trim_matches(crate::lex::is_py_space);
            if !stripped.starts_with("%ksappend") {
                out.push(line);
                continue;
            }
            let site = Span::new(path, i as u32 + 1, 1);
            let at = Origin { span: site.clone(), via: Vec::new() };
            let Some(name) = stripped.split_once(crate::lex::is_py_space).map(|(_, n)| n.trim_matches(crate::lex::is_py_space)) else {
                self.problems.push(at.error("%ksappend names no file", "write `%ksappend FILE`"));
                continue;
            };
            if name.contains("://") {
                self.problems.push(at.error(
                    format!("%ksappend {name}: liveboot reads kickstarts from local files only"),
                    "download the file next to the kickstart and name it there",
                ));
                continue;
            }
            let file = resolve(path, name);
            let text = match read(&file, Some((&at, name, path))) {
                Ok(t) => t,
                Err(e) => {
                    self.problems.push(e);
                    continue;
                }
            };
            if let Some(root) = &self.confine {
                if let Some((message, help)) = liveboot_yaml::outside(&file, root, "the appended file") {
                    self.problems.push(at.error(message, help));
                    continue;
                }
            }
            for (n, l) in split_lines(&text).into_iter().enumerate() {
                let Line::Own(text) = l else { unreachable!() };
                out.push(Line::Appended { text, file: file.clone(), line: n + 1, site: site.clone() });
            }
        }
        out
    }
}

enum Line {
    Own(String),
    Appended { text: String, file: PathBuf, line: usize, site: Span },
}

/// `name` relative to the folder of `including` (absolute names stay).
fn resolve(including: &Path, name: &str) -> PathBuf {
    let name = Path::new(name);
    if name.is_absolute() {
        name.to_path_buf()
    } else {
        including.parent().unwrap_or(Path::new("")).join(name)
    }
}

/// A file's text; `site`: the `%include`/`%ksappend` line naming it, for the error.
fn read(path: &Path, site: Option<(&Origin, &str, &Path)>) -> Result<String, Diagnostic> {
    let bytes_ok = liveboot_yaml::read_bounded(path, MAX_FILE);
    match (bytes_ok, site) {
        (Ok(t), _) => Ok(t),
        (Err(e), None) => Err(e),
        (Err(e), Some((at, name, including))) => {
            let folder = including.parent().map(|p| p.display().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| ".".into());
            Err(at.error(
                format!("cannot include '{name}': {}", e.message),
                format!("a relative name is looked up in the including file's folder ({folder}); {}", e.help.unwrap_or_default()),
            ))
        }
    }
}

/// Lines as Python's `splitlines(True)` gives them for `\n`-terminated text (each keeps its
/// newline, so that a script's body is written back byte for byte).
fn split_lines(text: &str) -> Vec<Line> {
    text.split_inclusive('\n').map(|l| Line::Own(l.to_string())).collect()
}
