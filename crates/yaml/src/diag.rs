use std::fmt;
use std::path::Path;

use crate::Span;

/// One error in a configuration file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is; `None` only for errors about no particular place.
    pub span: Option<Span>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a place in a file.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Diagnostic { span: Some(span.clone()), message: message.into(), help: None }
    }

    /// A diagnostic about a whole file (reported at line 1, column 1).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic::at(&Span::new(path, 1, 1), message)
    }

    /// A diagnostic with no location.
    pub fn nowhere(message: impl Into<String>) -> Self {
        Diagnostic { span: None, message: message.into(), help: None }
    }

    /// Adds the fix.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = &self.span {
            write!(f, "{span}: ")?;
        }
        f.write_str(&printable(&self.message))?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {}", printable(help))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// A message with the control characters of the values quoted in it escaped: a value from a
/// file must not move the cursor, clear the screen or start a new line on the user's terminal.
fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect::<String>().into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        let d = super::Diagnostic::nowhere("'a\x1b[2Jb\nc' is bad").with_help("x\ty");
        assert_eq!(d.to_string(), "'a\\u{1b}[2Jb\\nc' is bad\n  help: x\\ty");
    }
}

/// Several diagnostics, reported together (validation goes on after the first problem so that a
/// user fixes a file in one pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}
