//! The build cache changes no byte: after every kind of edit a cached build equals a
//! `--no-cache` build of the same tree, damaged cache entries are never shipped, and the hit
//! counts prove the cache was really used (so these tests fail if it silently is not).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::{self, layerpack, write};

/// A small real-looking Python layer: a package, a binary-ish blob, an already compressed file.
fn python_tree(root: &Path) {
    write(
        &root.join("python/app/__init__.py"),
        "from .core import run\n",
    );
    write(
        &root.join("python/app/core.py"),
        &"def run(event, context):\n    return {'ok': True}\n".repeat(40),
    );
    write(
        &root.join("python/app/util.py"),
        &"import json\n\ndef dump(x):\n    return json.dumps(x)\n".repeat(30),
    );
    write(
        &root.join("python/app/data/words.txt"),
        &"lambda layer cache\n".repeat(500),
    );
    let mut gzip = b"\x1f\x8b\x08\x00".to_vec();
    gzip.extend((0..4000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(root.join("python/app/data/blob.gz"), gzip).expect("write gzip");
    write(&root.join("python/app/empty.py"), "");
}

/// Runs `build --dir TREE --output ZIP --format json` with `extra` flags; returns the layer's
/// JSON object.
fn build(work: &Path, tree: &Path, zip: &Path, extra: &[&str]) -> serde_json::Value {
    let output = layerpack(work)
        .args([
            "build",
            "--format",
            "json",
            "--runtime",
            "python3.12",
            "--dir",
        ])
        .arg(tree)
        .arg("--output")
        .arg(zip)
        .args(extra)
        .output()
        .expect("run layerpack");
    assert!(
        output.status.success(),
        "build failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    json["layers"][0].clone()
}

/// Builds `tree` with the cache and with `--no-cache`, asserts the zips are identical, and
/// returns the cached build's JSON.
fn build_both(work: &Path, tree: &Path) -> serde_json::Value {
    let cached = build(work, tree, &work.join("cached.zip"), &[]);
    let plain = build(work, tree, &work.join("plain.zip"), &["--no-cache"]);
    assert_eq!(
        plain["cache"],
        serde_json::Value::Null,
        "--no-cache uses no cache"
    );
    let cached_bytes = std::fs::read(work.join("cached.zip")).expect("cached zip");
    let plain_bytes = std::fs::read(work.join("plain.zip")).expect("plain zip");
    assert!(
        cached_bytes == plain_bytes,
        "the cached build differs from a --no-cache build: {cached}"
    );
    assert_eq!(
        cached["manifest"]["code_sha256"], plain["manifest"]["code_sha256"],
        "same CodeSha256"
    );
    cached
}

fn counts(layer: &serde_json::Value) -> (String, u64, u64) {
    (
        layer["status"].as_str().unwrap_or("?").to_string(),
        layer["cache"]["from_cache"].as_u64().unwrap_or(u64::MAX),
        layer["cache"]["compressed"].as_u64().unwrap_or(u64::MAX),
    )
}

fn status(layer: &serde_json::Value) -> String {
    counts(layer).0
}

fn set_mtime(path: &Path, seconds_ago: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to set mtime");
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .expect("set mtime");
}

/// The number of files of the tree that are not empty (the ones that go through the cache).
const NON_EMPTY_FILES: u64 = 5;

#[test]
fn cached_builds_equal_uncached_builds_after_every_kind_of_edit() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);

    let first = build_both(work.path(), &tree);
    assert_eq!(counts(&first), ("written".into(), 0, NON_EMPTY_FILES));

    // Content changed: only that file is compressed again.
    write(
        &tree.join("python/app/core.py"),
        "def run(event, context):\n    return 2\n",
    );
    let changed = build_both(work.path(), &tree);
    assert_eq!(counts(&changed), ("written".into(), NON_EMPTY_FILES - 1, 1));

    // A file added: only the new content is compressed.
    write(&tree.join("python/app/extra.py"), &"X = 1\n".repeat(20));
    let added = build_both(work.path(), &tree);
    assert_eq!(counts(&added), ("written".into(), NON_EMPTY_FILES, 1));

    // A file removed: everything else comes from the cache.
    std::fs::remove_file(tree.join("python/app/util.py")).expect("remove");
    let removed = build_both(work.path(), &tree);
    assert_eq!(counts(&removed), ("written".into(), NON_EMPTY_FILES, 0));

    // Mode changed: a new zip (0755 instead of 0644), but no content is compressed again.
    std::fs::set_permissions(
        tree.join("python/app/core.py"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let moded = build_both(work.path(), &tree);
    assert_eq!(counts(&moded), ("written".into(), NON_EMPTY_FILES, 0));

    // A file renamed: same content at another path, taken from the cache.
    std::fs::rename(
        tree.join("python/app/data/words.txt"),
        tree.join("python/app/data/renamed.txt"),
    )
    .expect("rename");
    let renamed = build_both(work.path(), &tree);
    assert_eq!(counts(&renamed), ("written".into(), NON_EMPTY_FILES, 0));

    // mtime touched without a content change: the file is hashed, found the same, and the
    // layer is unchanged.
    set_mtime(&tree.join("python/app/__init__.py"), 5000);
    let touched = build_both(work.path(), &tree);
    assert_eq!(status(&touched), "unchanged");
    assert!(touched["cache"]["hashed"].as_u64() >= Some(1), "{touched}");

    // And an edit that keeps size, mtime and inode is still seen, because ctime moved.
    let core = tree.join("python/app/core.py");
    let before = std::fs::metadata(&core).expect("stat");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&core)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, b"def run(event, context):\n    return 3\n")?;
            file.set_modified(before.modified()?)
        })
        .expect("rewrite in place");
    let after = std::fs::metadata(&core).expect("stat");
    assert_eq!(
        (
            before.len(),
            before.mtime(),
            before.mtime_nsec(),
            before.ino()
        ),
        (after.len(), after.mtime(), after.mtime_nsec(), after.ino())
    );
    let same_size = build_both(work.path(), &tree);
    assert_eq!(status(&same_size), "written");
}

#[test]
fn an_unchanged_layer_is_reported_and_nothing_is_rewritten() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    // Inputs older than a clock tick, as a layer between two CI runs is.
    for entry in walkdir::WalkDir::new(&tree) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            set_mtime(entry.path(), 3600);
        }
    }
    // Setting the mtime moved the ctime to now: let it age past the racy margin (100 ms), as a
    // layer's files have between two CI runs, so that the signatures are trusted.
    std::thread::sleep(Duration::from_millis(300));
    let zip = work.path().join("dist/layer.zip");
    let manifest = work.path().join("dist/layer.zip.json");
    assert_eq!(status(&build(work.path(), &tree, &zip, &[])), "written");
    let identity = |path: &Path| {
        let metadata = std::fs::metadata(path).expect("stat");
        (
            metadata.ino(),
            metadata.mtime(),
            metadata.mtime_nsec(),
            metadata.len(),
        )
    };
    let zip_before = identity(&zip);
    let manifest_before = identity(&manifest);
    let bytes_before = std::fs::read(&zip).expect("zip");

    let again = build(work.path(), &tree, &zip, &[]);
    assert_eq!(status(&again), "unchanged", "{again}");
    assert_eq!(
        again["manifest"]["code_sha256"].as_str().map(str::len),
        Some(44)
    );
    assert_eq!(identity(&zip), zip_before, "the zip is not rewritten");
    assert_eq!(
        identity(&manifest),
        manifest_before,
        "the manifest is not rewritten"
    );
    // Once re-verified, a third build trusts the signatures and reads no file at all.
    let third = build(work.path(), &tree, &zip, &[]);
    assert_eq!(status(&third), "unchanged");
    assert_eq!(third["cache"]["hashed"], 0, "{third}");

    // The human summary says so.
    let human = layerpack(work.path())
        .args(["build", "--runtime", "python3.12", "--dir"])
        .arg(&tree)
        .arg("--output")
        .arg(&zip)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("unchanged"), "{text}");

    // Output gone or altered: written again, from the cache, to the same bytes.
    std::fs::remove_file(&manifest).expect("remove manifest");
    let rewritten = build(work.path(), &tree, &zip, &[]);
    assert_eq!(counts(&rewritten), ("written".into(), NON_EMPTY_FILES, 0));
    std::fs::write(&zip, b"not a zip").expect("clobber");
    assert_eq!(status(&build(work.path(), &tree, &zip, &[])), "written");
    assert_eq!(std::fs::read(&zip).expect("zip"), bytes_before);

    // A different configuration (here SOURCE_DATE_EPOCH) is never unchanged.
    let output = layerpack(work.path())
        .args([
            "build",
            "--format",
            "json",
            "--runtime",
            "python3.12",
            "--dir",
        ])
        .arg(&tree)
        .arg("--output")
        .arg(&zip)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(status(&json["layers"][0]), "written");
}

/// Every entry file of the cache.
fn entry_files(cache: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(cache.join("entries"))
        .into_iter()
        .map(|entry| entry.expect("walk cache"))
        .filter(|entry| entry.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

#[test]
fn corrupt_or_truncated_cache_entries_are_recompressed_never_shipped() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    let cache = common::test_cache_dir(work.path());
    build_both(work.path(), &tree);
    let entries = entry_files(&cache);
    assert_eq!(entries.len() as u64, NON_EMPTY_FILES);
    for (index, path) in entries.iter().enumerate() {
        let mut bytes = std::fs::read(path).expect("read entry");
        match index % 3 {
            0 => {
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x01;
            }
            1 => bytes.truncate(bytes.len() - 7),
            _ => bytes.truncate(40),
        }
        std::fs::write(path, bytes).expect("damage entry");
    }
    // Forget the layer record, so every entry is looked up by content.
    std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
    let repaired = build_both(work.path(), &tree);
    assert_eq!(counts(&repaired), ("written".into(), 0, NON_EMPTY_FILES));
    // The damaged entries were replaced: the next build takes every one from the cache.
    std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
    let reused = build_both(work.path(), &tree);
    assert_eq!(counts(&reused), ("written".into(), NON_EMPTY_FILES, 0));
}

#[test]
fn a_second_layer_sharing_files_compresses_only_its_own() {
    let work = tempfile::tempdir().expect("temp");
    let first = work.path().join("first");
    let second = work.path().join("second");
    python_tree(&first);
    python_tree(&second);
    write(
        &second.join("python/app/only_here.py"),
        &"Y = 2\n".repeat(30),
    );
    let one = build(work.path(), &first, &work.path().join("one.zip"), &[]);
    assert_eq!(counts(&one), ("written".into(), 0, NON_EMPTY_FILES));
    let two = build(work.path(), &second, &work.path().join("two.zip"), &[]);
    assert_eq!(counts(&two), ("written".into(), NON_EMPTY_FILES, 1));
}

#[test]
fn cache_folder_flags_and_environment() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    let zip = work.path().join("layer.zip");
    let from_env = common::test_cache_dir(work.path());

    // --no-cache reads and writes no cache folder.
    build(work.path(), &tree, &zip, &["--no-cache"]);
    assert!(!from_env.exists(), "--no-cache made {}", from_env.display());

    // LAYERPACK_CACHE_DIR is used; --cache-dir wins over it.
    build(work.path(), &tree, &zip, &[]);
    assert_eq!(entry_files(&from_env).len() as u64, NON_EMPTY_FILES);
    let flagged = work.path().join("flag-cache");
    let layer = build(
        work.path(),
        &tree,
        &work.path().join("other.zip"),
        &["--cache-dir", flagged.to_str().expect("utf-8")],
    );
    assert_eq!(counts(&layer), ("written".into(), 0, NON_EMPTY_FILES));
    assert_eq!(entry_files(&flagged).len() as u64, NON_EMPTY_FILES);

    // A size limit keeps the folder under it, evicting what was used least recently.
    let small = work.path().join("small-cache");
    build(
        work.path(),
        &tree,
        &work.path().join("small.zip"),
        &[
            "--cache-dir",
            small.to_str().expect("utf-8"),
            "--cache-max-size",
            "3KiB",
        ],
    );
    let total: u64 = walkdir::WalkDir::new(&small)
        .into_iter()
        .map(|entry| entry.expect("walk"))
        .filter(|entry| entry.file_type().is_file() && entry.file_name() != "written-since-sweep")
        .map(|entry| entry.metadata().expect("stat").len())
        .sum();
    assert!(total <= 3 * 1024, "cache holds {total} bytes");
    assert!(
        (entry_files(&small).len() as u64) < NON_EMPTY_FILES,
        "something was evicted"
    );
}

#[test]
fn cache_max_size_in_layer_toml_must_be_a_size() {
    let work = tempfile::tempdir().expect("temp");
    write(
        &work.path().join("layer.toml"),
        "[cache]\nmax-size = \"lots\"\n\n[layer.a]\nruntimes = [\"python3.12\"]\n[[layer.a.source]]\npath = \"src\"\ninto = \"python\"\n",
    );
    write(&work.path().join("src/a.py"), "A = 1\n");
    let output = layerpack(work.path()).arg("build").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`lots` is not a size"), "{stderr}");
    write(
        &work.path().join("layer.toml"),
        "[cache]\nmax-size = \"500 MiB\"\n\n[layer.a]\nruntimes = [\"python3.12\"]\n[[layer.a.source]]\npath = \"src\"\ninto = \"python\"\n",
    );
    let output = layerpack(work.path()).arg("build").output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
