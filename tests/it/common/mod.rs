//! Helpers shared by the integration tests: materializing fixture cases into temp folders,
//! generating tiny ELF/Mach-O/PE files, and writing raw zips with arbitrary entries.
#![allow(dead_code)]

pub mod elf;
pub mod hostile;
pub mod rawzip;
pub mod wheels;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// `case.toml` of a rule fixture (`tests/fixtures/rules/<CODE>/<pass|fail>_<case>/`).
///
/// The case's `layer/` folder (optional) is copied as is; `[[elf]]` tables add generated binaries;
/// `[[mode]]` tables set permission bits; with `[zip]` the layer is checked as a zip whose raw
/// entries are listed there (plus every file of `layer/`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    #[serde(default)]
    pub runtimes: Vec<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub elf: Vec<elf::ElfSpec>,
    #[serde(default)]
    pub mode: Vec<ModeSpec>,
    /// Files whose exact bytes matter (CRLF, a byte order mark), written with their mode.
    #[serde(default)]
    pub file: Vec<FileSpec>,
    pub zip: Option<rawzip::ZipSpec>,
    /// Files of a given size that take no disk space (size rules).
    #[serde(default)]
    pub sparse: Vec<SparseSpec>,
    /// Stack cases: what each layer (`layers/NN-name/`) declares.
    #[serde(default)]
    pub declared: Vec<DeclaredSpec>,
    /// The function's environment (`AWS_LAMBDA_EXEC_WRAPPER` for the `EXT` rules).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Stack cases: the function's handler (STK006).
    pub handler: Option<String>,
    /// SIZE003 budget.
    pub budget_unzipped_bytes: Option<u64>,
    pub budget_zipped_bytes: Option<u64>,
}

/// `[[sparse]]`: a file of `size` bytes of zeros made with `set_len`, so a 300 MB layer costs
/// no disk space (a zip stores it in full, though: keep zipped ones near the size that matters).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseSpec {
    pub path: String,
    pub size: u64,
}

/// `[[declared]]` of a stack case: the runtimes and architectures a layer declares.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSpec {
    /// The layer's folder name under `layers/`.
    pub layer: String,
    #[serde(default)]
    pub runtimes: Vec<String>,
    #[serde(default)]
    pub architectures: Vec<String>,
}

/// `[[file]]`: a file written from a TOML string, so its bytes (`\r\n`, `\uFEFF`) survive any
/// git line-ending setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub content: String,
    /// Unix permission bits (default 0o644).
    pub mode: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeSpec {
    pub path: String,
    pub mode: u32,
}

impl Case {
    pub fn load(case_dir: &Path) -> Case {
        let path = case_dir.join("case.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            }
            Err(_) => Case::default(),
        }
    }
}

/// Copies a folder recursively, keeping symlinks as symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in walkdir::WalkDir::new(from).min_depth(1).sort_by_file_name() {
        let entry = entry.expect("walk fixture");
        let relative = entry.path().strip_prefix(from).expect("below root");
        let target = to.join(relative);
        let kind = entry.file_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&target).expect("create dir");
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read link");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Writes a fixture case into `work` and returns the path to check (a folder or a zip).
pub fn materialize(case_dir: &Path, case: &Case, work: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tree = work.join("layer");
    std::fs::create_dir_all(&tree).expect("create layer dir");
    let layer = case_dir.join("layer");
    if layer.is_dir() {
        copy_tree(&layer, &tree);
    }
    for spec in &case.elf {
        let path = tree.join(&spec.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        std::fs::write(&path, elf::build(spec)).expect("write binary");
        let mode = spec.mode.unwrap_or(0o755);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for spec in &case.file {
        let path = tree.join(&spec.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        std::fs::write(&path, &spec.content).expect("write file");
        let mode = spec.mode.unwrap_or(0o644);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    for spec in &case.sparse {
        let path = tree.join(&spec.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
        let file = std::fs::File::create(&path).expect("create sparse file");
        file.set_len(spec.size).expect("size sparse file");
    }
    for spec in &case.mode {
        let path = tree.join(&spec.path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(spec.mode)).expect("chmod");
    }
    match &case.zip {
        None => tree,
        Some(spec) => {
            let zip = work.join("layer.zip");
            rawzip::write(&zip, &tree, spec);
            zip
        }
    }
}

/// One finding of a `check --format json` report: the fields the tests compare.
#[derive(Debug, Deserialize)]
pub struct JsonFinding {
    pub code: String,
    pub severity: String,
    /// The layer (or function) the finding is about.
    pub layer: String,
    #[serde(default)]
    pub path: String,
    pub message: String,
}

/// The findings of a `check --format json` run; panics with the run's stderr when its output
/// is no report.
pub fn json_findings(output: &std::process::Output) -> Vec<JsonFinding> {
    #[derive(Deserialize)]
    struct Report {
        findings: Vec<JsonFinding>,
    }
    let report: Report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "no JSON report from check ({err}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    report.findings
}

/// The `layerpack` binary run in `dir`, with colour off, no inherited build settings, and a
/// build cache of its own (see [`test_cache_dir`]).
pub fn layerpack(dir: &Path) -> Command {
    let mut command = Command::new(insta_cmd::get_cargo_bin("layerpack"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("LAYERPACK_CACHE_DIR", test_cache_dir(dir))
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RAYON_NUM_THREADS");
    command
}

/// A build cache for the tests that run in `dir`, under cargo's scratch folder for tests: never
/// the user's real cache, never inside the folder a layer is gathered from, and the same for
/// every command of one test (so a second build sees the first one's entries), but fresh for
/// each test's temp folder (so hit counts in snapshots do not depend on other tests).
pub fn test_cache_dir(dir: &Path) -> PathBuf {
    let name: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c == '/' { '-' } else { c })
        .collect();
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("test-caches")
        .join(name)
}

/// Snapshots a command's exit status, stdout and stderr, showing the temp folder as `[TMP]`.
#[macro_export]
macro_rules! snapshot {
    ($temp:expr, $cmd:expr) => {
        let root = $crate::common::regex_escape($temp.path().to_str().expect("utf-8"));
        insta::with_settings!({filters => vec![(root.as_str(), "[TMP]")]}, {
            insta_cmd::assert_cmd_snapshot!($cmd);
        });
    };
}

/// A literal path as a regular expression (for insta filters).
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Says why a test cannot run here. Under `CI`, where `.ci/run` installs every tool and builds
/// the bench layers, that is a failure; elsewhere the test is skipped with the reason printed, so
/// a skip never passes silently.
pub fn unavailable(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{reason} (under CI, .ci/run must provide it)"
    );
    eprintln!("note: {reason}; test skipped");
}

/// Writes a file, creating its folder.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Where the real layers of `../shared/bench/make-bench-layers.sh` are: `LAYERPACK_BENCH_LAYERS`,
/// else `target/bench-layers` (where `.ci/run` and `benches/*.sh` build them), else a
/// `bench-layers` folder beside the repository. Tests that need them skip, with a note, when absent.
pub fn bench_layers_root() -> PathBuf {
    if let Some(root) = std::env::var_os("LAYERPACK_BENCH_LAYERS") {
        return PathBuf::from(root);
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let in_target = repository.join("target/bench-layers");
    if in_target.is_dir() {
        return in_target;
    }
    repository.join("../bench-layers")
}
