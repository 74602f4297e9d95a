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
