//! The one table of Lambda runtime facts.
//!
//! Every other module asks this table where a runtime looks inside `/opt`, which operating system
//! (and so which glibc) it runs on, and which folder names belong to it. Nothing else hard-codes a
//! runtime identifier, a `python3.N` folder or a glibc version, so adding a runtime is one row here
//! (and its dump in [`crate::facts`]).
//!
//! Sources: AWS Lambda "Packaging your layer content", "Lambda runtimes" and "Lambda quotas" pages.
//! What the dumps record is not written here: a runtime's OS and language version, its `PATH`,
//! `LD_LIBRARY_PATH` and language search paths (`NODE_PATH`, `GEM_PATH`, `RUBYLIB`, `sys.path`),
//! and what it already provides (libraries, commands, glibc and libstdc++ versions, bundled
//! packages) come from the in-Lambda dumps through [`crate::facts`].

use std::fmt;

use crate::facts::RuntimeFacts;
pub(crate) use crate::facts::environment;
/// The platform types are defined with the dumps that describe them, in [`crate::facts`]; every
/// stage names them with the runtime.
pub use crate::facts::{Arch, GlibcVersion, Os};

/// The language family of a runtime: decides which folders of a layer it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Family {
    Python,
    Nodejs,
    Ruby,
    Java,
    /// OS-only runtimes (`provided.al2`, `provided.al2023`): only `bin/` and `lib/` matter.
    Provided,
}

/// One Lambda runtime identifier and what it implies. Its OS and language version are read from
/// the in-Lambda dumps (`Runtime::os`, `Runtime::version`), not written here.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Runtime {
    /// The identifier AWS uses (`python3.12`, `nodejs20.x`, `provided.al2023`).
    pub id: &'static str,
    pub(crate) family: Family,
}

const fn rt(id: &'static str, family: Family) -> Runtime {
    Runtime { id, family }
}

use Family::*;

/// Every runtime layerpack knows, in AWS's order within each family. Each must have a dump in
/// [`crate::facts`] (a test checks it).
pub static RUNTIMES: &[Runtime] = &[
    rt("python3.9", Python),
    rt("python3.10", Python),
    rt("python3.11", Python),
    rt("python3.12", Python),
    rt("python3.13", Python),
    rt("python3.14", Python),
    rt("nodejs18.x", Nodejs),
    rt("nodejs20.x", Nodejs),
    rt("nodejs22.x", Nodejs),
    rt("nodejs24.x", Nodejs),
    rt("ruby3.2", Ruby),
    rt("ruby3.3", Ruby),
    rt("ruby3.4", Ruby),
    rt("ruby4.0", Ruby),
    rt("java8.al2", Java),
    rt("java8.al2023", Java),
    rt("java11", Java),
    rt("java11.al2023", Java),
    rt("java17", Java),
    rt("java17.al2023", Java),
    rt("java21", Java),
    rt("java25", Java),
    rt("provided.al2", Provided),
    rt("provided.al2023", Provided),
];

/// Folders every runtime reads: `bin` is on `PATH`, `lib` on `LD_LIBRARY_PATH`.
pub(crate) const COMMON_DIRS: &[&str] = &["bin", "lib"];

impl Runtime {
    /// The Amazon Linux release the runtime runs on (so its glibc), as its dump records it.
    pub(crate) fn os(&self) -> Os {
        self.facts().os()
    }

    /// Language version, as the runtime's dump records it: (3, 12) for python3.12, (20, 0) for
    /// nodejs20.x, (3, 3) for ruby3.3, (21, 0) for java21, (0, 0) for provided runtimes.
    pub(crate) fn version(&self) -> (u32, u32) {
        self.facts().language_version()
    }

    /// What the in-Lambda dumps record of this runtime: its OS, search paths, libraries,
    /// commands and bundled packages. Every runtime of [`RUNTIMES`] has a dump (a test checks
    /// it), so a missing one is a bug of this table or of the generator, not of user input.
    pub fn facts(&self) -> &'static RuntimeFacts {
        crate::facts::runtime(self.id).unwrap_or_else(|| {
            panic!(
                "no runtime facts for {}: regenerate src/facts/generated.rs",
                self.id
            )
        })
    }

    /// Libraries the runtime's process has loaded before any user code, so a `DT_NEEDED` on
    /// their SONAME is satisfied without a search: the JVM loads `libjvm.so` from
    /// `/var/lang/lib/server/` (not on `LD_LIBRARY_PATH`) before it loads any JNI library. Not a
    /// file-system fact, so it is kept here rather than in the dumps.
    pub(crate) fn loaded_libraries(&self) -> &'static [&'static str] {
        match self.family {
            Java => &["libjvm.so"],
            _ => &[],
        }
    }

    /// Looks up an AWS runtime identifier.
    pub fn find(id: &str) -> Option<&'static Runtime> {
        RUNTIMES.iter().find(|runtime| runtime.id == id)
    }

    /// All identifiers, for error messages.
    pub(crate) fn known_ids() -> String {
        RUNTIMES
            .iter()
            .map(|runtime| runtime.id)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The folders inside the layer (paths as in the zip, no leading `/opt`) that this runtime
    /// searches for its language's packages, in lookup order. `bin` and `lib` are not included;
    /// see [`COMMON_DIRS`].
    pub(crate) fn package_dirs(&self) -> Vec<String> {
        match self.family {
            Python => vec![self.python_site_packages(), "python".to_string()],
            Nodejs => vec![
                format!("nodejs/node{}/node_modules", self.version().0),
                "nodejs/node_modules".to_string(),
            ],
            Ruby => vec![self.ruby_gem_dir(), "ruby/lib".to_string()],
            Java => vec!["java/lib".to_string()],
            Provided => Vec::new(),
        }
    }

    /// `python/lib/python3.N/site-packages` for a Python runtime.
    pub(crate) fn python_site_packages(&self) -> String {
        format!(
            "python/lib/python{}.{}/site-packages",
            self.version().0,
            self.version().1
        )
    }

    /// `ruby/gems/X.Y.0`: the gem ABI folder (`GEM_PATH`) of a Ruby runtime.
    pub(crate) fn ruby_gem_dir(&self) -> String {
        format!("ruby/gems/{}.{}.0", self.version().0, self.version().1)
    }

    /// `/var/lang/lib/ruby/gems/X.Y.0`: where a Ruby runtime's interpreter keeps its default and
    /// bundled gems (in `gems/`, as the in-Lambda dumps list them). Not on `GEM_PATH`.
    pub(crate) fn ruby_interpreter_gem_dir(&self) -> String {
        format!("/var/lang/lib/{}", self.ruby_gem_dir())
    }

    /// The top-level folder of the layer that belongs to this runtime's language.
    pub(crate) fn language_root(&self) -> Option<&'static str> {
        match self.family {
            Python => Some("python"),
            Nodejs => Some("nodejs"),
            Ruby => Some("ruby"),
            Java => Some("java"),
            Provided => None,
        }
    }
}

/// What Lambda itself starts, before any import: the custom runtime's `bootstrap`, the external
/// extensions, and the exec wrapper script.
///
/// Sources: AWS Lambda "Building a custom runtime" (an OS-only runtime runs the function's
/// `bootstrap`, else the first layer-provided `/opt/bootstrap`; the error when neither exists is
/// `Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]`), "Lambda extensions
/// API" (every file directly in `/opt/extensions` is started at init, in every runtime; at most
/// 10 extensions per function), and "Modifying the runtime environment" (`AWS_LAMBDA_EXEC_WRAPPER`
/// names a script that the managed runtimes run in place of their own start-up command; the
/// OS-only runtimes ignore it).
pub(crate) mod entry_points {
    /// Where an OS-only runtime looks for the custom runtime, in order: the first that exists
    /// is run.
    pub(crate) const BOOTSTRAP_PATHS: &[&str] = &["/var/task/bootstrap", "/opt/bootstrap"];
    /// The bootstrap's archive path inside a layer (or the function's code).
    pub(crate) const BOOTSTRAP: &str = "bootstrap";
    /// The folder of a layer whose files (directly in it) Lambda starts as external extensions.
    pub(crate) const EXTENSIONS_DIR: &str = "extensions";
    /// External extensions one function may have, over all its layers.
    pub(crate) const MAX_EXTENSIONS: usize = 10;
    /// The environment variable that names the exec wrapper script.
    pub(crate) const EXEC_WRAPPER_VAR: &str = "AWS_LAMBDA_EXEC_WRAPPER";
}

impl Runtime {
    /// True for the OS-only runtimes, which run a `bootstrap` from the function or a layer; the
    /// managed runtimes run their own and ignore a layer's.
    pub(crate) fn runs_bootstrap(&self) -> bool {
        self.family == Provided
    }

    /// True when the runtime honours `AWS_LAMBDA_EXEC_WRAPPER` (every managed runtime; not the
    /// OS-only ones, whose bootstrap is the user's own).
    pub(crate) fn runs_exec_wrapper(&self) -> bool {
        self.family != Provided
    }
}

/// The search paths each runtime builds over the function and its layers (`why` replays lookups
/// along these). `NODE_PATH`, Ruby's `GEM_PATH` and `RUBYLIB`, and Python's `sys.path` are the
/// dumps' ([`crate::facts`]); what they do not record is kept here, from the Python runtime's
/// bootstrap (`set_default_sys_path`, `add_default_site_directories`): how a `PYTHONPATH` the
/// function sets changes `sys.path`, and which entries `site.addsitedir` reads `.pth` files in.
impl Runtime {
    /// `sys.path` as the Python runtime builds it; `pythonpath` is the function's `PYTHONPATH`.
    /// Unset, it is the dump's. Set (not recorded by the dumps): the bootstrap adds none of its
    /// own folders (the layers' two and, on 3.11+, the runtime's site-packages ahead of
    /// `/var/runtime`), the function's entries follow `/var/task`, and the interpreter's `site`
    /// appends the runtime's site-packages after the standard library.
    pub(crate) fn python_sys_path(&self, pythonpath: Option<&[String]>) -> Vec<String> {
        let dumped = self.facts().python_sys_path();
        let Some(entries) = pythonpath else {
            return dumped.iter().map(|dir| dir.to_string()).collect();
        };
        let lang_site = format!("{}/site-packages", self.python_stdlib_dir());
        let mut path = vec![environment::TASK_ROOT.to_string()];
        path.extend(entries.iter().cloned());
        path.extend(
            dumped
                .iter()
                .filter(|dir| {
                    **dir != environment::TASK_ROOT
                        && **dir != lang_site
                        && !environment::within(dir, environment::LAYER_ROOT)
                })
                .map(|dir| dir.to_string()),
        );
        path.push(lang_site);
        path
    }

    /// The folder of the Python runtime's standard library (`/var/lang/lib/python3.12`), on
    /// `sys.path` after `/var/runtime`.
    pub(crate) fn python_stdlib_dir(&self) -> String {
        let (major, minor) = self.version();
        format!("/var/lang/lib/python{major}.{minor}")
    }

    /// The `sys.path` entries the bootstrap passes to `site.addsitedir` (their `.pth` files are
    /// read): `/var/task` and, when `PYTHONPATH` is unset, the layers' folders on `sys.path`.
    pub(crate) fn python_site_dirs(&self, pythonpath_set: bool) -> Vec<String> {
        self.facts()
            .python_sys_path()
            .iter()
            .filter(|dir| {
                **dir == environment::TASK_ROOT
                    || (!pythonpath_set && environment::within(dir, environment::LAYER_ROOT))
            })
            .map(|dir| dir.to_string())
            .collect()
    }

    /// `NODE_PATH` of a Node.js runtime (the bootstrap sets it when the function does not).
    pub(crate) fn node_path(&self) -> Vec<String> {
        self.dumped_variable("NODE_PATH")
    }

    /// Ruby's `RUBYLIB` on Lambda (searched first, as `$LOAD_PATH`).
    pub(crate) fn ruby_load_path(&self) -> Vec<String> {
        self.dumped_variable("RUBYLIB")
    }

    /// Ruby's `GEM_PATH` on Lambda: gems bundled with the function, the layers' gem folder, then
    /// the runtime's own.
    pub(crate) fn ruby_gem_path(&self) -> Vec<String> {
        self.dumped_variable("GEM_PATH")
    }

    fn dumped_variable(&self, name: &str) -> Vec<String> {
        self.facts()
            .language_variable(name)
            .iter()
            .map(|dir| dir.to_string())
            .collect()
    }

    /// The Java class path on Lambda: the function's classes, its `lib/*.jar`, the layers'
    /// `java/lib/*.jar` (folders whose jars are on the path end in `/*`). Java sets no
    /// `CLASSPATH` variable, so the dumps describe this path in words only; it is kept here.
    pub(crate) fn java_classpath(&self) -> Vec<String> {
        vec![
            environment::TASK_ROOT.to_string(),
            "/var/task/lib/*".to_string(),
            "/opt/java/lib/*".to_string(),
        ]
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

/// Lambda's quotas that a layer must respect.
pub(crate) mod limits {
    /// Function plus all layers, unzipped (250 MiB as AWS counts it: 262,144,000 bytes).
    pub(crate) const UNZIPPED_BYTES: u64 = 262_144_000;
    /// A zip uploaded directly (not through S3).
    pub(crate) const DIRECT_UPLOAD_ZIPPED_BYTES: u64 = 50 * 1024 * 1024;
    /// Layers attached to one function.
    pub(crate) const LAYERS_PER_FUNCTION: usize = 5;
    /// Compatible runtimes declared on one layer version.
    pub(crate) const RUNTIMES_PER_LAYER: usize = 15;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_folders_follow_the_minor_version() {
        let runtime = Runtime::find("python3.12").expect("known runtime");
        assert_eq!(
            runtime.package_dirs(),
            ["python/lib/python3.12/site-packages", "python"]
        );
        assert_eq!(runtime.os().glibc(), GlibcVersion(2, 34));
    }

    #[test]
    fn node_and_ruby_folders() {
        let node = Runtime::find("nodejs18.x").expect("known runtime");
        assert_eq!(
            node.package_dirs(),
            ["nodejs/node18/node_modules", "nodejs/node_modules"]
        );
        assert_eq!(node.os(), Os::Al2);
        let ruby = Runtime::find("ruby3.3").expect("known runtime");
        assert_eq!(ruby.package_dirs(), ["ruby/gems/3.3.0", "ruby/lib"]);
    }

    #[test]
    fn unknown_runtime_is_none() {
        assert!(Runtime::find("python2.7").is_none());
        assert!(Runtime::find("").is_none());
    }

    #[test]
    fn glibc_versions_parse_and_order() {
        assert_eq!(GlibcVersion::parse("GLIBC_2.2.5"), Some(GlibcVersion(2, 2)));
        assert_eq!(GlibcVersion::parse("GLIBC_2.28"), Some(GlibcVersion(2, 28)));
        assert!(GlibcVersion(2, 28) > GlibcVersion(2, 26));
        assert!(GlibcVersion(2, 9) < GlibcVersion(2, 17));
        assert_eq!(GlibcVersion::parse("GLIBC_PRIVATE"), None);
    }

    #[test]
    fn every_declared_runtime_has_dumped_facts() {
        for runtime in RUNTIMES {
            assert!(
                crate::facts::runtime(runtime.id).is_some(),
                "{} has no facts",
                runtime.id
            );
        }
    }

    /// The OS and language version come from the dumps alone; the identifiers AWS chose name
    /// them too, so the two must agree.
    #[test]
    fn os_and_language_version_of_the_dumps_agree_with_the_identifiers() {
        for runtime in RUNTIMES {
            let (major, minor) = runtime.version();
            let named = match runtime.family {
                Family::Python => format!("python{major}.{minor}"),
                Family::Nodejs => format!("nodejs{major}.x"),
                Family::Ruby => format!("ruby{major}.{minor}"),
                Family::Java => format!("java{major}"),
                Family::Provided => "provided".to_string(),
            };
            let rest = runtime.id.strip_prefix(&named);
            assert!(
                rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
                "{} has version {major}.{minor} in its dump",
                runtime.id
            );
            for (suffix, os) in [(".al2", Os::Al2), (".al2023", Os::Al2023)] {
                if runtime.id.ends_with(suffix) {
                    assert_eq!(runtime.os(), os, "{}", runtime.id);
                }
            }
        }
        for (id, os) in [
            ("python3.11", Os::Al2),
            ("python3.12", Os::Al2023),
            ("nodejs18.x", Os::Al2),
            ("java17", Os::Al2),
            ("java21", Os::Al2023),
        ] {
            assert_eq!(Runtime::find(id).expect("known runtime").os(), os, "{id}");
        }
        // Ruby's dump gives a patch version (3.3.12); the OS-only runtimes have none.
        assert_eq!(
            Runtime::find("ruby3.3").expect("known runtime").version(),
            (3, 3)
        );
        assert_eq!(
            Runtime::find("provided.al2023")
                .expect("known runtime")
                .version(),
            (0, 0)
        );
    }

    /// The search paths come from the dumps; the layer folders of each (its `/opt` entries) are
    /// the ones AWS documents for the runtime's layers, in the same order.
    #[test]
    fn dumped_search_paths_reach_the_documented_layer_folders() {
        for runtime in RUNTIMES {
            let searched: Vec<String> = match runtime.family {
                Python => runtime.python_sys_path(None),
                Nodejs => runtime.node_path(),
                Ruby => [runtime.ruby_gem_path(), runtime.ruby_load_path()].concat(),
                Java | Provided => continue,
            };
            let in_layers: Vec<&str> = searched
                .iter()
                .filter_map(|dir| dir.strip_prefix("/opt/"))
                .collect();
            assert_eq!(in_layers, runtime.package_dirs(), "{}", runtime.id);
            if runtime.family == Python {
                let stdlib = runtime.python_stdlib_dir();
                let site = format!("{stdlib}/site-packages");
                for dir in [&stdlib, &site] {
                    assert!(searched.contains(dir), "{}: {dir}", runtime.id);
                }
            }
        }
    }

    #[test]
    fn search_paths_of_the_dumps() {
        let node = Runtime::find("nodejs20.x").expect("known runtime");
        assert_eq!(
            node.node_path(),
            [
                "/opt/nodejs/node20/node_modules",
                "/opt/nodejs/node_modules",
                "/var/runtime/node_modules",
                "/var/runtime",
                "/var/task"
            ]
        );
        let ruby = Runtime::find("ruby3.3").expect("known runtime");
        assert_eq!(
            ruby.ruby_gem_path(),
            [
                "/var/task/vendor/bundle/ruby/3.3.0",
                "/opt/ruby/gems/3.3.0",
                "/var/runtime",
                "/var/runtime/ruby/3.3.0"
            ]
        );
        assert_eq!(
            ruby.ruby_load_path(),
            ["/var/task", "/var/runtime/lib", "/opt/ruby/lib"]
        );
        // 3.9 keeps the runtime's site-packages last; 3.11+ put it ahead of /var/runtime.
        let python39 = Runtime::find("python3.9").expect("known runtime");
        assert_eq!(
            python39.python_sys_path(None),
            [
                "/var/task",
                "/opt/python/lib/python3.9/site-packages",
                "/opt/python",
                "/var/runtime",
                "/var/lang/lib/python39.zip",
                "/var/lang/lib/python3.9",
                "/var/lang/lib/python3.9/lib-dynload",
                "/var/lang/lib/python3.9/site-packages"
            ]
        );
        let python = Runtime::find("python3.12").expect("known runtime");
        assert_eq!(
            python.python_sys_path(None)[3],
            "/var/lang/lib/python3.12/site-packages"
        );
        assert_eq!(
            python.python_site_dirs(false),
            [
                "/var/task",
                "/opt/python/lib/python3.12/site-packages",
                "/opt/python"
            ]
        );
        assert_eq!(python.python_site_dirs(true), ["/var/task"]);
    }

    /// A `PYTHONPATH` the function sets replaces the folders the bootstrap adds: its entries
    /// follow `/var/task`, and the runtime's site-packages moves after the standard library.
    #[test]
    fn a_pythonpath_replaces_the_bootstrap_folders() {
        let python = Runtime::find("python3.12").expect("known runtime");
        let set = ["/var/task/vendor".to_string()];
        assert_eq!(
            python.python_sys_path(Some(&set)),
            [
                "/var/task",
                "/var/task/vendor",
                "/var/runtime",
                "/var/lang/lib/python312.zip",
                "/var/lang/lib/python3.12",
                "/var/lang/lib/python3.12/lib-dynload",
                "/var/lang/lib/python3.12/site-packages"
            ]
        );
    }
}
