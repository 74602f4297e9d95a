//! `.layerignore` and `ignore = [...]`: gitignore semantics on top of globset.
//!
//! Users already know gitignore, so the syntax is the same: `#` comments, `!` re-includes, `**`,
//! a leading `/` (or any inner `/`) anchors a pattern to its base, a trailing `/` matches folders
//! only, and the last matching pattern wins. Every pattern remembers the file and line it came
//! from, so `build --list --ignored` can say exactly which line left a path out.
//!
//! Bases: patterns of a `.layerignore` in a source root match paths relative to that root;
//! patterns of `layer.toml`'s `ignore`, of the `.layerignore` beside it, and the defaults match
//! archive paths (the path inside the layer). The gather stage asks the most specific matcher
//! first; the first one with an opinion decides, as git does across nested ignore files.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::Error;

/// The name of an ignore file.
pub(crate) const FILE_NAME: &str = ".layerignore";

/// Patterns every build applies unless a later pattern re-includes the path.
pub(crate) const DEFAULT_PATTERNS: &[&str] = &[
    ".git/",
    ".hg/",
    ".svn/",
    ".DS_Store",
    "Thumbs.db",
    "__MACOSX/",
    ".layerignore",
];

/// Where a pattern was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternOrigin {
    /// The file (`<default>` for built-in defaults).
    pub(crate) file: PathBuf,
    /// 1-based line number (for `ignore = [...]`, the position in the list).
    pub(crate) line: usize,
    /// The pattern as written.
    pub(crate) text: String,
}

struct Pattern {
    origin: PatternOrigin,
    negated: bool,
    dir_only: bool,
}

/// The decision of one matcher for one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<'a> {
    /// A pattern excludes the path.
    Ignore(&'a PatternOrigin),
    /// A `!` pattern re-includes it.
    Include(&'a PatternOrigin),
    /// No pattern matches.
    None,
}

/// The patterns of one source (a file, a list, or the defaults), compiled into one glob set.
pub struct Matcher {
    patterns: Vec<Pattern>,
    set: GlobSet,
}

impl Matcher {
    /// Compiles the built-in defaults.
    pub(crate) fn defaults() -> Matcher {
        let lines: Vec<(usize, String)> = DEFAULT_PATTERNS
            .iter()
            .enumerate()
            .map(|(index, text)| (index + 1, text.to_string()))
            .collect();
        // The defaults are constants known to compile.
        Matcher::compile(Path::new("<default>"), &lines).unwrap_or_else(|_| Matcher::empty())
    }

    /// A matcher with no patterns.
    pub(crate) fn empty() -> Matcher {
        Matcher {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }

    /// Reads an ignore file; a missing file gives an empty matcher.
    pub(crate) fn from_file(path: &Path) -> Result<Matcher, Error> {
        // A FIFO or `/dev/zero` named `.layerignore` must not hang or exhaust memory.
        let text = match crate::files::read_text_capped(path, crate::files::MAX_TEXT_FILE) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Matcher::empty()),
            Err(err) => return Err(Error::read(path, err)),
        };
        let lines: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.to_string()))
            .collect();
        Matcher::compile(path, &lines)
    }

    /// Compiles a list of patterns (`ignore = [...]`); positions count as line numbers.
    pub fn from_list(origin: &Path, patterns: &[String]) -> Result<Matcher, Error> {
        let lines: Vec<(usize, String)> = patterns
            .iter()
            .enumerate()
            .map(|(index, text)| (index + 1, text.clone()))
            .collect();
        Matcher::compile(origin, &lines)
    }

    fn compile(file: &Path, lines: &[(usize, String)]) -> Result<Matcher, Error> {
        let mut patterns = Vec::new();
        let mut builder = GlobSetBuilder::new();
        for (line, raw) in lines {
            let Some(parsed) = parse_line(raw) else {
                continue;
            };
            let glob = GlobBuilder::new(&parsed.glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|err| {
                    Error::input(
                        format!(
                            "{}:{line}: invalid ignore pattern `{}`: {}",
                            file.display(),
                            raw.trim(),
                            err.kind()
                        ),
                        Some(
                            "patterns use gitignore syntax (`*`, `**`, `?`, `[a-z]`, `!`)"
                                .to_string(),
                        ),
                    )
                })?;
            builder.add(glob);
            patterns.push(Pattern {
                origin: PatternOrigin {
                    file: file.to_path_buf(),
                    line: *line,
                    text: raw.trim().to_string(),
                },
                negated: parsed.negated,
                dir_only: parsed.dir_only,
            });
        }
        let set = builder.build().map_err(|err| {
            Error::input(
                format!("{}: invalid ignore patterns: {err}", file.display()),
                None,
            )
        })?;
        Ok(Matcher { patterns, set })
    }

    /// Decides for a `/`-separated path relative to this matcher's base: the last matching
    /// pattern wins.
    pub fn decide(&self, path: &str, is_dir: bool) -> Decision<'_> {
        if self.patterns.is_empty() {
            return Decision::None;
        }
        let matches = self.set.matches(path);
        for index in matches.into_iter().rev() {
            let pattern = &self.patterns[index];
            if pattern.dir_only && !is_dir {
                continue;
            }
            return if pattern.negated {
                Decision::Include(&pattern.origin)
            } else {
                Decision::Ignore(&pattern.origin)
            };
        }
        Decision::None
    }
}

struct ParsedLine {
    glob: String,
    negated: bool,
    dir_only: bool,
}

/// Turns one gitignore line into a glob; `None` for blanks and comments.
fn parse_line(raw: &str) -> Option<ParsedLine> {
    let line = trim_trailing_spaces(raw.strip_suffix('\r').unwrap_or(raw));
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (negated, line) = match line.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    // `\#` and `\!` escape a leading special character.
    let line = if line.starts_with("\\#") || line.starts_with("\\!") {
        &line[1..]
    } else {
        line
    };
    let (dir_only, line) = match line.strip_suffix('/') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if line.is_empty() {
        return None;
    }
    let anchored = line.contains('/');
    let body = line.strip_prefix('/').unwrap_or(line);
    let glob = if anchored || body.starts_with("**/") {
        body.to_string()
    } else {
        format!("**/{body}")
    };
    Some(ParsedLine {
        glob,
        negated,
        dir_only,
    })
}

/// Removes trailing spaces unless escaped with a backslash (gitignore rule).
fn trim_trailing_spaces(line: &str) -> &str {
    let mut end = line.len();
    while end > 0 && line.as_bytes()[end - 1] == b' ' {
        if end >= 2 && line.as_bytes()[end - 2] == b'\\' {
            break;
        }
        end -= 1;
    }
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(lines: &[&str]) -> Matcher {
        let lines: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
        Matcher::from_list(Path::new("test"), &lines).expect("valid patterns")
    }

    fn ignored(matcher: &Matcher, path: &str, is_dir: bool) -> bool {
        matches!(matcher.decide(path, is_dir), Decision::Ignore(_))
    }

    #[test]
    fn unanchored_patterns_match_at_any_depth() {
        let m = matcher(&["*.md", "tests/"]);
        assert!(ignored(&m, "README.md", false));
        assert!(ignored(&m, "python/pkg/NOTES.md", false));
        assert!(ignored(&m, "python/pkg/tests", true));
        assert!(!ignored(&m, "python/pkg/tests", false), "dir-only pattern");
        assert!(!ignored(&m, "python/pkg/md", false));
    }

    #[test]
    fn anchored_patterns_match_from_the_base() {
        let m = matcher(&["/build", "docs/*.txt"]);
        assert!(ignored(&m, "build", true));
        assert!(!ignored(&m, "src/build", true));
        assert!(ignored(&m, "docs/a.txt", false));
        assert!(!ignored(&m, "docs/sub/a.txt", false), "* does not cross /");
        assert!(!ignored(&m, "x/docs/a.txt", false));
    }

    #[test]
    fn double_star_and_negation() {
        let m = matcher(&["**/__pycache__/", "logs/**", "*.txt", "!keep.txt"]);
        assert!(ignored(&m, "a/b/__pycache__", true));
        assert!(ignored(&m, "logs/a/b.log", false));
        assert!(ignored(&m, "notes.txt", false));
        assert!(matches!(
            m.decide("keep.txt", false),
            Decision::Include(origin) if origin.line == 4
        ));
    }

    #[test]
    fn comments_blanks_and_escapes() {
        let m = matcher(&["# comment", "", "\\#hash", "trailing   ", "\\!bang"]);
        assert!(ignored(&m, "#hash", false));
        assert!(ignored(&m, "trailing", false));
        assert!(ignored(&m, "!bang", false));
        assert!(!ignored(&m, "comment", false));
    }

    #[test]
    fn the_last_matching_pattern_wins_and_names_its_line() {
        let m = matcher(&["*.py", "!keep.py", "keep.py"]);
        match m.decide("keep.py", false) {
            Decision::Ignore(origin) => {
                assert_eq!(origin.line, 3);
                assert_eq!(origin.text, "keep.py");
            }
            other => panic!("expected ignore, got {other:?}"),
        }
    }

    #[test]
    fn defaults_drop_vcs_and_os_junk() {
        let m = Matcher::defaults();
        assert!(ignored(&m, ".git", true));
        assert!(ignored(&m, "python/.DS_Store", false));
        assert!(ignored(&m, "__MACOSX", true));
        assert!(ignored(&m, "python/.layerignore", false));
        assert!(!ignored(&m, "python/git.py", false));
    }

    #[test]
    fn the_shipped_example_compiles_and_does_what_it_says() {
        let lines: Vec<String> = include_str!("../.layerignore.example")
            .lines()
            .map(str::to_string)
            .collect();
        let m = Matcher::from_list(Path::new(".layerignore.example"), &lines).expect("compiles");
        assert!(ignored(&m, "python/pandas/tests", true));
        assert!(ignored(&m, "python/pkg/README.md", false));
        assert!(!ignored(&m, "python/pkg/LICENSE.md", false));
        assert!(ignored(&m, "python/.env", false));
        assert!(!ignored(&m, "python/.env.example", false));
        assert!(!ignored(&m, "python/pkg/__pycache__", true));
        assert!(!ignored(&m, "python/pkg/core.py", false));
    }

    #[test]
    fn invalid_pattern_names_file_and_line() {
        let err = Matcher::from_list(Path::new("layer.toml"), &["ok".into(), "a[".into()])
            .err()
            .expect("invalid glob");
        assert!(err.to_string().contains("layer.toml:2"), "{err}");
    }
}
