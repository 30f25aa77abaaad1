//! A serde deserializer over [`Node`] that reports every error at the node it concerns.

use std::fmt::{self, Display};

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::{Diagnostic, Node, NodeKind, Span};

/// Deserializes a typed model from a node tree.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> std::result::Result<T, Diagnostic> {
    T::deserialize(NodeDe(node)).map_err(|e| e.into_diagnostic(&node.span))
}

#[derive(Debug)]
pub struct Error {
    span: Option<Span>,
    message: String,
    help: Option<String>,
}

impl Error {
    fn new(message: String, help: Option<String>) -> Self {
        Error { span: None, message, help }
    }

    /// Keeps the innermost location: the first node that sees an error without one claims it.
    fn or_at(mut self, span: &Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }

    fn into_diagnostic(self, fallback: &Span) -> Diagnostic {
        let e = self.or_at(fallback);
        Diagnostic { span: e.span, message: e.message, help: e.help }
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The closest candidate by edit distance, if it is close enough to be a likely typo: the one
/// "did you mean" of every message (keys, values, recipe, family, node and slice names).
pub fn closest<'a, S: AsRef<str> + ?Sized + 'a>(word: &str, candidates: impl IntoIterator<Item = &'a S>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| c.as_ref())
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn one_of(candidates: &[&str]) -> String {
    candidates.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
}

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error::new(msg.to_string(), None)
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = friendly(exp);
        Error::new(format!("expected {exp}, found {unexp}"), Some(format!("write {exp} here")))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = friendly(exp);
        Error::new(format!("invalid value {unexp}"), Some(format!("write {exp} here")))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let help = match closest(field, expected) {
            Some(c) => format!("did you mean '{c}'?"),
            None if expected.is_empty() => "remove it: this mapping takes no keys".to_string(),
            None => format!("remove it; the keys allowed here are {}", one_of(expected)),
        };
        Error::new(format!("unknown key '{field}'"), Some(help))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = match closest(variant, expected) {
            Some(c) => format!("did you mean '{c}'?"),
            None => format!("use one of {}", one_of(expected)),
        };
        Error::new(format!("unknown value '{variant}'"), Some(help))
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(format!("missing key '{field}'"), Some(format!("add '{field}:' to this mapping")))
    }
}

type Result<T> = std::result::Result<T, Error>;

/// What a node is, for "found ..." in type errors.
fn found(node: &Node) -> String {
    match &node.kind {
        _ if node.is_null() => "nothing".to_string(),
        NodeKind::Scalar { text, .. } => format!("'{text}'"),
        NodeKind::Seq(_) => "a list".to_string(),
        NodeKind::Map(_) => "a mapping".to_string(),
    }
}

/// serde names primitive expectations by their Rust type ("u32"); users read YAML, not Rust.
fn friendly(exp: &dyn de::Expected) -> String {
    let e = exp.to_string();
    let max = match e.as_str() {
        "u8" => Some(u8::MAX as u64),
        "u16" => Some(u16::MAX as u64),
        "u32" => Some(u32::MAX as u64),
        "u64" | "usize" => Some(u64::MAX),
        _ => None,
    };
    match (max, e.as_str()) {
        (Some(m), _) => format!("a whole number from 0 to {m}"),
        (None, "i8" | "i16" | "i32" | "i64" | "isize") => "a whole number".to_string(),
        (None, "f32" | "f64") => "a number".to_string(),
        _ => e,
    }
}

fn mismatch(node: &Node, exp: &dyn de::Expected) -> Error {
    let exp = friendly(exp);
    Error::new(format!("expected {exp}, found {}", found(node)), Some(format!("write {exp} here")))
}

fn core_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn core_int(text: &str) -> Option<i128> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(h) = digits.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

fn core_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ if text.bytes().any(|b| b.is_ascii_digit()) && text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => {
            text.parse().ok()
        }
        _ => None,
    }
}

struct NodeDe<'a>(&'a Node);

impl<'a> NodeDe<'a> {
    fn plain(&self) -> Option<&'a str> {
        match &self.0.kind {
            NodeKind::Scalar { text, plain: true } => Some(text),
            _ => None,
        }
    }

    fn int<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        let span = &self.0.span;
        let r = match self.plain().and_then(core_int) {
            Some(i) if i >= 0 => u64::try_from(i).map_err(|_| de::Error::custom("number too large")).and_then(|u| v.visit_u64(u)),
            Some(i) => i64::try_from(i).map_err(|_| de::Error::custom("number too small")).and_then(|n| v.visit_i64(n)),
            None => Err(mismatch(self.0, &v)),
        };
        r.map_err(|e| e.or_at(span))
    }
}

macro_rules! int_methods {
    ($($m:ident)*) => { $(fn $m<V: Visitor<'a>>(self, v: V) -> Result<V::Value> { self.int(v) })* };
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        let node = self.0;
        let r = match &node.kind {
            _ if node.is_null() => v.visit_unit(),
            NodeKind::Scalar { text, plain: true } => {
                if let Some(b) = core_bool(text) {
                    v.visit_bool(b)
                } else if core_int(text).is_some() {
                    return self.int(v);
                } else if let Some(f) = core_float(text) {
                    v.visit_f64(f)
                } else {
                    v.visit_str(text)
                }
            }
            NodeKind::Scalar { text, .. } => v.visit_str(text),
            NodeKind::Seq(items) => v.visit_seq(Seq(items.iter())),
            NodeKind::Map(entries) => v.visit_map(Map { iter: entries.iter(), value: None }),
        };
        r.map_err(|e| e.or_at(&node.span))
    }

    fn deserialize_bool<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        match self.plain().and_then(core_bool) {
            Some(b) => v.visit_bool(b),
            None => Err(mismatch(self.0, &"true or false")),
        }
        .map_err(|e| e.or_at(&self.0.span))
    }

    int_methods!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
                 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        match self.plain().and_then(core_float) {
            Some(f) => v.visit_f64(f),
            None => Err(mismatch(self.0, &v)),
        }
        .map_err(|e| e.or_at(&self.0.span))
    }

    fn deserialize_char<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    /// Any non-null scalar reads as a string: `release: 22.04` means "22.04".
    fn deserialize_str<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        match &self.0.kind {
            NodeKind::Scalar { text, .. } if !self.0.is_null() => v.visit_str(text),
            _ => Err(mismatch(self.0, &v)),
        }
        .map_err(|e| e.or_at(&self.0.span))
    }

    fn deserialize_string<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        if self.0.is_null() {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        if self.0.is_null() {
            v.visit_unit()
        } else {
            Err(mismatch(self.0, &"nothing").or_at(&self.0.span))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _: &'static str, v: V) -> Result<V::Value> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, _: &'static str, v: V) -> Result<V::Value> {
        let span = &self.0.span;
        v.visit_newtype_struct(self).map_err(|e| e.or_at(span))
    }

    fn deserialize_seq<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        match &self.0.kind {
            NodeKind::Seq(items) => v.visit_seq(Seq(items.iter())),
            _ => Err(mismatch(self.0, &"a list")),
        }
        .map_err(|e| e.or_at(&self.0.span))
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _: usize, v: V) -> Result<V::Value> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(self, _: &'static str, _: usize, v: V) -> Result<V::Value> {
        self.deserialize_seq(v)
    }

    /// A key written with nothing after it (`boot:`) reads as an empty mapping: all defaults.
    fn deserialize_map<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        match &self.0.kind {
            NodeKind::Map(entries) => v.visit_map(Map { iter: entries.iter(), value: None }),
            _ if self.0.is_null() => v.visit_map(Map { iter: [].iter(), value: None }),
            _ => Err(mismatch(self.0, &"a mapping")),
        }
        .map_err(|e| e.or_at(&self.0.span))
    }

    fn deserialize_struct<V: Visitor<'a>>(self, _: &'static str, _: &'static [&'static str], v: V) -> Result<V::Value> {
        self.deserialize_map(v)
    }

    /// Enums are written as a bare word (`bios`) or as a mapping with exactly one key naming the
    /// variant (`bootstrap: {suite: bookworm}`).
    fn deserialize_enum<V: Visitor<'a>>(self, _: &'static str, variants: &'static [&'static str], v: V) -> Result<V::Value> {
        let node = self.0;
        match &node.kind {
            NodeKind::Scalar { .. } if !node.is_null() => v.visit_enum(Enum { tag: node, content: None }),
            NodeKind::Map(entries) if entries.len() == 1 => v.visit_enum(Enum { tag: &entries[0].0, content: Some(&entries[0].1) }),
            _ => Err(Error::new(
                format!("expected one of {}, found {}", one_of(variants), found(node)),
                Some(format!("write one of {} with its settings beneath it", one_of(variants))),
            )),
        }
        .map_err(|e| e.or_at(&node.span))
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, v: V) -> Result<V::Value> {
        v.visit_unit()
    }
}

struct Seq<'a>(std::slice::Iter<'a, Node>);

impl<'a> de::SeqAccess<'a> for Seq<'a> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.0.next().map(|n| seed.deserialize(NodeDe(n))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'a> {
    iter: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'a> de::MapAccess<'a> for Map<'a> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k)).map(Some).map_err(|e| e.or_at(&k.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: de::DeserializeSeed<'a>>(&mut self, seed: T) -> Result<T::Value> {
        let v = self.value.take().expect("serde asks for a value after its key");
        seed.deserialize(NodeDe(v)).map_err(|e| e.or_at(&v.span))
    }
}

struct Enum<'a> {
    tag: &'a Node,
    content: Option<&'a Node>,
}

impl<'a> de::EnumAccess<'a> for Enum<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: de::DeserializeSeed<'a>>(self, seed: T) -> Result<(T::Value, Self)> {
        let tag = seed.deserialize(NodeDe(self.tag)).map_err(|e| e.or_at(&self.tag.span))?;
        Ok((tag, self))
    }
}

impl<'a> de::VariantAccess<'a> for Enum<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.content {
            None => Ok(()),
            Some(c) if c.is_null() => Ok(()),
            Some(c) => Err(Error::new(
                format!("'{}' takes no settings", self.tag.as_str().unwrap_or_default()),
                Some("remove the settings beneath it".to_string()),
            )
            .or_at(&c.span)),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value> {
        match self.content {
            Some(c) => seed.deserialize(NodeDe(c)),
            None => seed.deserialize(().into_deserializer()).map_err(|e: Error| e.or_at(&self.tag.span)),
        }
    }

    fn tuple_variant<V: Visitor<'a>>(self, _: usize, v: V) -> Result<V::Value> {
        match self.content {
            Some(c) => de::Deserializer::deserialize_seq(NodeDe(c), v),
            None => Err(mismatch(self.tag, &"a list").or_at(&self.tag.span)),
        }
    }

    fn struct_variant<V: Visitor<'a>>(self, _: &'static [&'static str], v: V) -> Result<V::Value> {
        match self.content {
            Some(c) => de::Deserializer::deserialize_map(NodeDe(c), v),
            None => v.visit_map(Map { iter: [].iter(), value: None }).map_err(|e| e.or_at(&self.tag.span)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::path::Path;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Boot {
        kernel_args: Vec<String>,
        #[serde(default)]
        timeout: u32,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Bios,
        Uefi,
    }

    fn load(t: &str) -> std::result::Result<Boot, String> {
        let n = crate::parse_str(t, Path::new("r.yaml")).unwrap();
        from_node(&n).map_err(|d| d.to_string())
    }

    #[test]
    fn typo_in_a_key_suggests_the_right_one() {
        assert_eq!(
            load("kernel_args: []\nkernal_arg: [x]\n").unwrap_err(),
            "r.yaml:2:1: unknown key 'kernal_arg'\n  help: did you mean 'kernel_args'?"
        );
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        assert_eq!(
            load("kernel_args: []\ntimeout: soon\n").unwrap_err(),
            "r.yaml:2:10: expected a whole number from 0 to 4294967295, found 'soon'\n  help: write a whole number from 0 to 4294967295 here"
        );
    }

    #[test]
    fn numbers_read_as_strings_when_a_string_is_wanted() {
        assert_eq!(load("kernel_args: [1, 22.04]\n").unwrap().kernel_args, vec!["1", "22.04"]);
    }

    #[test]
    fn unknown_enum_value_suggests() {
        assert_eq!(load("kernel_args: []\nmode: uefl\n").unwrap_err(), "r.yaml:2:7: unknown value 'uefl'\n  help: did you mean 'uefi'?");
    }

    #[test]
    fn missing_key_points_at_the_mapping() {
        assert_eq!(load("timeout: 3\n").unwrap_err(), "r.yaml:1:1: missing key 'kernel_args'\n  help: add 'kernel_args:' to this mapping");
    }
}
