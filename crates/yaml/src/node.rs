use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::Diagnostic;

/// A place in a file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file, as the user named it (relative paths stay relative, so messages stay short).
    pub file: Arc<Path>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

impl Span {
    /// A span at `line`:`col` of `file`.
    pub fn new(file: &Path, line: u32, col: u32) -> Self {
        Span { file: Arc::from(file), line, col }
    }

    /// Resolves a path written in this file: relative paths are taken from the file's folder.
    pub fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new("")).join(p)
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A YAML value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub kind: NodeKind,
    /// Where it starts.
    pub span: Span,
}

/// The shapes a YAML value can take. Scalars keep their source text: whether `22.04` is a number
/// or a string is decided by the type that reads it, as YAML 1.2's core schema allows.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are strings (checked at parse time).
    Map(Vec<(Node, Node)>),
}

/// One step of a path into a tree: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index, from 0.
    Index(usize),
}

impl From<&str> for PathSeg {
    fn from(s: &str) -> Self {
        PathSeg::Key(s.to_string())
    }
}

impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

impl Node {
    /// A short name of the node's type for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// True for YAML 1.2 core-schema null: empty, `~`, `null` (plain).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under `key` of a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// Removes `key` from a mapping and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let NodeKind::Map(entries) = &mut self.kind else {
            return None;
        };
        let i = entries.iter().position(|(k, _)| k.as_str() == Some(key))?;
        Some(entries.remove(i).1)
    }

    /// The value under `key` of a mapping, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.kind {
            NodeKind::Map(entries) => entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Follows `path` as far as it goes and returns the deepest node reached: a validation error
    /// about a value that was never written (a default) points at its nearest written parent.
    pub fn locate(&self, path: &[PathSeg]) -> &Node {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.kind) {
                (PathSeg::Key(k), NodeKind::Map(_)) => node.get(k),
                (PathSeg::Index(i), NodeKind::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// Like [`Node::locate`] but for a key itself: points at the key text, not its value.
    pub fn locate_key(&self, path: &[PathSeg]) -> &Span {
        if let Some((PathSeg::Key(last), parent)) = path.split_last() {
            let p = self.locate(parent);
            if let Some((k, _)) = p.entry(last) {
                return &k.span;
            }
            return &p.span;
        }
        &self.locate(path).span
    }
}

/// Merges `child` over `parent`: mappings merge key by key (recursively), everything else in the
/// child replaces the parent's value. Every node keeps the span of the file it came from.
pub fn merge(parent: Node, child: Node) -> Node {
    match (parent.kind, child.kind) {
        (NodeKind::Map(mut base), NodeKind::Map(over)) => {
            for (k, v) in over {
                let key = k.as_str().map(str::to_string);
                match base.iter().position(|(bk, _)| bk.as_str().map(str::to_string) == key) {
                    Some(i) => {
                        let (_, old) = base.remove(i);
                        base.insert(i, (k, merge(old, v)));
                    }
                    None => base.push((k, v)),
                }
            }
            Node { kind: NodeKind::Map(base), span: child.span }
        }
        (_, kind) => Node { kind, span: child.span },
    }
}

/// Parses one YAML document. Rejects multi-document streams, tags, duplicate keys and non-string
/// keys, all with their location.
pub fn parse_str(text: &str, file: &Path) -> Result<Node, Diagnostic> {
    let mut b = Builder { file, anchors: HashMap::new(), stack: Vec::new(), root: None, docs: 0, values: 0 };
    let mut parser = Parser::new_from_str(text);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            Diagnostic::at(&b.span(m.line(), m.col()), format!("invalid YAML: {}", e.info()))
                .with_help("fix the YAML syntax at this place (indentation, a missing ':' or quote)")
        })?;
        b.event(ev, b.span(span.start.line(), span.start.col()))?;
    }
    b.root.ok_or_else(|| Diagnostic::file(file, "the file is empty").with_help("write the settings as a YAML mapping"))
}

/// The most values (scalars and collections, those copied by aliases included) one file may
/// hold. Liveboot's files hold hundreds; aliases of aliases multiply (nine levels of ten are a
/// billion values from 400 bytes), so they are counted as they are copied, before any memory
/// is spent on them.
pub const MAX_VALUES: usize = 100_000;

/// An open collection: the node under construction, its anchor id, a pending mapping key, and
/// the keys seen so far with their lines (duplicates are found in constant time).
type Open = (Node, usize, Option<Node>, HashMap<String, u32>);

struct Builder<'f> {
    file: &'f Path,
    /// Anchored values and how many values each holds.
    anchors: HashMap<usize, (Node, usize)>,
    stack: Vec<Open>,
    root: Option<Node>,
    docs: usize,
    /// Values so far, those copied by aliases included.
    values: usize,
}

/// How many values a node holds (itself and everything under it).
fn count(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.iter().map(count).sum(),
        NodeKind::Map(entries) => entries.iter().map(|(k, v)| count(k) + count(v)).sum(),
    }
}

impl Builder<'_> {
    fn span(&self, line: usize, col: usize) -> Span {
        Span::new(self.file, line as u32, col as u32 + 1)
    }

    /// Counts `n` more values; too many is an error at `span`.
    fn grow(&mut self, n: usize, span: &Span) -> Result<(), Diagnostic> {
        self.values = self.values.saturating_add(n);
        if self.values > MAX_VALUES {
            return Err(Diagnostic::at(span, format!("this file holds more than {MAX_VALUES} values (counting what aliases copy)"))
                .with_help("write the values out instead of nesting aliases (*name) of aliases, or split the file"));
        }
        Ok(())
    }

    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match &ev {
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => self.grow(1, &span)?,
            Event::Alias(id) => {
                let size = self.anchors.get(id).map(|(_, size)| *size).unwrap_or(0);
                // An alias is a copy of everything its anchor holds.
                self.grow(size, &span)?;
            }
            _ => {}
        }
        match ev {
            Event::DocumentStart(_) => {
                self.docs += 1;
                if self.docs > 1 {
                    return Err(Diagnostic::at(&span, "more than one YAML document in the file")
                        .with_help("remove the second '---' and everything after it, or move it to its own file"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                reject_tag(tag.is_some(), &span)?;
                let plain = matches!(style, ScalarStyle::Plain);
                let node = Node { kind: NodeKind::Scalar { text: text.into_owned(), plain }, span };
                self.remember(anchor, &node);
                self.push_value(node)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).map(|(n, _)| n.clone()).ok_or_else(|| {
                    Diagnostic::at(&span, "alias to an unknown anchor").with_help("define the anchor (&name) before using it (*name)")
                })?;
                self.push_value(node)?;
            }
            Event::SequenceStart(anchor, tag) => {
                reject_tag(tag.is_some(), &span)?;
                self.stack.push((Node { kind: NodeKind::Seq(Vec::new()), span }, anchor, None, HashMap::new()));
            }
            Event::MappingStart(anchor, tag) => {
                reject_tag(tag.is_some(), &span)?;
                self.stack.push((Node { kind: NodeKind::Map(Vec::new()), span }, anchor, None, HashMap::new()));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, _, _) = self.stack.pop().expect("parser balances collections");
                self.remember(anchor, &node);
                self.push_value(node)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), count(node)));
        }
    }

    fn push_value(&mut self, node: Node) -> Result<(), Diagnostic> {
        let Some((parent, _, pending_key, keys)) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut parent.kind {
            NodeKind::Seq(items) => items.push(node),
            NodeKind::Map(entries) => match pending_key.take() {
                None => {
                    let Some(key) = node.as_str() else {
                        return Err(Diagnostic::at(&node.span, "a mapping key must be a plain string")
                            .with_help("write the key as a word followed by ':'"));
                    };
                    if let Some(first) = keys.get(key) {
                        return Err(Diagnostic::at(&node.span, format!("duplicate key '{key}' (first written at line {first})"))
                            .with_help("keep only one of the two"));
                    }
                    keys.insert(key.to_string(), node.span.line);
                    *pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
            NodeKind::Scalar { .. } => unreachable!("scalars are never on the stack"),
        }
        Ok(())
    }
}

fn reject_tag(tagged: bool, span: &Span) -> Result<(), Diagnostic> {
    if tagged {
        return Err(Diagnostic::at(span, "YAML tags (!tag) are not supported here")
            .with_help("remove the tag; quote the value if it must be a string"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Node, Diagnostic> {
        parse_str(t, Path::new("t.yaml"))
    }

    #[test]
    fn spans_are_one_based_and_point_at_values() {
        let n = parse("a: 1\nb:\n  c: [x, y]\n").unwrap();
        let c = n.locate(&["b".into(), "c".into(), 1.into()]);
        assert_eq!(c.span.to_string(), "t.yaml:3:10");
        assert_eq!(n.locate_key(&["b".into(), "c".into()]).to_string(), "t.yaml:3:3");
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_places() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.to_string(), "t.yaml:3:1: duplicate key 'a' (first written at line 1)\n  help: keep only one of the two");
    }

    #[test]
    fn aliases_copy_the_anchored_value() {
        let n = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(n.get("a").unwrap().kind, n.get("b").unwrap().kind);
    }

    #[test]
    fn merge_keeps_the_origin_of_each_value() {
        let parent = parse_str("a: {x: 1, y: 2}\nl: [1]\n", Path::new("p.yaml")).unwrap();
        let child = parse_str("a: {y: 3}\nl: [2, 3]\n", Path::new("c.yaml")).unwrap();
        let m = merge(parent, child);
        assert_eq!(m.locate(&["a".into(), "x".into()]).span.file.as_ref(), Path::new("p.yaml"));
        assert_eq!(m.locate(&["a".into(), "y".into()]).span.file.as_ref(), Path::new("c.yaml"));
        assert!(matches!(&m.get("l").unwrap().kind, NodeKind::Seq(v) if v.len() == 2));
    }

    #[test]
    fn empty_file_and_second_document_are_errors() {
        assert!(parse("").unwrap_err().to_string().contains("the file is empty"));
        assert!(parse("a: 1\n---\nb: 2\n").unwrap_err().to_string().starts_with("t.yaml:2:1: more than one"));
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn nested_aliases_are_refused_before_they_take_memory() {
        // Nine levels of ten aliases: a billion values from a few hundred bytes.
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let e = parse_str(&text, Path::new("bomb.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("bomb.yaml:5:") && e.contains("more than 100000 values"), "{e}");
        // A few aliases are fine.
        let n = parse_str("base: &b {x: 1, y: [1, 2]}\nother: *b\nthird: *b\n", Path::new("ok.yaml")).unwrap();
        assert_eq!(count(&n), 1 + 3 + 3 * 7);
    }

    #[test]
    fn duplicate_keys_are_found_among_many() {
        let mut text: String = (0..40_000).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse_str(&text, Path::new("many.yaml")).is_ok());
        text.push_str("k17: again\n");
        let e = parse_str(&text, Path::new("many.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("many.yaml:40001:1: duplicate key 'k17' (first written at line 18)"), "{e}");
    }
}
