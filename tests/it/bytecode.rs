//! The bytecode stage against the machine's real CPython: a layer of pycs compiled by
//! `py_compile` is built into a zip, extracted read-only as Lambda does, and imported with
//! `python3 -v`; every module must come from its pyc. The same layer built with
//! `bytecode = "as-is"` must show recompilation, so these tests can fail.
//!
//! They need `python3` on PATH whose version is a Lambda runtime (3.9–3.14), and `unzip`.

use std::path::{Path, PathBuf};
use std::process::Command;

use layerpack::bytecode::{self, PycHeader, Validation};
use layerpack::config::BytecodeMode;
use layerpack::config::{Budget, LintSettings};
use layerpack::inventory::Inventory;
use layerpack::runtime::{Arch, Runtime};

/// The modules of the test package, as (archive path of the source, dotted name).
const MODULES: &[(&str, &str)] = &[
    ("python/minipkg/__init__.py", "minipkg"),
    ("python/minipkg/core.py", "minipkg.core"),
    ("python/minipkg/util/__init__.py", "minipkg.util"),
    ("python/minipkg/util/helpers.py", "minipkg.util.helpers"),
];

fn python_version() -> (u32, u32) {
    let output = Command::new("python3")
        .args(["-c", "import sys; print('%d %d' % sys.version_info[:2])"])
        .output()
        .expect("these tests need `python3` on PATH");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text
        .split_whitespace()
        .map(|part| part.parse().expect("number"));
    (parts.next().expect("major"), parts.next().expect("minor"))
}

fn local_runtime() -> &'static Runtime {
    let (major, minor) = python_version();
    Runtime::find(&format!("python{major}.{minor}")).unwrap_or_else(|| {
        panic!("python3 is {major}.{minor}, which is no Lambda runtime; put 3.9–3.14 on PATH")
    })
}

fn cache_tag() -> String {
    bytecode::cache_tag(python_version())
}

fn pyc_of(source: &str) -> String {
    let (dir, file) = source.rsplit_once('/').expect("has a folder");
    let name = file.strip_suffix(".py").expect(".py");
    format!("{dir}/__pycache__/{name}.{}.pyc", cache_tag())
}

/// Compiles sources (paths relative to `root`) with `py_compile`, as `pip install` does:
/// timestamp-based pycs. `SOURCE_DATE_EPOCH` is removed because it makes `py_compile` write
/// checked-hash pycs by itself.
fn py_compile(root: &Path, sources: &[&str], mode: &str) {
    let status = Command::new("python3")
        .current_dir(root)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("PYTHONHASHSEED", "0")
        .args([
            "-c",
            "import py_compile, sys\n\
             mode = py_compile.PycInvalidationMode[sys.argv[1]]\n\
             for path in sys.argv[2:]:\n    \
                 py_compile.compile(path, doraise=True, invalidation_mode=mode)",
            mode,
        ])
        .args(sources)
        .status()
        .expect("run python3");
    assert!(status.success(), "py_compile failed");
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A small real package, compiled, plus pycs that must not ship: a stale one, an orphan, one
/// for another Python.
fn make_layer(root: &Path) {
    write(root, MODULES[0].0, "from . import core\nVERSION = '1.0'\n");
    write(
        root,
        MODULES[1].0,
        "import json\n\ndef answer():\n    return json.dumps({'answer': 42})\n",
    );
    write(root, MODULES[2].0, "");
    write(
        root,
        MODULES[3].0,
        "def shout(text):\n    return text.upper() + '!'\n\nWORDS = {'a', 'b', 'c'}\n",
    );
    write(root, "python/minipkg/stale.py", "OLD = True\n");
    write(root, "python/minipkg/gone.py", "GONE = True\n");
    let mut sources: Vec<&str> = MODULES.iter().map(|(path, _)| *path).collect();
    sources.extend(["python/minipkg/stale.py", "python/minipkg/gone.py"]);
    py_compile(root, &sources, "TIMESTAMP");
    // Edit after compiling: the pyc is now stale (size and mtime differ).
    write(root, "python/minipkg/stale.py", "OLD = False  # edited\n");
    std::fs::remove_file(root.join("python/minipkg/gone.py")).expect("remove");
    std::fs::copy(
        root.join(pyc_of(MODULES[1].0)),
        root.join("python/minipkg/__pycache__/core.cpython-39.pyc"),
    )
    .expect("copy");
}

fn layerpack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_layerpack"));
    // A build cache of the test run's own, never the user's.
    command.env(
        "LAYERPACK_CACHE_DIR",
        crate::common::test_cache_dir(Path::new("bytecode")),
    );
    command
}

/// Builds `root` into `zip` with the real `build` command, with `bytecode` set in a
/// `layer.toml`, and the given `SOURCE_DATE_EPOCH`.
fn build(work: &Path, root: &Path, zip: &Path, mode: &str, epoch: Option<&str>) {
    let config = work.join(format!("layer-{mode}.toml"));
    std::fs::write(
        &config,
        format!(
            "[layer.mini]\nruntimes = [\"{}\"]\noutput = \"{}\"\nbytecode = \"{mode}\"\n\n\
             [[layer.mini.source]]\npath = \"{}\"\n",
            local_runtime().id,
            zip.display(),
            root.display()
        ),
    )
    .expect("write layer.toml");
    let mut command = layerpack();
    command.args(["build", "--config"]).arg(&config);
    match epoch {
        Some(epoch) => command.env("SOURCE_DATE_EPOCH", epoch),
        None => command.env_remove("SOURCE_DATE_EPOCH"),
    };
    let output = command.output().expect("run layerpack");
    assert!(
        output.status.success(),
        "layerpack build failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Extracts like Lambda does (the zip's dates, read as UTC) and makes the tree read-only.
fn extract_read_only(zip: &Path, into: &Path) {
    let status = Command::new("unzip")
        .env("TZ", "UTC")
        .args(["-q", "-o"])
        .arg(zip)
        .arg("-d")
        .arg(into)
        .status()
        .expect("these tests need `unzip` on PATH");
    assert!(status.success(), "unzip failed");
    let status = Command::new("chmod")
        .args(["-R", "a-w"])
        .arg(into)
        .status()
        .expect("chmod");
    assert!(status.success());
}

/// `python3 -v` importing every test module from `opt/python`, without writing bytecode;
/// returns the verbose log.
fn import_verbose(opt: &Path) -> String {
    let names: Vec<&str> = MODULES.iter().map(|(_, name)| *name).collect();
    let output = Command::new("python3")
        .current_dir(opt)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", opt.join("python"))
        .env_remove("PYTHONHOME")
        .args(["-v", "-c", &format!("import {}", names.join(", "))])
        .output()
        .expect("run python3");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "import failed:\n{log}");
    log
}

fn make_writable(dir: &Path) {
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(dir).status();
}

/// Builds with `mode` and imports; returns, per module, whether it came from its pyc, plus the log.
fn modules_loaded_from_pyc(mode: &str, epoch: Option<&str>) -> (Vec<(String, bool)>, String) {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("src");
    make_layer(&root);
    let zip = work.path().join("layer.zip");
    build(work.path(), &root, &zip, mode, epoch);
    let opt = work.path().join("opt");
    extract_read_only(&zip, &opt);
    let opt = opt.canonicalize().expect("canonical");
    let log = import_verbose(&opt);
    make_writable(&opt);
    let results = MODULES
        .iter()
        .map(|(source, name)| {
            let matches = format!(
                "# {} matches {}",
                opt.join(pyc_of(source)).display(),
                opt.join(source).display()
            );
            let recompiled = format!("# code object from {}\n", opt.join(source).display());
            let from_pyc = log.contains(&matches) && !log.contains(&recompiled);
            (name.to_string(), from_pyc)
        })
        .collect();
    (results, log)
}

#[test]
fn converted_pycs_are_used_from_a_read_only_layer_dated_1980() {
    let (results, log) = modules_loaded_from_pyc("keep-valid", None);
    for (module, from_pyc) in results {
        assert!(from_pyc, "{module} was not loaded from its pyc:\n{log}");
    }
}

#[test]
fn converted_pycs_are_used_from_a_read_only_layer_dated_by_source_date_epoch() {
    let (results, log) = modules_loaded_from_pyc("keep-valid", Some("1700000000"));
    for (module, from_pyc) in results {
        assert!(from_pyc, "{module} was not loaded from its pyc:\n{log}");
    }
}

#[test]
fn unconverted_pycs_are_recompiled_on_import() {
    for epoch in [None, Some("1700000000")] {
        let (results, log) = modules_loaded_from_pyc("as-is", epoch);
        for (module, from_pyc) in results {
            assert!(
                !from_pyc,
                "{module} came from its pyc although the zip's date made it stale:\n{log}"
            );
        }
        assert!(
            log.contains("bytecode is stale for 'minipkg.core'"),
            "{log}"
        );
    }
}

fn gathered(root: &Path) -> Inventory {
    layerpack::gather::gather_dir(root, &[])
        .expect("gather")
        .inventory
}

#[test]
fn keep_valid_converts_valid_pycs_and_drops_the_rest_with_a_reason() {
    let work = tempfile::tempdir().expect("temp dir");
    make_layer(work.path());
    let mut inventory = gathered(work.path());
    let report = bytecode::apply(
        &mut inventory,
        BytecodeMode::KeepValid,
        false,
        &[local_runtime()],
    )
    .expect("apply");
    assert_eq!(report.converted, MODULES.len());
    let dropped: Vec<(&str, &str)> = report
        .dropped
        .iter()
        .map(|dropped| (dropped.path.as_str(), dropped.reason.as_str()))
        .collect();
    let tag = cache_tag();
    assert_eq!(dropped.len(), 3, "{dropped:#?}");
    assert_eq!(
        dropped[0].0,
        "python/minipkg/__pycache__/core.cpython-39.pyc"
    );
    assert!(dropped[0].1.contains("Python 3.9"), "{}", dropped[0].1);
    assert_eq!(
        dropped[1].0,
        format!("python/minipkg/__pycache__/gone.{tag}.pyc")
    );
    assert!(dropped[1].1.starts_with("orphan"), "{}", dropped[1].1);
    assert_eq!(
        dropped[2].0,
        format!("python/minipkg/__pycache__/stale.{tag}.pyc")
    );
    assert!(dropped[2].1.starts_with("stale"), "{}", dropped[2].1);
    for dropped in &report.dropped {
        assert!(
            inventory.get(&dropped.path).is_none(),
            "{} kept",
            dropped.path
        );
    }
    for (source, _) in MODULES {
        let entry = inventory.get(&pyc_of(source)).expect("pyc kept");
        let bytes = inventory.read(entry).expect("read");
        assert_eq!(entry.size, bytes.len() as u64);
        let header = PycHeader::parse(&bytes).expect("header");
        let Validation::Hash { check_source, .. } = header.validation else {
            panic!("{source}: still timestamp-based");
        };
        assert_eq!(check_source, bytecode::CHECK_SOURCE);
    }
}

/// A converted pyc is byte for byte what CPython itself writes with `--invalidation-mode
/// checked-hash` (or unchecked-hash), so the SipHash, key and flags are CPython's.
#[test]
fn conversion_equals_cpythons_own_hash_based_pyc() {
    let work = tempfile::tempdir().expect("temp dir");
    let timestamp = work.path().join("timestamp");
    let hashed = work.path().join("hashed");
    for root in [&timestamp, &hashed] {
        make_layer(root);
    }
    // Recompile the second tree hash-based: same sources, same relative paths, so same bodies.
    let sources: Vec<&str> = MODULES.iter().map(|(path, _)| *path).collect();
    let mode = if bytecode::CHECK_SOURCE {
        "CHECKED_HASH"
    } else {
        "UNCHECKED_HASH"
    };
    py_compile(&hashed, &sources, mode);
    let mut inventory = gathered(&timestamp);
    bytecode::apply(
        &mut inventory,
        BytecodeMode::KeepValid,
        false,
        &[local_runtime()],
    )
    .expect("apply");
    for (source, _) in MODULES {
        let entry = inventory.get(&pyc_of(source)).expect("pyc");
        let converted = inventory.read(entry).expect("read");
        let expected = std::fs::read(hashed.join(pyc_of(source))).expect("read CPython's pyc");
        assert_eq!(converted[..16], expected[..16], "{source}: header");
        assert_eq!(converted, expected, "{source}: whole pyc");
    }
}

/// `_imp.source_hash` of every local CPython 3.9–3.14 (pyenv or system), on inputs that cross
/// SipHash's 8-byte blocks, against ours.
#[test]
fn source_hash_matches_every_local_cpython() {
    let inputs: [&[u8]; 4] = [b"", b"x", b"exactly8", &[0xa5; 1000]];
    let mut checked = Vec::new();
    for (minor, interpreter) in local_interpreters() {
        let program = "import _imp, importlib.util, sys\n\
                       key = int.from_bytes(importlib.util.MAGIC_NUMBER, 'little')\n\
                       print(int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'))\n\
                       for data in (b'', b'x', b'exactly8', bytes([0xa5]) * 1000):\n    \
                           print(_imp.source_hash(key, data).hex())";
        let Ok(output) = Command::new(&interpreter).args(["-c", program]).output() else {
            continue;
        };
        if !output.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut lines = text.lines();
        let magic: u16 = lines.next().expect("magic").parse().expect("number");
        assert_eq!(
            bytecode::magic_number((3, minor)),
            Some(magic),
            "magic number of {interpreter}"
        );
        for (input, expected) in inputs.iter().zip(lines) {
            let ours: String = bytecode::source_hash(magic, input)
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            assert_eq!(ours, expected, "{interpreter}, {} bytes", input.len());
        }
        checked.push(minor);
    }
    eprintln!("checked CPython 3.x for x in {checked:?}");
    assert!(
        checked.contains(&python_version().1),
        "the local python3 was not checked; checked: {checked:?}"
    );
}

/// `python3.N` for N in 9..=14 on PATH, plus every pyenv-installed 3.N (pyenv's shims answer
/// only for the selected versions).
fn local_interpreters() -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = (9..=14)
        .map(|minor| (minor, format!("python3.{minor}")))
        .collect();
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pyenv")));
    if let Some(Ok(versions)) = pyenv_root.map(|root| std::fs::read_dir(root.join("versions"))) {
        let mut dirs: Vec<PathBuf> = versions
            .filter_map(|entry| Some(entry.ok()?.path()))
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default();
            let mut parts = name.split('.');
            if let (Some("3"), Some(Ok(minor))) =
                (parts.next(), parts.next().map(str::parse::<u32>))
                && (9..=14).contains(&minor)
            {
                let binary = dir.join("bin").join(format!("python3.{minor}"));
                found.push((minor, binary.display().to_string()));
            }
        }
    }
    found
}

#[test]
fn conversion_depends_only_on_content() {
    let work = tempfile::tempdir().expect("temp dir");
    let first = work.path().join("a");
    let second = work.path().join("b");
    make_layer(&first);
    // A second tree written later: other mtimes in the sources and in the pyc headers.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    make_layer(&second);
    let mut digests = Vec::new();
    for root in [&first, &second] {
        let zip = root.with_extension("zip");
        let output = layerpack()
            .args(["build", "--dir"])
            .arg(root)
            .args(["--runtime", local_runtime().id, "--output"])
            .arg(&zip)
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .expect("run layerpack");
        assert!(output.status.success(), "{output:?}");
        digests.push(std::fs::read(&zip).expect("read zip"));
    }
    assert!(digests[0] == digests[1], "the two zips differ");
}

#[test]
fn strip_drops_cache_pycs_but_keeps_sourceless_modules() {
    let work = tempfile::tempdir().expect("temp dir");
    make_layer(work.path());
    write(work.path(), "python/sourceless.py", "A = 1\n");
    py_compile(work.path(), &["python/sourceless.py"], "TIMESTAMP");
    std::fs::rename(
        work.path().join(pyc_of("python/sourceless.py")),
        work.path().join("python/sourceless.pyc"),
    )
    .expect("move");
    std::fs::remove_file(work.path().join("python/sourceless.py")).expect("remove");
    let mut inventory = gathered(work.path());
    let report = bytecode::apply(
        &mut inventory,
        BytecodeMode::Strip,
        false,
        &[local_runtime()],
    )
    .expect("apply");
    assert_eq!(report.dropped.len(), MODULES.len() + 3);
    let left: Vec<&str> = inventory
        .entries()
        .iter()
        .map(|entry| entry.path.as_str())
        .filter(|path| path.ends_with(".pyc") || path.ends_with("__pycache__"))
        .collect();
    assert_eq!(left, ["python/sourceless.pyc"]);
}

#[test]
fn as_is_and_non_python_layers_are_untouched() {
    let work = tempfile::tempdir().expect("temp dir");
    make_layer(work.path());
    let before = gathered(work.path());
    let node = Runtime::find("nodejs20.x").expect("runtime");
    for (mode, runtime) in [
        (BytecodeMode::AsIs, local_runtime()),
        (BytecodeMode::KeepValid, node),
        (BytecodeMode::Strip, node),
    ] {
        let mut inventory = gathered(work.path());
        let report = bytecode::apply(&mut inventory, mode, false, &[runtime]).expect("apply");
        assert_eq!(report, bytecode::BytecodeReport::default());
        assert_eq!(inventory.entries().len(), before.entries().len());
        for (entry, original) in inventory.entries().iter().zip(before.entries()) {
            assert_eq!(entry.path, original.path);
            assert_eq!(entry.size, original.size);
        }
    }
}

#[test]
fn compile_adds_missing_pycs_that_python_uses() {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("src");
    write(
        &root,
        "python/fresh/__init__.py",
        "from .mod import VALUE\n",
    );
    write(&root, "python/fresh/mod.py", "VALUE = {'x', 'y'}\n");
    write(&root, "python/fresh/broken.py", "def (:\n");
    let mut inventory = gathered(&root);
    let report = bytecode::apply(
        &mut inventory,
        BytecodeMode::KeepValid,
        true,
        &[local_runtime()],
    )
    .expect("apply");
    assert_eq!(report.compiled, 2);
    assert_eq!(report.not_compiled.len(), 1);
    assert_eq!(report.not_compiled[0].path, "python/fresh/broken.py");
    assert!(
        !root.join("python/fresh/__pycache__").exists(),
        "compiled into the user's tree"
    );
    // Written out with the real zip writer, extracted read-only, imported from the pyc.
    let zip = work.path().join("fresh.zip");
    let prepared = layerpack::archive::prepare(&inventory, layerpack::archive::DosDateTime::EPOCH)
        .expect("prepare");
    prepared.write_atomically(&zip).expect("write zip");
    let first = std::fs::read(&zip).expect("read");
    let opt = work.path().join("opt");
    extract_read_only(&zip, &opt);
    let opt = opt.canonicalize().expect("canonical");
    let output = Command::new("python3")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", opt.join("python"))
        .args(["-v", "-c", "import fresh"])
        .output()
        .expect("python3");
    make_writable(&opt);
    let log = String::from_utf8_lossy(&output.stderr);
    for source in ["python/fresh/__init__.py", "python/fresh/mod.py"] {
        let matches = format!(
            "# {} matches {}",
            opt.join(pyc_of(source)).display(),
            opt.join(source).display()
        );
        assert!(log.contains(&matches), "{source} not from its pyc:\n{log}");
    }
    // Compiling again gives the same bytes (pinned hash seed, /opt paths inside the pyc).
    let mut again = gathered(&root);
    bytecode::apply(
        &mut again,
        BytecodeMode::KeepValid,
        true,
        &[local_runtime()],
    )
    .expect("apply");
    let prepared = layerpack::archive::prepare(&again, layerpack::archive::DosDateTime::EPOCH)
        .expect("prepare");
    prepared.write_atomically(&zip).expect("write zip");
    assert!(
        std::fs::read(&zip).expect("read") == first,
        "compiled bytes differ"
    );
}

/// `build` with `compile = true` from a `layer.toml` that names its source by a relative path
/// (sources are then relative to the current folder).
#[test]
fn compile_through_build_with_relative_source_paths() {
    let work = tempfile::tempdir().expect("temp dir");
    write(work.path(), "src/python/rel/__init__.py", "A = 1\n");
    write(work.path(), "src/python/rel/mod.py", "B = 2\n");
    std::fs::write(
        work.path().join("layer.toml"),
        format!(
            "[layer.rel]\nruntimes = [\"{}\"]\noutput = \"rel.zip\"\ncompile = true\n\n\
             [[layer.rel.source]]\npath = \"src\"\n",
            local_runtime().id
        ),
    )
    .expect("write layer.toml");
    let output = layerpack()
        .current_dir(work.path())
        .args(["build", "--config", "layer.toml", "--format", "json"])
        .output()
        .expect("run layerpack");
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let report = &json["layers"][0]["bytecode"];
    assert_eq!(report["compiled"], 2, "{report}");
    assert!(report.get("not_compiled").is_none(), "{report}");
    let inventory = Inventory::from_zip(&work.path().join("rel.zip")).expect("zip");
    assert!(inventory.get(&pyc_of("python/rel/mod.py")).is_some());
}

#[test]
fn compile_without_a_matching_interpreter_is_an_error_naming_it() {
    let work = tempfile::tempdir().expect("temp dir");
    write(work.path(), "src/python/mod.py", "A = 1\n");
    let config = work.path().join("layer.toml");
    std::fs::write(
        &config,
        format!(
            "[layer.mini]\nruntimes = [\"python3.13\"]\noutput = \"{}\"\ncompile = true\n\n\
             [[layer.mini.source]]\npath = \"{}\"\n",
            work.path().join("out.zip").display(),
            work.path().join("src").display()
        ),
    )
    .expect("write layer.toml");
    // A PATH with no interpreter on it at all.
    let empty = work.path().join("empty-path");
    std::fs::create_dir(&empty).expect("mkdir");
    let output = layerpack()
        .args(["build", "--config"])
        .arg(&config)
        .env("PATH", &empty)
        .env("NO_COLOR", "1")
        .output()
        .expect("run layerpack");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`python3.13` is not on PATH"), "{stderr}");
    assert!(stderr.contains("`python3` is not on PATH"), "{stderr}");
    assert!(!work.path().join("out.zip").exists());
}

fn stale_findings(zip: &Path) -> Vec<layerpack::finding::Finding> {
    let inventory = Inventory::from_zip(zip).expect("read zip");
    let settings = LintSettings {
        select: vec!["HYG007".to_string()],
        ..LintSettings::default()
    };
    layerpack::rules::check_inventory(
        "layer",
        &inventory,
        &[local_runtime()],
        &[Arch::X86_64],
        Budget::default(),
        0,
        &settings,
    )
}

#[test]
fn stale_bytecode_rule_reports_zips_whose_dates_break_the_pycs() {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("src");
    make_layer(&root);
    let as_is: PathBuf = work.path().join("as-is.zip");
    build(work.path(), &root, &as_is, "as-is", None);
    let findings = stale_findings(&as_is);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    // The 4 modules and stale.py: every timestamp pyc for this Python, dated 1980 in the zip.
    assert!(
        findings[0]
            .message
            .contains("rejects 5 of 5 cached modules"),
        "{}",
        findings[0].message
    );
    assert!(findings[0].message.contains("the zip entries' dates"));
    let kept = work.path().join("kept.zip");
    build(work.path(), &root, &kept, "keep-valid", None);
    assert_eq!(stale_findings(&kept), []);
}

#[test]
fn hash_based_pycs_are_kept_while_their_hash_matches_and_wrong_magic_is_dropped() {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path();
    write(root, "python/h/__init__.py", "");
    write(root, "python/h/same.py", "A = 1\n");
    write(root, "python/h/edited.py", "B = 1\n");
    write(root, "python/h/magic.py", "C = 1\n");
    py_compile(
        root,
        &[
            "python/h/__init__.py",
            "python/h/same.py",
            "python/h/edited.py",
        ],
        "UNCHECKED_HASH",
    );
    py_compile(root, &["python/h/magic.py"], "TIMESTAMP");
    write(root, "python/h/edited.py", "B = 2\n");
    // A pre-release's magic number in a pyc named for this Python.
    let magic_pyc = root.join(pyc_of("python/h/magic.py"));
    let mut bytes = std::fs::read(&magic_pyc).expect("read");
    bytes[0] = bytes[0].wrapping_sub(1);
    std::fs::write(&magic_pyc, bytes).expect("write");
    let original_same = std::fs::read(root.join(pyc_of("python/h/same.py"))).expect("read");
    let mut inventory = gathered(root);
    let report = bytecode::apply(
        &mut inventory,
        BytecodeMode::KeepValid,
        false,
        &[local_runtime()],
    )
    .expect("apply");
    assert_eq!(report.converted, 0);
    let reasons: Vec<(&str, &str)> = report
        .dropped
        .iter()
        .map(|dropped| (dropped.path.as_str(), dropped.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert_eq!(reasons[0].0, pyc_of("python/h/edited.py"));
    assert!(
        reasons[0].1.contains("hash does not match"),
        "{}",
        reasons[0].1
    );
    assert_eq!(reasons[1].0, pyc_of("python/h/magic.py"));
    assert!(reasons[1].1.starts_with("magic number"), "{}", reasons[1].1);
    let same = inventory.get(&pyc_of("python/h/same.py")).expect("kept");
    assert_eq!(inventory.read(same).expect("read"), original_same);
}
