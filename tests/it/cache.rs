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
    build_for("python3.12", work, tree, zip, extra)
}

fn build_for(
    runtime: &str,
    work: &Path,
    tree: &Path,
    zip: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let output = layerpack(work)
        .args(["build", "--format", "json", "--runtime", runtime, "--dir"])
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

fn status_of(layer: &serde_json::Value) -> String {
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
    // The unchanged files were copied from the zip the last build left, not from cache files.
    assert_eq!(
        changed["cache"]["from_previous_zip"],
        NON_EMPTY_FILES - 1,
        "{changed}"
    );

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
    assert_eq!(status_of(&touched), "unchanged");
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
    assert_eq!(status_of(&same_size), "written");
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
    assert_eq!(status_of(&build(work.path(), &tree, &zip, &[])), "written");
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
    assert_eq!(status_of(&again), "unchanged", "{again}");
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
    assert_eq!(status_of(&third), "unchanged");
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
    assert_eq!(status_of(&build(work.path(), &tree, &zip, &[])), "written");
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
    assert_eq!(status_of(&json["layers"][0]), "written");
}

/// Ages every file of `tree` past the racy margin, as a layer's files are between two CI runs,
/// so that their stat signatures are trusted.
fn age_tree(tree: &Path) {
    for entry in walkdir::WalkDir::new(tree) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            set_mtime(entry.path(), 3600);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// Flips one bit of the byte at `at` of `zip` and gives the file back its modification time, so
/// that only its content tells the damage.
fn flip_bit_keeping_mtime(zip: &Path, at: u64) {
    let mut bytes = std::fs::read(zip).expect("zip");
    let modified = std::fs::metadata(zip)
        .and_then(|metadata| metadata.modified())
        .expect("mtime");
    bytes[at as usize] ^= 0x10;
    std::fs::write(zip, &bytes).expect("tamper");
    std::fs::File::options()
        .write(true)
        .open(zip)
        .and_then(|file| file.set_modified(modified))
        .expect("restore mtime");
}

/// Where the compressed bytes of `name` start in the zip at `zip`.
fn data_start(zip: &Path, name: &str) -> u64 {
    let file = std::fs::File::open(zip).expect("open zip");
    let mut archive = zip::ZipArchive::new(file).expect("read zip");
    let entry = archive.by_name(name).expect("entry in zip");
    entry.data_start().expect("data start")
}

#[test]
fn a_tampered_previous_zip_is_detected_and_never_copied() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    let cache = common::test_cache_dir(work.path());
    let zip = work.path().join("cached.zip");
    build_both(work.path(), &tree);

    // A byte of one entry's compressed data flipped, the zip's mtime put back: the entry's
    // bytes no longer match what was recorded for them, so that entry is compressed again
    // (its cache file is gone too) and every other one is still copied from the zip.
    let words = "python/app/data/words.txt";
    flip_bit_keeping_mtime(&zip, data_start(&zip, words) + 3);
    std::fs::remove_dir_all(cache.join("entries")).expect("empty the content cache");
    let repaired = build_both(work.path(), &tree);
    assert_eq!(
        counts(&repaired),
        ("written".into(), NON_EMPTY_FILES - 1, 1),
        "{repaired}"
    );
    assert_eq!(repaired["cache"]["from_previous_zip"], NON_EMPTY_FILES - 1);

    // A central directory record that lies about an entry (its CRC-32 changed): not copied.
    let mut bytes = std::fs::read(&zip).expect("zip");
    let central = bytes
        .windows(4)
        .rposition(|window| window == b"PK\x01\x02")
        .expect("a central record");
    bytes[central + 16] ^= 0x01;
    std::fs::write(&zip, &bytes).expect("tamper central directory");
    let last = {
        let file = std::fs::File::open(&zip).expect("open");
        let archive = zip::ZipArchive::new(file).expect("still a zip");
        archive
            .name_for_index(archive.len() - 1)
            .expect("last name")
            .expect("a name")
            .to_string()
    };
    std::fs::remove_dir_all(cache.join("entries")).expect("empty the content cache");
    let again = build_both(work.path(), &tree);
    let expected_copies = if last.ends_with('/') || last.ends_with("empty.py") {
        NON_EMPTY_FILES
    } else {
        NON_EMPTY_FILES - 1
    };
    assert_eq!(
        again["cache"]["from_previous_zip"], expected_copies,
        "{last}: {again}"
    );

    // A local header that puts its entry's data elsewhere (its extra field's length changed):
    // whatever is copied from where, the zip equals a --no-cache build's.
    let mut bytes = std::fs::read(&zip).expect("zip");
    let extra_len = data_start(&zip, words) as usize - words.len() - 2;
    assert_eq!(bytes[extra_len..extra_len + 2], [0, 0], "no extra field");
    bytes[extra_len] = 4;
    std::fs::write(&zip, &bytes).expect("tamper local header");
    std::fs::remove_dir_all(cache.join("entries")).expect("empty the content cache");
    build_both(work.path(), &tree);

    // A previous zip cut short, or another file in its place: nothing copied, same bytes.
    let bytes = std::fs::read(&zip).expect("zip");
    std::fs::write(&zip, &bytes[..bytes.len() / 2]).expect("truncate");
    std::fs::remove_dir_all(cache.join("entries")).expect("empty the content cache");
    let truncated = build_both(work.path(), &tree);
    assert_eq!(
        counts(&truncated),
        ("written".into(), 0, NON_EMPTY_FILES),
        "{truncated}"
    );
    std::fs::write(&zip, b"PK\x05\x06 not a zip").expect("clobber");
    let clobbered = build_both(work.path(), &tree);
    assert_eq!(clobbered["cache"]["from_previous_zip"], 0, "{clobbered}");
}

#[test]
fn a_second_output_of_the_same_files_reads_none_of_them() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    age_tree(&tree);
    let one = build(work.path(), &tree, &work.path().join("one.zip"), &[]);
    assert_eq!(counts(&one), ("written".into(), 0, NON_EMPTY_FILES));
    // Another output path (another layer of the same folder): the stat index knows every file
    // by its identity, so none is read to be hashed, and each content comes from the cache.
    let two = build(work.path(), &tree, &work.path().join("two.zip"), &[]);
    assert_eq!(counts(&two), ("written".into(), NON_EMPTY_FILES, 0));
    assert_eq!(two["cache"]["hashed"], 0, "{two}");
    let plain = build(
        work.path(),
        &tree,
        &work.path().join("plain.zip"),
        &["--no-cache"],
    );
    assert_eq!(
        plain["manifest"]["code_sha256"],
        two["manifest"]["code_sha256"]
    );
    assert!(
        std::fs::read(work.path().join("two.zip")).expect("two")
            == std::fs::read(work.path().join("plain.zip")).expect("plain")
    );

    // An edit is seen (the signature changed) and only that file is read.
    write(&tree.join("python/app/util.py"), "import os\n");
    let three = build(work.path(), &tree, &work.path().join("three.zip"), &[]);
    assert_eq!(counts(&three), ("written".into(), NON_EMPTY_FILES - 1, 1));
    assert_eq!(three["cache"]["hashed"], 1, "{three}");

    // A damaged stat index is ignored: every file is hashed again, the bytes are the same.
    let index = common::test_cache_dir(work.path()).join("layers/stat-index");
    let mut bytes = std::fs::read(&index).expect("stat index");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&index, bytes).expect("damage the index");
    let four = build(work.path(), &tree, &work.path().join("four.zip"), &[]);
    assert_eq!(four["cache"]["hashed"], NON_EMPTY_FILES + 1, "{four}");
    assert!(
        std::fs::read(work.path().join("four.zip")).expect("four")
            == std::fs::read(work.path().join("three.zip")).expect("three")
    );
}

/// The record of the one layer built with the cache of `work`.
fn layer_record(work: &Path) -> PathBuf {
    let layers = common::test_cache_dir(work).join("layers");
    let records: Vec<PathBuf> = std::fs::read_dir(&layers)
        .expect("layers folder")
        .map(|child| child.expect("list layers").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "record"))
        .collect();
    assert_eq!(records.len(), 1, "one layer record in {}", layers.display());
    records[0].clone()
}

#[test]
fn a_damaged_truncated_or_older_layer_record_is_ignored() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    age_tree(&tree);
    let zip = work.path().join("layer.zip");
    let plain = work.path().join("plain.zip");
    build(work.path(), &tree, &plain, &["--no-cache"]);
    assert_eq!(status_of(&build(work.path(), &tree, &zip, &[])), "written");
    // The control: with its record intact, the layer is unchanged.
    assert_eq!(
        status_of(&build(work.path(), &tree, &zip, &[])),
        "unchanged"
    );
    let record = layer_record(work.path());
    let intact = std::fs::read(&record).expect("record");
    let mut flipped = intact.clone();
    flipped[intact.len() / 2] ^= 0x01;
    let damages: [(&str, Vec<u8>); 5] = [
        ("one bit flipped", flipped),
        ("cut short", intact[..intact.len() - 9].to_vec()),
        ("cut to its header", intact[..12].to_vec()),
        ("empty", Vec::new()),
        (
            "the JSON of an older layerpack",
            br#"{"format":2,"key":"k","recorded_at":0,"entries":[]}"#.to_vec(),
        ),
    ];
    for (damage, bytes) in damages {
        std::fs::write(&record, bytes).expect("damage the record");
        // Ignored: not unchanged, nothing copied from the previous zip (whose places the record
        // gave), every content from the content cache, the same bytes as without a cache.
        let rebuilt = build(work.path(), &tree, &zip, &[]);
        assert_eq!(
            counts(&rebuilt),
            ("written".into(), NON_EMPTY_FILES, 0),
            "{damage}: {rebuilt}"
        );
        assert_eq!(rebuilt["cache"]["from_previous_zip"], 0, "{damage}");
        assert!(
            std::fs::read(&zip).expect("zip") == std::fs::read(&plain).expect("plain"),
            "{damage}: the bytes differ from a --no-cache build"
        );
        // The rebuild wrote a good record again.
        assert_eq!(
            status_of(&build(work.path(), &tree, &zip, &[])),
            "unchanged",
            "{damage}"
        );
    }
}

#[test]
fn edits_are_seen_through_symlinks() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    // A link inside the layer (packed as a link), and the layer's folder named through a link:
    // the signatures the walk takes are the files' own, whichever way their path goes.
    std::os::unix::fs::symlink("data/words.txt", tree.join("python/app/latest.txt"))
        .expect("symlink");
    let through_link = work.path().join("layer-link");
    std::os::unix::fs::symlink(&tree, &through_link).expect("symlink");
    age_tree(&tree);
    let first = build_both(work.path(), &through_link);
    assert_eq!(counts(&first), ("written".into(), 0, NON_EMPTY_FILES));
    let again = build_both(work.path(), &through_link);
    assert_eq!(status_of(&again), "unchanged", "{again}");
    assert_eq!(again["cache"]["hashed"], 0, "{again}");

    // The link's target rewritten in place with its size and mtime kept: only its ctime moved.
    let target = tree.join("python/app/data/words.txt");
    let before = std::fs::metadata(&target).expect("stat");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&target)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, b"LAMBDA")?;
            file.set_modified(before.modified()?)
        })
        .expect("rewrite in place");
    let edited = build_both(work.path(), &through_link);
    assert_eq!(
        counts(&edited),
        ("written".into(), NON_EMPTY_FILES - 1, 1),
        "{edited}"
    );
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
fn entries_stored_in_a_pack_read_back_and_a_damaged_one_is_never_shipped() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    // More files than a build stores one by one (32): the rest go into one pack.
    const FILES: u64 = 60;
    for n in 0..FILES {
        write(
            &tree.join(format!("python/many/m{n:02}.py")),
            &format!("VALUE_{n} = {n}\n").repeat(20 + n as usize),
        );
    }
    let cache = common::test_cache_dir(work.path());
    let first = build_both(work.path(), &tree);
    assert_eq!(counts(&first), ("written".into(), 0, FILES));
    let packs: Vec<PathBuf> = std::fs::read_dir(cache.join("entries/packs"))
        .expect("a packs folder")
        .map(|child| child.expect("child").path())
        .filter(|path| path.extension() == Some("pack".as_ref()))
        .collect();
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert_eq!(
        entry_files(&cache).len() as u64,
        32 + 2,
        "32 entry files, one pack and its index"
    );

    // Without the layer record, every content is looked up in the cache, the pack included.
    std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
    let reread = build_both(work.path(), &tree);
    assert_eq!(counts(&reread), ("written".into(), FILES, 0));

    // One flipped byte in the pack damages exactly one of its entries: that one is compressed
    // again, the zip is still the --no-cache build's.
    let mut bytes = std::fs::read(&packs[0]).expect("pack");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&packs[0], bytes).expect("damage the pack");
    std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
    let repaired = build_both(work.path(), &tree);
    assert_eq!(counts(&repaired), ("written".into(), FILES - 1, 1));

    // A damaged pack index hides the whole pack: its entries are compressed again.
    let index = packs[0].with_extension("idx");
    let mut bytes = std::fs::read(&index).expect("index");
    bytes[10] ^= 0x01;
    std::fs::write(&index, bytes).expect("damage the index");
    std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
    let hidden = build_both(work.path(), &tree);
    let (status, from_cache, compressed) = counts(&hidden);
    assert_eq!(status, "written");
    assert_eq!(
        from_cache,
        32 + 1,
        "the entry files and the one stored again"
    );
    assert_eq!(compressed, FILES - 33);
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

#[test]
fn the_real_node_layer_builds_the_same_bytes_from_the_cache() {
    let tree = common::bench_layers_root().join("node-sdk");
    if !tree.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: .ci/run builds the bench layers",
            tree.display()
        );
        eprintln!("note: {} is absent; skipping this test", tree.display());
        return;
    }
    let work = tempfile::tempdir().expect("temp");
    let build = |zip: &str, extra: &[&str]| {
        build_for(
            "nodejs20.x",
            work.path(),
            &tree,
            &work.path().join(zip),
            extra,
        )
    };
    let cold = build("cold.zip", &[]);
    let (status, from_cache, compressed) = counts(&cold);
    assert_eq!(status, "written");
    assert!(compressed > 1000, "{cold}");
    let again = build("cold.zip", &[]);
    assert_eq!(status_of(&again), "unchanged", "{again}");
    // Another layer of the same files: every content comes from the cache.
    let other = build("other.zip", &[]);
    assert_eq!(
        counts(&other),
        ("written".into(), from_cache + compressed, 0)
    );
    build("plain.zip", &["--no-cache"]);
    let plain = std::fs::read(work.path().join("plain.zip")).expect("plain");
    for zip in ["cold.zip", "other.zip"] {
        let cached = std::fs::read(work.path().join(zip)).expect("cached");
        assert!(cached == plain, "{zip} differs from the --no-cache build");
    }

    // One edited JavaScript file in a copy of the layer: the rest is copied from the zip the
    // last build of that output left, and the result is the --no-cache build's bytes.
    let copy = work.path().join("copy");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&tree)
        .arg(&copy)
        .status()
        .expect("run cp");
    assert!(copied.success());
    let build_copy = |zip: &str, extra: &[&str]| {
        build_for(
            "nodejs20.x",
            work.path(),
            &copy,
            &work.path().join(zip),
            extra,
        )
    };
    build_copy("copy.zip", &[]);
    let script = walkdir::WalkDir::new(&copy)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| entry.expect("walk"))
        .find(|entry| {
            entry.file_type().is_file() && entry.path().extension() == Some("js".as_ref())
        })
        .expect("a .js file")
        .into_path();
    let mut text = std::fs::read(&script).expect("read script");
    text.extend_from_slice(b"\n// edited\n");
    std::fs::write(&script, text).expect("edit script");
    let edited = build_copy("copy.zip", &[]);
    assert_eq!(edited["cache"]["compressed"], 1, "{edited}");
    assert!(
        edited["cache"]["from_previous_zip"].as_u64() > Some(1000),
        "{edited}"
    );
    build_copy("copy-plain.zip", &["--no-cache"]);
    assert!(
        std::fs::read(work.path().join("copy.zip")).expect("copy zip")
            == std::fs::read(work.path().join("copy-plain.zip")).expect("plain copy zip"),
        "the edited copy differs from its --no-cache build"
    );
}

/// Writes a text file just over the size from which files stream through the compressor
/// (32 MiB): deflated, so that the cache keeps it.
fn write_streamed_text(path: &Path) {
    let over = layerpack::archive::STREAMED_FILE_BYTES as usize + 300_001;
    let mut text = String::with_capacity(over + 64);
    let mut n: u64 = 1;
    while text.len() < over {
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        text.push_str(&format!(
            "row {}: value {}\n",
            n % 10_007,
            (n >> 33) % 100_003
        ));
    }
    text.truncate(over);
    write(path, &text);
}

/// The cache entry file of the largest content (the streamed one).
fn largest_entry_file(cache: &Path) -> PathBuf {
    entry_files(cache)
        .into_iter()
        .max_by_key(|path| std::fs::metadata(path).expect("stat entry").len())
        .expect("an entry file")
}

/// A file large enough to stream through the compressor goes through the cache like any other:
/// compressed once, then copied (in chunks, never whole) from the previous zip or the content
/// cache; a damaged copy of either is detected and never shipped.
#[test]
fn a_streamed_file_is_compressed_once_and_a_damaged_copy_is_never_shipped() {
    let work = tempfile::tempdir().expect("temp");
    let tree = work.path().join("tree");
    python_tree(&tree);
    let big = "python/app/data/big.txt";
    write_streamed_text(&tree.join(big));
    let cache = common::test_cache_dir(work.path());
    let zip = work.path().join("cached.zip");
    let files = NON_EMPTY_FILES + 1;

    let first = build_both(work.path(), &tree);
    assert_eq!(counts(&first), ("written".into(), 0, files), "{first}");

    // A small file edited: the large one is copied from the zip the last build left.
    write(
        &tree.join("python/app/core.py"),
        "def run(event, context):\n    return 2\n",
    );
    let edited = build_both(work.path(), &tree);
    assert_eq!(
        counts(&edited),
        ("written".into(), files - 1, 1),
        "{edited}"
    );
    assert_eq!(edited["cache"]["from_previous_zip"], files - 1, "{edited}");

    // Its cache entry damaged (a byte flipped in the middle, then cut short) and the layer
    // records forgotten, so that the content is looked up in the cache: compressed again.
    let entry = largest_entry_file(&cache);
    let good = std::fs::read(&entry).expect("entry");
    assert!(
        good.len() > 1 << 20,
        "the large content's entry: {}",
        good.len()
    );
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;
    for damaged in [flipped, good[..good.len() - 5].to_vec()] {
        std::fs::write(&entry, damaged).expect("damage the entry");
        std::fs::remove_dir_all(cache.join("layers")).expect("forget layers");
        let recompressed = build_both(work.path(), &tree);
        assert_eq!(
            counts(&recompressed),
            ("written".into(), files - 1, 1),
            "{recompressed}"
        );
        assert_eq!(recompressed["cache"]["from_previous_zip"], 0);
    }

    // A byte of the large entry's compressed data flipped in the zip the last build left (its
    // mtime put back), past the first chunk, and the content cache emptied: the large file is
    // compressed again, every other entry is still copied from the zip.
    flip_bit_keeping_mtime(&zip, data_start(&zip, big) + (3 << 20) + 17);
    std::fs::remove_dir_all(cache.join("entries")).expect("empty the content cache");
    let repaired = build_both(work.path(), &tree);
    assert_eq!(
        counts(&repaired),
        ("written".into(), files - 1, 1),
        "{repaired}"
    );
    assert_eq!(repaired["cache"]["from_previous_zip"], files - 1);

    // Another output of the same files takes the large one from the content cache (the small
    // ones were copied from the zip since the cache was emptied, so they are compressed).
    let other = build(work.path(), &tree, &work.path().join("other.zip"), &[]);
    assert_eq!(counts(&other), ("written".into(), 1, files - 1), "{other}");
    assert!(
        std::fs::read(work.path().join("other.zip")).expect("other")
            == std::fs::read(work.path().join("plain.zip")).expect("plain"),
        "the zip built from the cache differs from the --no-cache build"
    );
    // The large entry makes this test's cache folder big: leave none behind.
    let _ = std::fs::remove_dir_all(&cache);
}
