//! Bytecode cache names (PEP 3147): which source a `__pycache__/NAME.TAG.pyc` caches and for
//! which Python. The bytecode stage, the `HYG` rules and `check`'s guess at a layer's runtimes all
//! read pyc names through this one parser.

/// A pyc in a `__pycache__` folder (PEP 3147): `DIR/__pycache__/NAME.TAG[.opt-N].pyc` caches
/// `DIR/NAME.py`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CachedPyc {
    /// The archive path of the source it caches.
    pub(crate) source: String,
    /// The cache tag (`cpython-312`).
    pub(crate) tag: String,
    /// The CPython version of a `cpython-3XY` tag.
    pub(crate) version: Option<(u32, u32)>,
    /// `1` or `2` for `.opt-1` / `.opt-2` pycs (used only under `python -O` / `-OO`).
    pub(crate) optimization: Option<String>,
}

impl CachedPyc {
    /// Recognizes the path of a pyc inside a `__pycache__` folder; anything else is `None`
    /// (including a sourceless `NAME.pyc` beside where `NAME.py` would be: that is a module).
    pub(crate) fn parse(path: &str) -> Option<CachedPyc> {
        let (cache_dir, file) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = match cache_dir.rsplit_once('/') {
            Some((dir, "__pycache__")) => dir,
            None if cache_dir == "__pycache__" => "",
            _ => return None,
        };
        let stem = file.strip_suffix(".pyc")?;
        let (stem, optimization) = match stem.rsplit_once(".opt-") {
            Some((rest, level)) if !level.contains('.') => (rest, Some(level.to_string())),
            _ => (stem, None),
        };
        let (name, tag) = stem.rsplit_once('.')?;
        if name.is_empty() || tag.is_empty() {
            return None;
        }
        let version = tag
            .strip_prefix("cpython-3")
            .filter(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|minor| minor.parse().ok())
            .map(|minor| (3, minor));
        let source = if dir.is_empty() {
            format!("{name}.py")
        } else {
            format!("{dir}/{name}.py")
        };
        Some(CachedPyc {
            source,
            tag: tag.to_string(),
            version,
            optimization,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths() {
        assert_eq!(
            CachedPyc::parse("python/pkg/__pycache__/mod.cpython-312.pyc"),
            Some(CachedPyc {
                source: "python/pkg/mod.py".into(),
                tag: "cpython-312".into(),
                version: Some((3, 12)),
                optimization: None,
            })
        );
        let opt = CachedPyc::parse("python/__pycache__/six.cpython-39.opt-2.pyc").expect("pyc");
        assert_eq!(opt.source, "python/six.py");
        assert_eq!(opt.version, Some((3, 9)));
        assert_eq!(opt.optimization.as_deref(), Some("2"));
        let pypy = CachedPyc::parse("a/__pycache__/m.pypy39.pyc").expect("pyc");
        assert_eq!((pypy.tag.as_str(), pypy.version), ("pypy39", None));
        assert_eq!(
            CachedPyc::parse("__pycache__/top.cpython-311.pyc").map(|c| c.source),
            Some("top.py".into())
        );
        assert_eq!(
            CachedPyc::parse("python/pkg/mod.pyc"),
            None,
            "sourceless module"
        );
        assert_eq!(CachedPyc::parse("python/__pycache__/mod.pyc"), None);
        assert_eq!(CachedPyc::parse("python/__pycache__/x.py"), None);
    }
}
