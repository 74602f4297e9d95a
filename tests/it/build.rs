//! `layerpack build` end to end: the bundled fixtures, extracted with the system `unzip`;
//! byte-identity whatever the thread count, creation order, mtimes, umask or location; the
//! golden CodeSha256 of each fixture; and bad input that must fail cleanly.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

const FIXTURES: [&str; 5] = ["python", "nodejs", "ruby", "java", "custom"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A copy of a fixture in a fresh temp folder, so tests never write into the repository.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    common::copy_tree(&fixture(name), temp.path());
    let _ = std::fs::remove_dir_all(temp.path().join("dist"));
    temp
}

fn layerpack() -> Command {
    let mut command = Command::cargo_bin("layerpack").expect("binary built");
    command
        .env_remove("SOURCE_DATE_EPOCH")
        .env("NO_COLOR", "1")
        .env(
            "LAYERPACK_CACHE_DIR",
            common::test_cache_dir(Path::new("build")),
        );
    command
}

/// Runs `layerpack build --config DIR/layer.toml` and returns the bytes of the one zip it wrote.
fn build_fixture_at(dir: &Path, envs: &[(&str, &str)]) -> Vec<u8> {
    let output = layerpack()
        .args(["build", "--config"])
        .arg(dir.join("layer.toml"))
        .envs(envs.iter().copied())
        .output()
        .expect("run layerpack");
    assert!(
        output.status.success(),
        "build failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let zips: Vec<PathBuf> = std::fs::read_dir(dir.join("dist"))
        .expect("dist written")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "one zip per fixture");
    std::fs::read(&zips[0]).expect("read zip")
}

/// A zip's SHA-256 as hex and as AWS's `CodeSha256` (base64 of the raw digest), computed here
/// independently of the library.
#[derive(serde::Serialize)]
struct Digests {
    sha256: String,
    code_sha256: String,
}

fn digests_of(bytes: &[u8]) -> Digests {
    use base64::Engine;
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    Digests {
        sha256: hash.iter().map(|byte| format!("{byte:02x}")).collect(),
        code_sha256: base64::engine::general_purpose::STANDARD.encode(hash),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    digests_of(bytes).sha256
}

/// What the layer must contain: each source's files mapped under `into`, minus what `skip` says.
fn expected_tree(
    root: &Path,
    sources: &[(&str, &str)],
    skip: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, (Vec<u8>, u32)> {
    let mut expected = BTreeMap::new();
    for (from, into) in sources {
        let base = root.join(from);
        for entry in walkdir::WalkDir::new(&base).min_depth(1) {
            let entry = entry.expect("walk");
            let relative = entry
                .path()
                .strip_prefix(&base)
                .expect("below base")
                .to_str()
                .expect("utf-8")
                .to_string();
            if skip(&relative) {
                continue;
            }
            let path = format!("{into}/{relative}");
            if entry.file_type().is_dir() {
                expected.insert(path, (Vec::new(), 0o40755));
            } else {
                let mode = entry.metadata().expect("stat").permissions().mode();
                let normalized = if mode & 0o111 != 0 {
                    0o100755
                } else {
                    0o100644
                };
                expected.insert(
                    path,
                    (std::fs::read(entry.path()).expect("read"), normalized),
                );
            }
        }
        // The `into` folders themselves, and their parents.
        let mut parent = String::new();
        for part in into.split('/') {
            parent = if parent.is_empty() {
                part.to_string()
            } else {
                format!("{parent}/{part}")
            };
            expected.insert(parent.clone(), (Vec::new(), 0o40755));
        }
    }
    expected
}

/// Extracts a zip with the system `unzip` and reads back every path, its bytes and its mode.
fn unzip_tree(zip: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new("unzip")
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(out.path())
        .status()
        .expect("unzip is installed (.ci/run installs it)");
    assert!(status.success(), "unzip failed on {}", zip.display());
    let mut found = BTreeMap::new();
    for entry in walkdir::WalkDir::new(out.path()).min_depth(1) {
        let entry = entry.expect("walk");
        let relative = entry
            .path()
            .strip_prefix(out.path())
            .expect("below")
            .to_str()
            .expect("utf-8")
            .to_string();
        let mode = entry.metadata().expect("stat").permissions().mode();
        let bytes = if entry.file_type().is_file() {
            std::fs::read(entry.path()).expect("read")
        } else {
            Vec::new()
        };
        let kind = if entry.file_type().is_dir() {
            0o40000
        } else {
            0o100000
        };
        found.insert(relative, (bytes, kind | (mode & 0o7777)));
    }
    found
}

#[test]
fn every_fixture_builds_and_unzips_to_exactly_its_sources() {
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        fn(&str) -> bool,
    );
    let cases: Vec<Case> = vec![
        (
            "python",
            vec![
                ("src/shared_utils", "python/shared_utils"),
                ("site-packages", "python"),
            ],
            |path| path == "tests" || path.starts_with("tests/"),
        ),
        ("nodejs", vec![("build/nodejs", "nodejs")], |_| false),
        (
            "ruby",
            vec![("vendor/bundle/ruby/3.3.0", "ruby/gems/3.3.0")],
            |_| false,
        ),
        ("java", vec![("build/java/lib", "java/lib")], |_| false),
        ("custom", vec![("bin", "bin"), ("lib", "lib")], |_| false),
    ];
    for (name, sources, skip) in cases {
        let temp = copy_fixture(name);
        build_fixture_at(temp.path(), &[]);
        let zip = std::fs::read_dir(temp.path().join("dist"))
            .expect("dist")
            .map(|entry| entry.expect("entry").path())
            .find(|path| path.extension().is_some_and(|ext| ext == "zip"))
            .expect("zip written");
        let expected = expected_tree(temp.path(), &sources, &skip);
        let found = unzip_tree(&zip);
        let expected_paths: Vec<&String> = expected.keys().collect();
        let found_paths: Vec<&String> = found.keys().collect();
        assert_eq!(found_paths, expected_paths, "{name}: paths differ");
        for (path, (bytes, mode)) in &expected {
            let (found_bytes, found_mode) = &found[path];
            assert_eq!(found_bytes, bytes, "{name}: {path} bytes differ");
            assert_eq!(
                found_mode, mode,
                "{name}: {path} mode {found_mode:o} != {mode:o}"
            );
        }
        // The manifest beside the zip agrees with the zip.
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{}.json", zip.display())).expect("manifest written"),
        )
        .expect("manifest is JSON");
        let bytes = std::fs::read(&zip).expect("zip");
        assert_eq!(
            manifest["sha256"],
            sha256_hex(&bytes),
            "{name}: manifest sha256"
        );
        assert_eq!(
            manifest["zipped_bytes"],
            bytes.len(),
            "{name}: manifest size"
        );
        let files = expected
            .values()
            .filter(|(_, mode)| mode & 0o100000 != 0)
            .count();
        assert_eq!(manifest["files"], files, "{name}: manifest file count");
    }
}

#[test]
fn zipinfo_shows_one_timestamp_everywhere() {
    let temp = copy_fixture("python");
    build_fixture_at(temp.path(), &[]);
    let zip = temp.path().join("dist/shared-utils.zip");
    let listing = Command::new("zipinfo")
        .arg("-T")
        .arg(&zip)
        .output()
        .expect("zipinfo");
    assert!(listing.status.success());
    let text = String::from_utf8_lossy(&listing.stdout);
    let lines: Vec<&str> = text.lines().filter(|line| line.contains(" unx ")).collect();
    assert!(lines.len() > 5, "zipinfo listed entries:\n{text}");
    for line in &lines {
        // `zipinfo -T` prints the date as yyyymmdd.hhmmss.
        assert!(
            line.contains("19800101.000000"),
            "not the fixed date: {line}"
        );
    }

    // SOURCE_DATE_EPOCH moves every entry to that date (2023-11-14 22:13:20 UTC; DOS keeps 2 s).
    build_fixture_at(temp.path(), &[("SOURCE_DATE_EPOCH", "1700000000")]);
    let listing = Command::new("zipinfo")
        .arg("-T")
        .arg(&zip)
        .output()
        .expect("zipinfo");
    let text = String::from_utf8_lossy(&listing.stdout);
    for line in text.lines().filter(|line| line.contains(" unx ")) {
        assert!(
            line.contains("20231114.221320"),
            "not SOURCE_DATE_EPOCH: {line}"
        );
    }
}

#[test]
fn golden_code_sha256_of_every_fixture() {
    let mut digests = BTreeMap::new();
    for name in FIXTURES {
        let temp = copy_fixture(name);
        let bytes = build_fixture_at(temp.path(), &[]);
        digests.insert(name, digests_of(&bytes));
    }
    // A change here is a change of the zip format: every user's CodeSha256 changes with it.
    insta::assert_yaml_snapshot!(digests);
}

/// Rebuilds the python fixture from scratch with files created in a given order, with given
/// mtimes and under a given umask, somewhere else on disk.
fn rebuild_python_fixture(order_seed: u64, mtime_seed: u64, umask: &str) -> Vec<u8> {
    let source = fixture("python");
    let temp = tempfile::tempdir().expect("temp dir");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&source)
        .min_depth(1)
        .into_iter()
        .map(|entry| entry.expect("walk"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            entry
                .path()
                .strip_prefix(&source)
                .expect("below")
                .to_path_buf()
        })
        .filter(|path| !path.starts_with("dist"))
        .collect();
    shuffle(&mut files, order_seed);
    // Create the files one by one in that order through a shell with the umask in force.
    let mut script = format!("umask {umask}\n");
    for relative in &files {
        let target = temp.path().join(relative);
        script.push_str(&format!(
            "mkdir -p '{}' && cat '{}' > '{}'\n",
            target.parent().expect("parent").display(),
            source.join(relative).display(),
            target.display()
        ));
        let mode = std::fs::metadata(source.join(relative))
            .expect("stat")
            .permissions()
            .mode();
        if mode & 0o111 != 0 {
            script.push_str(&format!("chmod +x '{}'\n", target.display()));
        }
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .status()
        .expect("sh");
    assert!(status.success());
    let mut state = mtime_seed;
    for relative in &files {
        state = next_random(state);
        let seconds = 1_000_000_000 + state % 700_000_000;
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
        std::fs::File::options()
            .write(true)
            .open(temp.path().join(relative))
            .expect("open")
            .set_modified(time)
            .expect("set mtime");
    }
    build_fixture_at(temp.path(), &[])
}

fn next_random(state: u64) -> u64 {
    state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
}

fn shuffle(items: &mut [PathBuf], seed: u64) {
    let mut state = seed;
    for index in (1..items.len()).rev() {
        state = next_random(state);
        items.swap(index, (state >> 33) as usize % (index + 1));
    }
}

#[test]
fn creation_order_mtimes_umask_and_location_change_no_byte() {
    let reference = rebuild_python_fixture(1, 1, "022");
    assert_eq!(
        reference,
        rebuild_python_fixture(2, 1, "022"),
        "creation order"
    );
    assert_eq!(reference, rebuild_python_fixture(1, 99, "022"), "mtimes");
    assert_eq!(reference, rebuild_python_fixture(1, 1, "002"), "umask");
    assert_eq!(
        reference,
        rebuild_python_fixture(3, 7, "002"),
        "all at once"
    );
    // The committed fixture itself, built in place of a copy: a different absolute location.
    let temp = copy_fixture("python");
    assert_eq!(reference, build_fixture_at(temp.path(), &[]), "location");
}

#[test]
fn thread_count_changes_no_byte() {
    for name in FIXTURES {
        let temp = copy_fixture(name);
        let one = build_fixture_at(temp.path(), &[("RAYON_NUM_THREADS", "1")]);
        let many = build_fixture_at(temp.path(), &[("RAYON_NUM_THREADS", "8")]);
        let default = build_fixture_at(temp.path(), &[]);
        assert_eq!(one, many, "{name}: 1 vs 8 threads");
        assert_eq!(one, default, "{name}: 1 vs default threads");
    }
}

#[test]
fn build_dir_packs_a_folder_laid_out_as_a_layer() {
    let temp = copy_fixture("custom");
    let layer = tempfile::tempdir().expect("temp");
    common::copy_tree(&temp.path().join("bin"), &layer.path().join("bin"));
    std::fs::write(layer.path().join(".DS_Store"), b"junk").expect("write");
    let zip = layer.path().join("out/custom.zip");
    let output = layerpack()
        .args(["build", "--dir"])
        .arg(layer.path())
        .args([
            "--runtime",
            "provided.al2023",
            "--arch",
            "arm64",
            "--output",
        ])
        .arg(&zip)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found = unzip_tree(&zip);
    let paths: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(paths, ["bin", "bin/greet"], ".DS_Store left out by default");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layer.path().join("out/custom.zip.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["architectures"], serde_json::json!(["arm64"]));
    assert_eq!(manifest["runtimes"], serde_json::json!(["provided.al2023"]));
    let bytes = std::fs::read(&zip).expect("zip");
    let code_sha256 = digests_of(&bytes).code_sha256;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("CodeSha256 {code_sha256}")),
        "{stdout}"
    );
}

/// Writes an in-memory inventory to a zip file and returns its path.
fn write_inventory(entries: Vec<layerpack::inventory::Entry>, dir: &Path) -> PathBuf {
    use layerpack::inventory::{Inventory, Origin};
    let inventory = Inventory::new(Origin::Directory(dir.to_path_buf()), entries);
    let prepared = layerpack::archive::prepare(&inventory, layerpack::archive::DosDateTime::EPOCH)
        .expect("prepare");
    let zip = dir.join("layer.zip");
    prepared.write_atomically(&zip).expect("write");
    assert_eq!(
        prepared.zipped_bytes(),
        std::fs::metadata(&zip).expect("stat").len()
    );
    zip
}

fn memory_file(path: &str, bytes: &[u8]) -> layerpack::inventory::Entry {
    use layerpack::inventory::{ArchivePath, Content, Entry, EntryKind};
    Entry {
        path: ArchivePath::new(path).expect("valid"),
        kind: EntryKind::File,
        mode: Some(0o644),
        size: bytes.len() as u64,
        mtime: None,
        content: Content::Memory(bytes.to_vec().into()),
        implied: false,
    }
}

/// The order README and `archive` document: byte order of the path, a folder sorting by its path
/// without the trailing `/` (so `a/` before `a-b`, and `a-b` before `a/x`, though `/` is the
/// greater byte).
#[test]
fn entries_are_in_byte_order_of_the_path_with_folders_by_their_name() {
    let temp = tempfile::tempdir().expect("temp");
    let zip = write_inventory(
        vec![
            memory_file("a/x", b"1"),
            memory_file("a.txt", b"2"),
            memory_file("a-b", b"3"),
            memory_file("B", b"4"),
        ],
        temp.path(),
    );
    let names: Vec<String> = layerpack::inventory::central_directory_names(&zip)
        .expect("read zip")
        .into_iter()
        .map(|name| String::from_utf8(name).expect("utf-8"))
        .collect();
    assert_eq!(names, ["B", "a/", "a-b", "a.txt", "a/x"]);
}

#[test]
fn more_than_65535_entries_use_zip64_and_every_reader_agrees() {
    let temp = tempfile::tempdir().expect("temp");
    let entries: Vec<_> = (0..70_000)
        .map(|index| memory_file(&format!("lib/d{}/f{index}", index % 100), b"x"))
        .collect();
    let zip = write_inventory(entries, temp.path());
    // The zip crate (central directory through the Zip64 end record) ...
    let archive =
        zip::ZipArchive::new(std::fs::File::open(&zip).expect("open")).expect("zip64 read");
    assert_eq!(
        archive.len(),
        70_000 + 100 + 1,
        "files, their folders and lib/"
    );
    // ... and Info-ZIP's own test of every entry.
    let test = Command::new("unzip")
        .arg("-tqq")
        .arg(&zip)
        .output()
        .expect("unzip");
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
    // Our own reader gives the same inventory back.
    let read = layerpack::inventory::Inventory::from_zip(&zip).expect("read back");
    assert_eq!(read.file_count(), 70_000);
}

#[test]
fn non_ascii_names_carry_the_utf8_flag() {
    let temp = tempfile::tempdir().expect("temp");
    let zip = write_inventory(
        vec![
            memory_file("python/café.py", b"x = 1\n"),
            memory_file("python/plain.py", b"y = 2\n"),
        ],
        temp.path(),
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).expect("open")).expect("read");
    let names: Vec<String> = (0..archive.len())
        .map(|index| {
            archive
                .by_index(index)
                .expect("entry")
                .name()
                .expect("utf-8 name")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["python/", "python/café.py", "python/plain.py"]);
    // General-purpose flag bit 11 sits at offset 6 of each local header.
    let bytes = std::fs::read(&zip).expect("zip");
    let flags_of = |name: &str| {
        let at = bytes
            .windows(name.len())
            .position(|window| window == name.as_bytes())
            .expect("name in zip");
        u16::from_le_bytes([bytes[at - 30 + 6], bytes[at - 30 + 7]])
    };
    assert_eq!(flags_of("python/café.py") & 0x0800, 0x0800);
    assert_eq!(flags_of("python/plain.py") & 0x0800, 0);
}

/// `len` bytes of text that compresses (lines of words picked by xorshift from `seed`).
fn compressible_text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 8] = [
        "layer", "lambda", "python", "import", "numpy", "opt", "zip", "runtime",
    ];
    let mut state = seed | 1;
    let mut text = Vec::with_capacity(len + 64);
    while text.len() < len {
        state = next_random(state);
        text.extend_from_slice(WORDS[(state % 8) as usize].as_bytes());
        text.push(if state.is_multiple_of(11) {
            b'\n'
        } else {
            b' '
        });
    }
    text.truncate(len);
    text
}

/// `len` bytes that do not compress (xorshift from `seed`).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = next_random(state);
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Files over `STREAMED_FILE_BYTES` stream through zlib-rs in chunks: one that compresses is
/// deflated, one that does not and one that is already gzip are stored; every byte comes back,
/// the bytes do not depend on the thread count, and the zip is pinned like the fixtures' (a
/// change of zlib-rs, the level or the chunk size shows here).
#[test]
fn large_files_stream_through_the_compressor_and_are_pinned() {
    use layerpack::archive::STREAMED_FILE_BYTES;
    let over = STREAMED_FILE_BYTES as usize + 123_457;
    let text = compressible_text(over, 7);
    let random = noise(over, 11);
    let mut gzip = noise(over, 13);
    gzip[..3].copy_from_slice(b"\x1f\x8b\x08");
    let entries = || {
        vec![
            memory_file("python/text.txt", &text),
            memory_file("python/random.bin", &random),
            memory_file("python/archive.gz", &gzip),
            memory_file("python/small.txt", b"small\n"),
        ]
    };
    let temp = tempfile::tempdir().expect("temp");
    let zip = write_inventory(entries(), temp.path());
    let bytes = std::fs::read(&zip).expect("zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).expect("read");
    let mut methods = BTreeMap::new();
    for (name, expected) in [
        ("python/text.txt", &text),
        ("python/random.bin", &random),
        ("python/archive.gz", &gzip),
    ] {
        let mut entry = archive.by_name(name).expect("entry");
        methods.insert(name, format!("{:?}", entry.compression()));
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut read).expect("inflate");
        assert!(
            read == **expected,
            "{name}: bytes differ after a round trip"
        );
    }
    assert_eq!(methods["python/text.txt"], "Deflated");
    assert_eq!(methods["python/random.bin"], "Stored");
    assert_eq!(methods["python/archive.gz"], "Stored");
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let again = tempfile::tempdir().expect("temp");
        let zip = pool.install(|| write_inventory(entries(), again.path()));
        assert!(
            std::fs::read(&zip).expect("zip") == bytes,
            "{threads} threads"
        );
    }
    insta::assert_yaml_snapshot!(digests_of(&bytes));
}
