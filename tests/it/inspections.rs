//! Lint recalls what earlier builds found in unchanged files (the cache's inspections store)
//! and finds exactly what it finds without the cache: on the real python layer, on a small tree
//! with generated ELF files, after a file is replaced by machine code of the same size, and with
//! a damaged store. Each test also proves the store was really used (`LAYERPACK_TIMING` says how
//! many files lint recalled instead of reading), so none can pass with the store silently off.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::common::{self, elf, layerpack, write};

/// One build of `tree` into `zip` with `--format json` and `extra` flags: the layer's JSON object
/// and how many files lint recalled from the store (`None` without the cache).
fn build(
    runtime: &str,
    work: &Path,
    tree: &Path,
    zip: &Path,
    extra: &[&str],
) -> (serde_json::Value, Option<u64>) {
    let output = layerpack(work)
        .env("LAYERPACK_TIMING", "1")
        .args(["build", "--format", "json", "--runtime", runtime, "--dir"])
        .arg(tree)
        .arg("--output")
        .arg(zip)
        .args(extra)
        .output()
        .expect("run layerpack");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "build failed: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let recalled = stderr.lines().find_map(|line| {
        line.strip_prefix("timing: lint: files recalled ")?
            .trim()
            .parse()
            .ok()
    });
    (json["layers"][0].clone(), recalled)
}

/// The output `layer.zip` in folder `name` of `work`: every build of a test names its layer
/// `layer`, as findings carry the layer's name.
fn output(work: &Path, name: &str) -> std::path::PathBuf {
    let folder = work.join(name);
    std::fs::create_dir_all(&folder).expect("output folder");
    folder.join("layer.zip")
}

/// The findings of a build, as JSON.
fn findings(layer: &serde_json::Value) -> serde_json::Value {
    layer["findings"].clone()
}

fn codes(layer: &serde_json::Value) -> Vec<String> {
    layer["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| finding["code"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Ages every file past the racy margin (its change time too, by waiting), as a layer's files
/// are between two CI runs, so that what a build reads of them is kept.
fn age_tree(tree: &Path) {
    for entry in walkdir::WalkDir::new(tree) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            set_mtime(entry.path(), SystemTime::now() - Duration::from_secs(3600));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
}

fn set_mtime(path: &Path, when: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(when))
        .expect("set mtime");
}

fn elf_for(machine: &str) -> Vec<u8> {
    elf::build(&elf::ElfSpec {
        machine: Some(machine.to_string()),
        needed: vec![
            "libm.so.6".into(),
            "libc.so.6".into(),
            "libmissing.so.3".into(),
        ],
        runpath: vec!["$ORIGIN".into()],
        glibc: vec!["GLIBC_2.17".into(), "GLIBC_2.38".into()],
        ..elf::ElfSpec::default()
    })
}

/// A small Python layer with native code: an extension whose glibc is too new and whose
/// library is missing, a library it ships, a Mach-O file, and a data file exactly as long as an
/// aarch64 ELF file.
fn native_tree(root: &Path) -> std::path::PathBuf {
    let site = root.join("python/lib/python3.12/site-packages");
    write(&site.join("fast/__init__.py"), "from ._speed import go\n");
    std::fs::write(
        site.join("fast/_speed.cpython-312-x86_64-linux-gnu.so"),
        elf_for("x86_64"),
    )
    .expect("write extension");
    std::fs::write(
        site.join("fast/libhelper.so.1"),
        elf::build(&elf::ElfSpec {
            soname: Some("libhelper.so.1".into()),
            glibc: vec!["GLIBC_2.17".into()],
            ..elf::ElfSpec::default()
        }),
    )
    .expect("write library");
    std::fs::write(
        site.join("fast/macos.so"),
        elf::build(&elf::ElfSpec {
            format: Some("macho".into()),
            ..elf::ElfSpec::default()
        }),
    )
    .expect("write mach-o");
    let data = site.join("fast/table.bin");
    let length = elf_for("aarch64").len();
    std::fs::write(
        &data,
        &"0123456789abcdef\n".repeat(length).as_bytes()[..length],
    )
    .expect("write data");
    data
}

#[test]
fn a_cached_rebuild_finds_what_an_uncached_build_finds_on_generated_elf_files() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    native_tree(&tree);
    age_tree(&tree);
    let zip = output(work.path(), "layer");
    let (first, _) = build("python3.12", work.path(), &tree, &zip, &[]);
    let (plain, recalled) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "plain"),
        &["--no-cache"],
    );
    assert_eq!(recalled, None, "--no-cache has no store");
    let found = codes(&plain);
    for code in ["BIN002", "BIN004", "BIN007"] {
        assert!(found.iter().any(|found| found == code), "{code}: {plain}");
    }
    assert_eq!(findings(&first), findings(&plain));

    // Every file of the layer is recalled now, another output of the same files too.
    write(
        &tree.join("python/lib/python3.12/site-packages/fast/__init__.py"),
        "from ._speed import go  # edited\n",
    );
    // Past the racy margin, so that what this build reads of the edited file is kept.
    std::thread::sleep(Duration::from_millis(300));
    let (rebuilt, recalled) = build("python3.12", work.path(), &tree, &zip, &[]);
    assert_eq!(recalled, Some(4), "{rebuilt}");
    assert_eq!(findings(&rebuilt), findings(&plain));
    let (other, recalled) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "other"),
        &[],
    );
    assert_eq!(recalled, Some(5), "{other}");
    assert_eq!(findings(&other), findings(&plain));
}

#[test]
fn a_file_replaced_by_machine_code_of_the_same_size_is_inspected_again() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    let data = native_tree(&tree);
    age_tree(&tree);
    let zip = output(work.path(), "layer");
    build("python3.12", work.path(), &tree, &zip, &[]);
    let (before, recalled) = build("python3.12", work.path(), &tree, &zip, &["--strict"]);
    assert_eq!(recalled, Some(5), "the data file was recalled: {before}");
    assert!(!codes(&before).contains(&"BIN001".to_string()), "{before}");

    // Same size, same modification time, other bytes: an aarch64 ELF file. Its content hash is
    // new, so what was kept for the text it replaced cannot be recalled for it.
    let mtime = std::fs::metadata(&data)
        .and_then(|metadata| metadata.modified())
        .expect("mtime");
    let aarch64 = elf_for("aarch64");
    assert_eq!(
        aarch64.len() as u64,
        std::fs::metadata(&data).expect("size").len()
    );
    std::fs::write(&data, &aarch64).expect("replace with ELF");
    set_mtime(&data, mtime);
    let (after, _) = build("python3.12", work.path(), &tree, &zip, &[]);
    assert!(codes(&after).contains(&"BIN001".to_string()), "{after}");
    let (plain, _) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "plain"),
        &["--no-cache"],
    );
    assert_eq!(findings(&after), findings(&plain));
}

#[test]
fn a_damaged_store_is_ignored_and_replaced() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    native_tree(&tree);
    age_tree(&tree);
    let zip = output(work.path(), "layer");
    let (first, _) = build("python3.12", work.path(), &tree, &zip, &[]);
    let store = common::test_cache_dir(work.path()).join("inspections");
    let mut bytes = std::fs::read(&store).expect("the build kept its inspections");
    // Damage the bytes of the records (past the header), where a wrong finding would be read.
    let at = bytes.len() - 40;
    bytes[at] ^= 0x20;
    std::fs::write(&store, &bytes).expect("damage the store");
    let (damaged, recalled) = build("python3.12", work.path(), &tree, &zip, &["--strict"]);
    assert_eq!(recalled, Some(0), "a damaged store is not read: {damaged}");
    assert_eq!(findings(&damaged), findings(&first));
    // The build that ignored it wrote a whole one again.
    let (again, recalled) = build("python3.12", work.path(), &tree, &zip, &[]);
    assert_eq!(recalled, Some(5), "{again}");
    assert_eq!(findings(&again), findings(&first));
}

#[test]
fn a_cached_rebuild_of_the_real_python_layer_finds_what_an_uncached_build_finds() {
    let bench = common::bench_layers_root().join("py312-x86");
    if !bench.is_dir() {
        common::unavailable(&format!("{} is missing", bench.display()));
        return;
    }
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&bench)
        .arg(&tree)
        .status()
        .expect("run cp");
    assert!(copied.success());
    std::thread::sleep(Duration::from_millis(300));
    let zip = output(work.path(), "layer");
    let (cold, _) = build("python3.12", work.path(), &tree, &zip, &[]);
    let (plain, _) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "plain"),
        &["--no-cache"],
    );
    assert!(
        !plain["findings"].as_array().expect("findings").is_empty(),
        "the python layer has findings to compare: {plain}"
    );
    assert_eq!(findings(&cold), findings(&plain));

    // One .py edited: every other file is recalled, and the findings are the same.
    let py = tree.join("python/lib/python3.12/site-packages/annotated_types/__init__.py");
    let mut text = std::fs::read(&py).expect("read a .py");
    text.extend_from_slice(b"\n# edited\n");
    std::fs::write(&py, &text).expect("edit");
    std::thread::sleep(Duration::from_millis(300));
    let (rebuilt, recalled_but_one) = build("python3.12", work.path(), &tree, &zip, &[]);
    assert!(
        recalled_but_one.is_some_and(|recalled| recalled > 4000),
        "{recalled_but_one:?}"
    );
    let (plain, _) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "plain"),
        &["--no-cache"],
    );
    assert_eq!(findings(&rebuilt), findings(&plain));

    // Another layer of the same files: every file is recalled.
    let (other, recalled) = build(
        "python3.12",
        work.path(),
        &tree,
        &output(work.path(), "other"),
        &[],
    );
    assert_eq!(
        recalled,
        recalled_but_one.map(|recalled| recalled + 1),
        "{}",
        other["cache"]
    );
    assert_eq!(findings(&other), findings(&plain));
}
