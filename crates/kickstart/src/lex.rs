//! Splitting a line into words exactly as Python's `shlex.split(line, comments=…)` does in POSIX
//! mode, which is how pykickstart reads every command and section header: whitespace separates,
//! `'…'` quotes everything, `"…"` quotes everything but `\"` and `\\`, `\` escapes one character
//! outside quotes, and (with comments) `#` ends the line even inside a word (`foo#bar` is `foo`).
//! There is no line continuation: a `\` before the newline escapes the newline itself.

/// Why a line could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A quote opened and not closed on the line (shlex: "No closing quotation").
    UnclosedQuote(char),
    /// A `\` as the very last character (shlex: "No escaped character").
    TrailingEscape,
}

/// Python's `str.isspace()` for the characters shlex calls whitespace: shlex's own set is
/// ` \t\r\n`.
fn is_shlex_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The words of `line`, as `shlex.split(line, comments=comments)`.
pub fn split(line: &str, comments: bool) -> Result<Vec<String>, LexError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Space,
        Word,
        Quote(char),
        Escape(Back),
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Back {
        Word,
        Quote(char),
    }
    let mut words = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    let mut chars = line.chars();
    loop {
        let c = chars.next();
        match state {
            State::Space | State::Word => match c {
                None => break,
                Some(c) if is_shlex_space(c) => {
                    if state == State::Word || quoted {
                        words.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                    state = State::Space;
                }
                Some('#') if comments => {
                    // shlex reads the rest of the line as the comment, whatever state it is in.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    if state == State::Word || quoted {
                        words.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                    state = State::Space;
                }
                Some('\\') => state = State::Escape(Back::Word),
                Some(q @ ('\'' | '"')) => state = State::Quote(q),
                Some(c) => {
                    token.push(c);
                    state = State::Word;
                }
            },
            State::Quote(q) => {
                quoted = true;
                match c {
                    None => return Err(LexError::UnclosedQuote(q)),
                    Some(c) if c == q => state = State::Word,
                    Some('\\') if q == '"' => state = State::Escape(Back::Quote(q)),
                    Some(c) => token.push(c),
                }
            }
            State::Escape(back) => {
                let Some(c) = c else { return Err(LexError::TrailingEscape) };
                // Inside double quotes only the quote and the backslash itself are escaped.
                if let Back::Quote(q) = back {
                    if c != q && c != '\\' {
                        token.push('\\');
                    }
                }
                token.push(c);
                state = match back {
                    Back::Word => State::Word,
                    Back::Quote(q) => State::Quote(q),
                };
            }
        }
    }
    if state == State::Word || quoted {
        words.push(token);
    }
    Ok(words)
}

/// Python's `str.isspace()`: Unicode whitespace and the separators \x1c–\x1f.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// pykickstart's `_isBlankOrComment`: only whitespace, or a `#` after leading whitespace.
pub(crate) fn blank_or_comment(line: &str) -> bool {
    let rest = line.trim_start_matches(is_py_space);
    rest.is_empty() || rest.starts_with('#')
}

/// The first whitespace-separated word (Python's `line.split()[0]`).
pub(crate) fn first_word(line: &str) -> &str {
    line.split(is_py_space).find(|w| !w.is_empty()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split(line, true).unwrap()
    }

    #[test]
    fn words_quotes_escapes_comments() {
        assert_eq!(s("part / --size 4096\n"), ["part", "/", "--size", "4096"]);
        assert_eq!(s("a 'b c' \"d \\\" e\" f\\ g\n"), ["a", "b c", "d \" e", "f g"]);
        assert_eq!(s("a \"x\\y\"\n"), ["a", "x\\y"]);
        assert_eq!(s("a foo#bar baz\n"), ["a", "foo"]);
        assert_eq!(s("a '' b\n"), ["a", "", "b"]);
        assert_eq!(s("a''b \"#\"\n"), ["ab", "#"]);
        assert_eq!(split("a foo#bar\n", false).unwrap(), ["a", "foo#bar"]);
        assert_eq!(s("x \\\n"), ["x", "\n"]);
        assert_eq!(split("a 'b", true), Err(LexError::UnclosedQuote('\'')));
        assert_eq!(split("a b\\", true), Err(LexError::TrailingEscape));
    }
}
