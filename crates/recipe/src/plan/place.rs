//! Typed places in a plan: where an action reads or writes.
//!
//! A [`Place`] is a stage's own folder, a declared output of an earlier stage, the shared
//! cache, the project, or the build host. A [`Text`] (a program argument, a path) is literal
//! text with places in it. Both print as the placeholders people read in `liveboot plan`
//! (`{self}/rootfs`, `{customize}/vmlinuz`, `{cache}/apt`, `{project}/recipes/overlay/x`), and
//! serialize the same way, but the plan keeps them typed: [`Builder::add`](super::Builder::add)
//! checks each reference to another stage against what that stage declares, and the image
//! builder resolves them without parsing any string.

use serde::{Serialize, Serializer};

/// A place a stage reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Under the stage's own output folder (`""`: the folder itself).
    Own(String),
    /// Under an earlier stage's folder: `path`'s first component is one of the outputs that
    /// stage declares (`""`: the whole folder).
    Stage {
        /// The stage.
        stage: String,
        /// Path below its folder.
        path: String,
    },
    /// Under the builder's shared cache (package downloads).
    Cache(String),
    /// Under the project folder (recipes, kickstarts, overlays): named relative to it, so that
    /// plans, keys and manifests do not depend on where the project lies.
    Project(String),
    /// An absolute path on the build host (host tools' files, recipes outside the project).
    Host(String),
}

impl Place {
    /// A path under the stage's own folder.
    pub fn own(path: &str) -> Place {
        Place::Own(path.to_string())
    }

    /// A path under the cache folder (kept across builds: package downloads).
    pub fn cache(path: &str) -> Place {
        Place::Cache(path.to_string())
    }

    /// A path under an earlier stage's folder.
    pub fn stage(stage: &str, path: &str) -> Place {
        Place::Stage { stage: stage.to_string(), path: path.to_string() }
    }

    /// The stage this place belongs to, when it is another stage's.
    pub fn stage_name(&self) -> Option<&str> {
        match self {
            Place::Stage { stage, .. } => Some(stage),
            _ => None,
        }
    }
}

fn with(base: &str, path: &str) -> String {
    if path.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{path}")
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&match self {
            Place::Own(p) => with("{self}", p),
            Place::Stage { stage, path } => with(&format!("{{{stage}}}"), path),
            Place::Cache(p) => with("{cache}", p),
            Place::Project(p) => with("{project}", p),
            Place::Host(p) => p.clone(),
        })
    }
}

impl Serialize for Place {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Lit(String),
    /// A place, replaced by its path on the build host.
    At(Place),
}

/// Text with places in it: a program argument, a path, an environment value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub Vec<Piece>);

impl Text {
    /// Literal text, taken as it is (values written by users: titles, suites, URLs).
    pub fn lit(s: impl Into<String>) -> Text {
        Text(vec![Piece::Lit(s.into())])
    }

    /// Appends a place.
    pub fn then(mut self, place: Place) -> Text {
        self.0.push(Piece::At(place));
        self
    }

    /// This text followed by literal text.
    pub fn then_lit(mut self, s: &str) -> Text {
        self.0.push(Piece::Lit(s.to_string()));
        self
    }

    /// The places in it.
    pub fn places(&self) -> impl Iterator<Item = &Place> {
        self.0.iter().filter_map(|p| match p {
            Piece::At(place) => Some(place),
            Piece::Lit(_) => None,
        })
    }

    /// Reads the placeholder notation of module code: `{self}`, `{cache}`, `{project}` or
    /// `{STAGE}`, each followed by an optional `/path` that runs to the next space. What a
    /// placeholder names is checked when its stage is added to the plan.
    pub fn parse(text: &str) -> Text {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                lit.push_str(&rest[..open + 1]);
                rest = after;
                continue;
            }
            lit.push_str(&rest[..open]);
            let tail = &after[close + 1..];
            let (path, next) = match tail.strip_prefix('/') {
                Some(t) => {
                    let end = t.find(char::is_whitespace).unwrap_or(t.len());
                    (&t[..end], &t[end..])
                }
                None => ("", tail),
            };
            let place = match name {
                "self" => Place::own(path),
                "cache" => Place::Cache(path.to_string()),
                "project" => Place::Project(path.to_string()),
                stage => Place::stage(stage, path),
            };
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::At(place));
            rest = next;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Text(pieces)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.0 {
            match p {
                Piece::Lit(s) => f.write_str(s)?,
                Piece::At(place) => write!(f, "{place}")?,
            }
        }
        Ok(())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::parse(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::parse(&s)
    }
}

impl From<Place> for Text {
    fn from(p: Place) -> Text {
        Text(vec![Piece::At(p)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_read_as_typed_places_and_print_back_the_same() {
        for (text, places) in [
            ("{self}/rootfs", vec![Place::own("rootfs")]),
            ("--setup-hook=sync-in {cache}/apt /var/cache/apt/archives/", vec![Place::Cache("apt".into())]),
            ("{customize}/rootfs", vec![Place::stage("customize", "rootfs")]),
            ("{pxe}", vec![Place::stage("pxe", "")]),
            ("--ks={self}/flat.ks", vec![Place::own("flat.ks")]),
            ("mkdir -p \"$1\"/var/cache/apt/archives/", vec![]),
            ("a {b c} {} {x", vec![]),
        ] {
            let t = Text::parse(text);
            assert_eq!(t.places().cloned().collect::<Vec<_>>(), places, "{text}");
            assert_eq!(t.to_string(), text);
        }
    }
}
