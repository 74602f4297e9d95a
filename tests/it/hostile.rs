//! The hostile corpus: one test per way an input can try to make layerpack hang, run out of
//! memory, or pass what Lambda cannot extract. Every zip is generated here (a 1 GiB bomb costs
//! about 1 MiB); each test asserts the exit code and the message, and the peak memory of the
//! child where memory is what the input attacks.

use std::path::Path;
use std::time::Duration;

use crate::common::hostile::{Alias, MAX_RSS_KIB, Measured, Raw, run_measured, write_zip};
use crate::common::{self, layerpack};

/// One GiB: the size of every bomb here.
const GIB: u64 = 1 << 30;

/// A hang guard, not a speed test: a bounded command finishes far sooner even unoptimized.
const TIMEOUT: Duration = Duration::from_secs(120);

fn run(dir: &Path, args: &[&str]) -> Measured {
    run_measured(layerpack(dir).args(args), TIMEOUT)
}

fn assert_bounded(what: &str, measured: &Measured) {
    assert!(
        measured.max_rss_kib < MAX_RSS_KIB,
        "{what}: peak memory {} KiB (limit {MAX_RSS_KIB} KiB)\nstdout:\n{}\nstderr:\n{}",
        measured.max_rss_kib,
        measured.stdout,
        measured.stderr
    );
}

fn assert_exit(what: &str, measured: &Measured, code: i32) {
    assert_eq!(
        measured.code,
        Some(code),
        "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
        measured.stdout,
        measured.stderr
    );
}

/// The first bytes of a real (tiny) x86-64 shared object.
fn elf_prefix() -> Vec<u8> {
    common::elf::build(&common::elf::ElfSpec {
        path: "x.so".to_string(),
        needed: vec!["libc.so.6".to_string()],
        glibc: vec!["GLIBC_2.17".to_string()],
        ..Default::default()
    })
}

#[test]
fn an_elf_bomb_is_inspected_in_bounded_memory() {
    let temp = tempfile::tempdir().expect("temp dir");
    let zip = temp.path().join("bomb.zip");
    write_zip(
        &zip,
        &[Raw::zeros("lib/libbomb.so", &elf_prefix(), GIB).mode(0o100755)],
        &[],
    );
    let checked = run(
        temp.path(),
        &["check", "bomb.zip", "--runtime", "python3.12"],
    );
    assert_bounded("check", &checked);
    assert_exit("check", &checked, 1);
    assert!(checked.stdout.contains("SIZE001"), "{}", checked.stdout);
    let inspected = run(temp.path(), &["inspect", "bomb.zip"]);
    assert_bounded("inspect", &inspected);
    assert_exit("inspect", &inspected, 0);
    assert!(inspected.stdout.contains("x86_64"), "{}", inspected.stdout);
    let diffed = run(temp.path(), &["diff", "bomb.zip", "bomb.zip"]);
    assert_bounded("diff", &diffed);
    assert_exit("diff", &diffed, 0);
}

#[test]
fn a_symlink_bomb_keeps_a_path_length_of_target() {
    let temp = tempfile::tempdir().expect("temp dir");
    let zip = temp.path().join("bomb.zip");
    write_zip(
        &zip,
        &[Raw::zeros("lib/link", b"target", GIB).mode(0o120777)],
        &[],
    );
    let checked = run(
        temp.path(),
        &["check", "bomb.zip", "--runtime", "python3.12"],
    );
    assert_bounded("check", &checked);
    assert_exit("check", &checked, 1);
    assert!(
        checked.stdout.contains("ZIP006") && checked.stdout.contains("Linux accepts at most"),
        "{}",
        checked.stdout
    );
    let inspected = run(temp.path(), &["inspect", "bomb.zip"]);
    assert_bounded("inspect", &inspected);
    assert_exit("inspect", &inspected, 0);
}

#[test]
fn why_reads_pth_package_json_and_jars_up_to_a_cap() {
    let temp = tempfile::tempdir().expect("temp dir");
    let site = "python/lib/python3.12/site-packages";
    write_zip(
        &temp.path().join("python.zip"),
        &[Raw::zeros(&format!("{site}/evil.pth"), b"/opt/x\n", GIB)],
        &[],
    );
    let why = run(
        temp.path(),
        &["why", "numpy", "--runtime", "python3.12", "python.zip"],
    );
    assert_bounded("why .pth", &why);
    assert_exit("why .pth", &why, 1);
    assert!(why.stdout.contains("numpy"), "{}", why.stdout);

    write_zip(
        &temp.path().join("node.zip"),
        &[Raw::zeros(
            "nodejs/node_modules/left-pad/package.json",
            b"{\"name\":\"left-pad\",\"main\":\"x.js\"}",
            GIB,
        )],
        &[],
    );
    let why = run(
        temp.path(),
        &["why", "left-pad", "--runtime", "nodejs20.x", "node.zip"],
    );
    assert_bounded("why package.json", &why);
    assert!(why.code == Some(0) || why.code == Some(1), "{why:?}");

    write_zip(
        &temp.path().join("java.zip"),
        &[Raw::zeros("java/lib/evil.jar", b"PK\x03\x04", GIB)],
        &[],
    );
    let why = run(
        temp.path(),
        &[
            "why",
            "com.example.Handler",
            "--runtime",
            "java21",
            "java.zip",
        ],
    );
    assert_bounded("why jar", &why);
    assert_exit("why jar", &why, 1);
}

#[test]
fn entries_sharing_one_stream_are_read_once() {
    let temp = tempfile::tempdir().expect("temp dir");
    let aliases: Vec<Alias> = (0..20)
        .map(|index| Alias {
            name: format!("lib/libcopy{index:02}.so").into_bytes(),
            target: 0,
        })
        .collect();
    write_zip(
        &temp.path().join("overlap.zip"),
        &[Raw::zeros("lib/libbomb.so", &elf_prefix(), GIB).mode(0o100755)],
        &aliases,
    );
    let checked = run(
        temp.path(),
        &["check", "overlap.zip", "--runtime", "python3.12"],
    );
    assert_bounded("check", &checked);
    assert_exit("check", &checked, 1);
    assert_eq!(
        checked.stdout.matches("ZIP007").count(),
        20,
        "every alias is reported:\n{}",
        checked.stdout
    );
    let inspected = run(temp.path(), &["inspect", "overlap.zip"]);
    assert_bounded("inspect", &inspected);
    assert_exit("inspect", &inspected, 0);
}

#[test]
fn sizes_that_add_up_past_2_64_saturate() {
    let temp = tempfile::tempdir().expect("temp dir");
    let entries: Vec<Raw> = (0..4)
        .map(|index| Raw {
            size: 1 << 62,
            ..Raw::stored(&format!("python/huge{index}.bin"), b"tiny")
        })
        .collect();
    write_zip(&temp.path().join("wrap.zip"), &entries, &[]);
    let checked = run(
        temp.path(),
        &["check", "wrap.zip", "--runtime", "python3.12"],
    );
    assert_exit("check", &checked, 1);
    assert!(
        checked.stdout.contains("SIZE001"),
        "the sum of sizes must not wrap to a small number:\n{}",
        checked.stdout
    );
}

// Folders and builds.

/// `mkfifo`, or `None` (with a printed reason) where it is missing.
fn mkfifo(path: &Path) -> Option<()> {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    if made.is_ok_and(|status| status.success()) {
        return Some(());
    }
    common::unavailable("mkfifo is not available here");
    None
}

fn build_dir(dir: &Path, source: &str, output: &str) -> Measured {
    run(
        dir,
        &[
            "build",
            "--dir",
            source,
            "--runtime",
            "python3.12",
            "--output",
            output,
        ],
    )
}

#[test]
fn a_fifo_or_device_as_layerignore_is_an_error_not_a_hang() {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    common::write(&layer.join("python/app.py"), "print('hi')\n");
    if mkfifo(&layer.join(".layerignore")).is_none() {
        return;
    }
    for args in [
        &["check", "layer", "--runtime", "python3.12"][..],
        &[
            "build",
            "--dir",
            "layer",
            "--runtime",
            "python3.12",
            "--output",
            "out.zip",
        ][..],
    ] {
        let measured = run(temp.path(), args);
        assert_exit(args[0], &measured, 2);
        assert!(
            measured.stderr.contains(".layerignore") && measured.stderr.contains("FIFO"),
            "{}",
            measured.stderr
        );
    }
    std::fs::remove_file(layer.join(".layerignore")).expect("remove fifo");
    std::os::unix::fs::symlink("/dev/zero", layer.join(".layerignore")).expect("symlink");
    let measured = run(temp.path(), &["check", "layer", "--runtime", "python3.12"]);
    assert_bounded("check", &measured);
    assert_exit("check", &measured, 2);
    assert!(measured.stderr.contains("device"), "{}", measured.stderr);
}

#[test]
fn the_quota_is_enforced_from_the_walk_before_reading() {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    common::write(&layer.join("python/app.py"), "print('hi')\n");
    // 2 GiB of holes: reading it whole would take 2 GiB of memory.
    let big = std::fs::File::create(layer.join("python/big.bin")).expect("create");
    big.set_len(2 * GIB).expect("sparse file");
    let measured = build_dir(temp.path(), "layer", "out.zip");
    assert_bounded("build", &measured);
    assert_exit("build", &measured, 1);
    assert!(measured.stdout.contains("SIZE001"), "{}", measured.stdout);
    assert!(!temp.path().join("out.zip").exists());
}

#[test]
fn archive_paths_over_the_zip_or_linux_limits_are_errors_before_writing() {
    let temp = tempfile::tempdir().expect("temp dir");
    common::write(&temp.path().join("src/app.py"), "print('hi')\n");
    for (into, says) in [
        ("n".repeat(300), "names of at most 255"),
        ("dir/".repeat(1100), "paths of at most 4,096"),
        ("dir/".repeat(17_000), "at most 65,535"),
    ] {
        common::write(
            &temp.path().join("layer.toml"),
            &format!(
                "[layer.long]\nruntimes = [\"python3.12\"]\noutput = \"out.zip\"\n\
                 [[layer.long.source]]\npath = \"src\"\ninto = \"{into}\"\n"
            ),
        );
        let measured = run(temp.path(), &["build"]);
        assert_exit("build", &measured, 2);
        assert!(
            measured.stderr.contains(says),
            "{says}: {}",
            measured.stderr
        );
        assert!(!temp.path().join("out.zip").exists());
    }
}

#[test]
fn build_dir_never_packs_its_output_manifest_or_temporaries() {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    common::write(&layer.join("python/app.py"), "print('hi')\n");
    // A temporary left by a killed build of this output (no process has this id).
    let stale = layer.join(".layerpack-out.zip.4000000.abc123.tmp");
    common::write(&stale, "half a zip");
    common::write(&layer.join("python/.layerpack-other.tmp"), "another");
    for _ in 0..2 {
        let measured = build_dir(temp.path(), "layer", "layer/out.zip");
        assert_exit("build", &measured, 0);
    }
    assert!(!stale.exists(), "the stale temporary is removed");
    let names =
        layerpack::inventory::central_directory_names(&layer.join("out.zip")).expect("read zip");
    let names: Vec<String> = names
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    assert_eq!(names, ["python/", "python/app.py"], "{names:?}");
}

#[test]
fn zip_and_manifest_are_replaced_together() {
    let temp = tempfile::tempdir().expect("temp dir");
    common::write(&temp.path().join("layer/python/app.py"), "print('hi')\n");
    common::write(&temp.path().join("out.zip"), "previous zip");
    std::fs::create_dir(temp.path().join("out.zip.json")).expect("a folder in the way");
    let measured = build_dir(temp.path(), "layer", "out.zip");
    assert_exit("build", &measured, 2);
    assert!(
        measured.stderr.contains("out.zip.json") && measured.stderr.contains("folder"),
        "{}",
        measured.stderr
    );
    assert_eq!(
        std::fs::read_to_string(temp.path().join("out.zip")).expect("old zip"),
        "previous zip"
    );
    assert_no_temporaries(temp.path());
}

fn assert_no_temporaries(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".layerpack-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// Fills a file with `len` bytes that do not compress (xorshift), so writing the zip takes a
/// while.
fn write_noise(path: &Path, len: usize) {
    write_noise_seeded(path, len, 0);
}

/// [`write_noise`], from a seed of its own (files with different seeds share no bytes).
fn write_noise_seeded(path: &Path, len: usize, seed: u64) {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write noise");
}

#[test]
fn sigterm_mid_build_leaves_no_temporary_and_the_old_zip() {
    let temp = tempfile::tempdir().expect("temp dir");
    let out = temp.path().join("dist");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("layer.zip"), "previous zip").expect("old zip");
    for index in 0..4 {
        write_noise(
            &temp.path().join(format!("layer/python/blob{index}.bin")),
            40 << 20,
        );
    }
    // Interrupt as soon as the zip's temporary appears (while it is written); try a few times,
    // since a fast machine may finish between two looks.
    for _ in 0..5 {
        let mut child = layerpack(temp.path())
            .args([
                "build",
                "--dir",
                "layer",
                "--runtime",
                "python3.12",
                "--output",
                "dist/layer.zip",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn build");
        let started = std::time::Instant::now();
        let mut signalled = false;
        while started.elapsed() < TIMEOUT {
            if child.try_wait().expect("poll").is_some() {
                break;
            }
            let writing = std::fs::read_dir(&out)
                .expect("list")
                .flatten()
                .any(|entry| {
                    entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with(".layerpack-")
                });
            if writing {
                // SAFETY: signals our own child by its pid.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                signalled = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let output = child.wait_with_output().expect("wait");
        if !signalled {
            std::fs::write(out.join("layer.zip"), "previous zip").expect("old zip");
            let _ = std::fs::remove_file(out.join("layer.zip.json"));
            continue;
        }
        assert_eq!(
            output.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_no_temporaries(&out);
        assert_eq!(
            std::fs::read_to_string(out.join("layer.zip")).expect("old zip"),
            "previous zip"
        );
        return;
    }
    panic!("the build never got to writing its zip while watched");
}

/// A layer of files that do not compress (240 MiB of random bytes, one file of 200 MiB): the
/// large file streams through the compressor, finished entries wait on disk past a budget, so
/// `build` stays in bounded memory, and the zip holds every byte, stored.
#[test]
fn a_layer_that_does_not_compress_builds_in_bounded_memory() {
    let temp = tempfile::tempdir().expect("temp dir");
    let python = temp.path().join("layer/python");
    write_noise_seeded(&python.join("big.bin"), 200 << 20, 1);
    for index in 0..10u64 {
        write_noise_seeded(
            &python.join(format!("small{index}.bin")),
            4 << 20,
            index + 2,
        );
    }
    let measured = build_dir(temp.path(), "layer", "out.zip");
    assert_exit("build", &measured, 0);
    assert_bounded("build", &measured);
    let zip = temp.path().join("out.zip");
    let zipped = std::fs::metadata(&zip).expect("zip").len();
    assert!(zipped > 240 << 20, "every byte is in the zip: {zipped}");
    // Every entry is whole: layerpack's own reader checks each CRC-32 and size, as Lambda would.
    let inventory = layerpack::inventory::Inventory::from_zip(&zip).expect("read back");
    let verification = inventory.verify_extraction();
    assert!(
        verification.problems.is_empty() && verification.not_verified == 0,
        "{:?} ({} not verified)",
        verification.problems,
        verification.not_verified
    );
    assert_eq!(inventory.file_count(), 11);

    // One small file changed: the 200 MiB entry is copied from the zip the last build left, in
    // chunks, in the same bounded memory (it is never read whole).
    write_noise_seeded(&python.join("small0.bin"), 4 << 20, 99);
    let rebuilt = build_dir(temp.path(), "layer", "out.zip");
    assert_exit("rebuild", &rebuilt, 0);
    assert_bounded("rebuild", &rebuilt);
    assert!(
        rebuilt.stdout.contains(
            "10 of 11 files from the cache (10 copied from the previous zip), 1 compressed"
        ),
        "{}",
        rebuilt.stdout
    );
    let inventory = layerpack::inventory::Inventory::from_zip(&zip).expect("read back");
    let verification = inventory.verify_extraction();
    assert!(verification.problems.is_empty() && verification.not_verified == 0);
}

/// The ~250 MB python bench layer builds in bounded memory.
#[test]
fn the_bench_layer_builds_in_bounded_memory() {
    let layer = common::bench_layers_root().join("py312-x86");
    if !layer.is_dir() {
        common::unavailable(&format!(
            "{} is missing (make it with shared/bench/make-bench-layers.sh)",
            layer.display()
        ));
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let measured = run(
        temp.path(),
        &[
            "build",
            "--no-cache",
            "--dir",
            layer.to_str().expect("utf-8 path"),
            "--runtime",
            "python3.12",
            "--output",
            "out.zip",
        ],
    );
    assert_exit("build", &measured, 0);
    assert_bounded("build", &measured);
}

/// Builds `layer/` of `dir` into `out.zip` while `change` alters the tree between the build's
/// walk and its reads: the build waits at its test hook (debug builds) until `change` is done,
/// so nothing depends on timing. Returns what the build did and what `change` returned.
fn build_changed_after_walk<T: Send + 'static>(
    dir: &Path,
    change: impl FnOnce() -> T + Send + 'static,
) -> (Measured, T) {
    let marker = dir.join("walked");
    let changer = {
        let marker = marker.clone();
        std::thread::spawn(move || {
            while !marker.exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let changed = change();
            std::fs::remove_file(&marker).expect("let the build go on");
            changed
        })
    };
    let measured = run_measured(
        layerpack(dir)
            .env("LAYERPACK_TEST_PAUSE_BEFORE_READING", &marker)
            .args([
                "build",
                "--dir",
                "layer",
                "--runtime",
                "python3.12",
                "--output",
                "out.zip",
            ]),
        TIMEOUT,
    );
    (measured, changer.join().expect("change thread"))
}

/// A source file swapped for a FIFO after the walk and before the build reads it: the build
/// neither blocks on the FIFO nor packs it, and names the file. The build waits at a test hook
/// (debug builds) while the file is swapped, so nothing here depends on timing; the timeout of
/// the runner only guards against a hang.
#[test]
fn a_file_swapped_for_a_fifo_mid_build_is_an_error_not_a_hang() {
    let temp = tempfile::tempdir().expect("temp dir");
    let layer = temp.path().join("layer");
    common::write(&layer.join("python/app.py"), "print('hi')\n");
    common::write(&layer.join("python/data.bin"), "data");
    let (measured, swapped) = build_changed_after_walk(temp.path(), move || {
        let data = layer.join("python/data.bin");
        std::fs::remove_file(&data).expect("remove");
        mkfifo(&data)
    });
    if swapped.is_none() {
        return;
    }
    assert_exit("build", &measured, 2);
    assert!(
        measured.stderr.contains("data.bin") && measured.stderr.contains("FIFO"),
        "{}",
        measured.stderr
    );
    assert!(!temp.path().join("out.zip").exists());
    assert_no_temporaries(temp.path());
}

/// A file that changes between the walk and the read fails the build with exit 2 and writes
/// nothing, whether it is read whole (small) or streams through the compressor (over 32 MiB).
/// The change happens while the build waits at its test hook (debug builds): no race.
#[test]
fn a_file_that_changes_after_the_walk_fails_the_build() {
    for (name, len) in [("small.txt", 10u64), ("large.bin", (32 << 20) + 1)] {
        let temp = tempfile::tempdir().expect("temp dir");
        let file = temp.path().join("layer/python").join(name);
        common::write(&temp.path().join("layer/python/app.py"), "print('hi')\n");
        std::fs::File::create(&file)
            .and_then(|created| created.set_len(len))
            .expect("file");
        let (measured, grown) = build_changed_after_walk(temp.path(), move || {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .and_then(|mut opened| std::io::Write::write_all(&mut opened, b"more"))
        });
        grown.expect("append");
        assert_exit(name, &measured, 2);
        assert!(
            measured.stderr.contains(name) && measured.stderr.contains("changed while building"),
            "{}",
            measured.stderr
        );
        assert!(!temp.path().join("out.zip").exists());
        assert_no_temporaries(temp.path());
    }
}

// `why` through symlinks.

#[test]
fn why_follows_symlinks_and_reports_a_loop() {
    let temp = tempfile::tempdir().expect("temp dir");
    let python = temp.path().join("layer/python");
    common::write(&python.join("real/__init__.py"), "VALUE = 1\n");
    std::os::unix::fs::symlink("real", python.join("alias")).expect("folder link");
    std::os::unix::fs::symlink("b.py", python.join("a.py")).expect("link");
    std::os::unix::fs::symlink("a.py", python.join("b.py")).expect("link");
    let found = run(
        temp.path(),
        &["why", "alias", "--runtime", "python3.12", "layer"],
    );
    assert_exit("why alias", &found, 0);
    let looped = run(
        temp.path(),
        &["why", "a", "--runtime", "python3.12", "layer"],
    );
    assert_exit("why a", &looped, 1);
    assert!(
        looped.stdout.contains("symlink loop: /opt/python/a.py"),
        "{}",
        looped.stdout
    );
}

/// The memory bound above can fail: a child that really holds 300 MiB is measured as such, even
/// when the test process itself is small.
#[test]
fn the_memory_measurement_sees_a_child_that_holds_300_mib() {
    // python3 is on every machine the tests run on (`.ci/run` installs it).
    let measured = run_measured(
        std::process::Command::new("python3")
            .args(["-c", "import time; x = b'x' * (300 << 20); time.sleep(0.1)"]),
        TIMEOUT,
    );
    assert_exit("python3 holding 300 MiB", &measured, 0);
    assert!(
        measured.max_rss_kib >= 300 * 1024,
        "measured {} KiB",
        measured.max_rss_kib
    );
}
