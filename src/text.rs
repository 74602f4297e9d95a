//! Text that reaches a terminal or a shell: names read from a layer are data anyone can write, so
//! they are shown with control characters escaped, and paths in suggested commands are quoted.
//! It sits below the rules and the report so that both can use it.

/// `a`, `a and b`, `a, b and c`: a list in a message.
pub(crate) fn and_list(items: &[impl AsRef<str>]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

/// Shows control characters (escape sequences, carriage returns, newlines, …) as `\x1b`-style
/// escapes: a file name in a layer must not be able to clear the screen, recolour the output or
/// forge a line such as `0 errors` on the terminal or in a CI log.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls_but(text, &[])
}

/// [`escape_controls`], leaving the characters of `kept` as they are.
pub(crate) fn escape_controls_but<'a>(text: &'a str, kept: &[char]) -> std::borrow::Cow<'a, str> {
    let escaped_here = |c: char| c.is_control() && !kept.contains(&c);
    if !text.chars().any(escaped_here) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped_here(c) {
            let code = u32::from(c);
            if code < 0x100 {
                escaped.push_str(&format!("\\x{code:02x}"));
            } else {
                escaped.push_str(&format!("\\u{{{code:04x}}}"));
            }
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// A path quoted for a POSIX shell when it needs it (`'a b.py'`), so that a suggested command
/// can be pasted as it is; names with control characters are shown escaped instead, since no
/// quoting makes them safe to paste.
pub(crate) fn shell_quote(path: &str) -> String {
    if path.chars().any(char::is_control) {
        return escape_controls(path).into_owned();
    }
    shlex::try_quote(path).map_or_else(|_| path.to_string(), |quoted| quoted.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_english() {
        assert_eq!(and_list(&[] as &[&str]), "");
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b"]), "a and b");
        assert_eq!(
            and_list(&["a".to_string(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }

    #[test]
    fn suggested_paths_are_shell_quoted() {
        assert_eq!(shell_quote("python/app.py"), "python/app.py");
        assert_eq!(
            shell_quote("python/x $(touch pwned).py"),
            "'python/x $(touch pwned).py'"
        );
        assert_eq!(shell_quote("a\x1bb"), "a\\x1bb");
    }
}
