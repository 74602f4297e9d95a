//! The inspect stage against generated binaries (checked against `readelf` when it is
//! installed), truncated and garbage files, and real binaries from this machine.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::elf::{ElfSpec, build};
use layerpack::inspect::{Binary, BinaryFormat, ElfInfo, ElfKind, ElfMachine, inspect, parse_elf};
use layerpack::inventory::{ArchivePath, Content, Entry, EntryKind, Inventory, Origin};
use layerpack::runtime::GlibcVersion;

/// An inventory of every file below `root`, read from disk (what gathering a folder gives, without
/// its ignore rules).
fn inventory_of(root: &Path) -> Inventory {
    let mut entries = Vec::new();
    for item in walkdir::WalkDir::new(root).min_depth(1) {
        let item = item.expect("walk");
        if !item.file_type().is_file() {
            continue;
        }
        let relative = item.path().strip_prefix(root).expect("below root");
        let metadata = item.metadata().expect("metadata");
        entries.push(Entry {
            path: ArchivePath::new(relative.to_str().expect("utf-8 path")).expect("valid path"),
            kind: EntryKind::File,
            mode: Some(metadata.permissions().mode() & 0o7777),
            size: metadata.len(),
            mtime: None,
            content: Content::Disk(item.path().to_path_buf()),
            implied: false,
        });
    }
    Inventory::new(Origin::Directory(root.to_path_buf()), entries)
}

fn write(root: &Path, path: &str, bytes: &[u8]) -> PathBuf {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::write(&target, bytes).expect("write");
    target
}

fn elf_of(binary: &Binary) -> &ElfInfo {
    match &binary.format {
        BinaryFormat::Elf(info) => info,
        other => panic!("{} is not a parsed ELF: {other:?}", binary.path),
    }
}

fn readelf_available() -> bool {
    Command::new("readelf").arg("--version").output().is_ok()
}

fn readelf(args: &[&str], file: &Path) -> String {
    let output = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("run readelf");
    assert!(
        output.status.success(),
        "readelf {args:?} {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `DT_NEEDED` names as readelf prints them: `(NEEDED) Shared library: [libc.so.6]`.
fn readelf_needed(file: &Path) -> Vec<String> {
    readelf(&["-d", "-W"], file)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| {
            let start = line.find('[')? + 1;
            let end = line.rfind(']')?;
            Some(line[start..end].to_string())
        })
        .collect()
}

/// The highest `GLIBC_x.y` in readelf's version-needs listing (`-V`).
fn readelf_glibc(file: &Path) -> Option<GlibcVersion> {
    let text = readelf(&["-V", "-W"], file);
    let needs = text.split("Version needs section").nth(1)?;
    needs
        .split_whitespace()
        .filter(|word| word.starts_with("GLIBC_"))
        .filter_map(GlibcVersion::parse)
        .max()
}

fn full_spec() -> ElfSpec {
    ElfSpec {
        path: "lib/libdemo.so.1".to_string(),
        needed: vec!["libz.so.1".to_string(), "libc.so.6".to_string()],
        runpath: vec!["$ORIGIN".to_string(), "$ORIGIN/../demo.libs".to_string()],
        soname: Some("libdemo.so.1".to_string()),
        glibc: vec![
            "GLIBC_2.2.5".to_string(),
            "GLIBC_2.28".to_string(),
            "GLIBC_2.17".to_string(),
        ],
        ..ElfSpec::default()
    }
}

#[test]
fn generated_elf_parses_with_every_field() {
    let info = parse_elf(build(&full_spec()).as_slice()).expect("parses");
    assert!(info.is_64);
    assert_eq!(info.machine, ElfMachine::X86_64);
    assert_eq!(info.kind, ElfKind::SharedObject);
    assert_eq!(info.interpreter, None);
    assert_eq!(info.needed, ["libz.so.1", "libc.so.6"]);
    assert_eq!(info.search_paths, ["$ORIGIN", "$ORIGIN/../demo.libs"]);
    assert_eq!(info.soname.as_deref(), Some("libdemo.so.1"));
    assert_eq!(info.glibc, Some(GlibcVersion(2, 28)));
    assert!(!info.musl);
}

/// Needs from several libraries, version definitions and DT_RPATH, read back both with and
/// without section headers (the loader's way through PT_DYNAMIC).
#[test]
fn generated_version_needs_definitions_and_rpath_parse() {
    let spec = ElfSpec {
        path: "lib/libgeos.so.3".to_string(),
        needed: vec!["libstdc++.so.6".to_string(), "libc.so.6".to_string()],
        rpath: vec!["$ORIGIN/geos.libs".to_string()],
        soname: Some("libgeos.so.3".to_string()),
        glibc: vec!["GLIBC_2.14".to_string()],
        versions: [
            ("libgcc_s.so.1".to_string(), vec!["GCC_3.0".to_string()]),
            (
                "libstdc++.so.6".to_string(),
                vec!["CXXABI_1.3".to_string(), "GLIBCXX_3.4.30".to_string()],
            ),
        ]
        .into_iter()
        .collect(),
        defines: vec!["GEOS_3.12".to_string(), "GEOS_3.13".to_string()],
        ..ElfSpec::default()
    };
    for no_sections in [false, true] {
        let spec = ElfSpec {
            no_sections,
            ..spec.clone()
        };
        let info = parse_elf(build(&spec).as_slice()).expect("parses");
        assert_eq!(info.rpath, ["$ORIGIN/geos.libs"]);
        assert!(info.runpath.is_empty());
        let needs: Vec<(&str, Vec<&str>)> = info
            .version_needs
            .iter()
            .map(|need| {
                (
                    need.file.as_str(),
                    need.versions.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            needs,
            [
                ("libc.so.6", vec!["GLIBC_2.14"]),
                ("libgcc_s.so.1", vec!["GCC_3.0"]),
                ("libstdc++.so.6", vec!["CXXABI_1.3", "GLIBCXX_3.4.30"]),
            ],
            "no_sections = {no_sections}"
        );
        assert_eq!(info.version_defs, ["GEOS_3.12", "GEOS_3.13"]);
        assert_eq!(info.glibc, Some(GlibcVersion(2, 14)));
    }
    // binutils reads the same file the same way, where it is installed.
    if !readelf_available() {
        common::unavailable(
            "readelf (binutils) is not installed: generator not checked against it",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("libgeos.so.3");
    std::fs::write(&file, build(&spec)).expect("write");
    let text = readelf(&["-d", "-V", "-W"], &file);
    for expected in [
        "Library rpath: [$ORIGIN/geos.libs]",
        "File: libstdc++.so.6",
        "Name: GLIBCXX_3.4.30",
        "Name: GCC_3.0",
        "Name: GEOS_3.13",
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }
}

#[test]
fn generated_variants_parse() {
    let exec32 = ElfSpec {
        class32: true,
        machine: Some("i386".to_string()),
        kind: Some("exec".to_string()),
        interpreter: Some("/lib/ld-linux.so.2".to_string()),
        needed: vec!["libc.so.6".to_string()],
        glibc: vec!["GLIBC_2.0".to_string()],
        ..ElfSpec::default()
    };
    let info = parse_elf(build(&exec32).as_slice()).expect("parses");
    assert!(!info.is_64);
    assert_eq!(info.machine, ElfMachine::X86);
    assert_eq!(info.kind, ElfKind::Executable);
    assert_eq!(info.interpreter.as_deref(), Some("/lib/ld-linux.so.2"));
    assert_eq!(info.glibc, Some(GlibcVersion(2, 0)));

    let musl = ElfSpec {
        machine: Some("aarch64".to_string()),
        interpreter: Some("/lib/ld-musl-aarch64.so.1".to_string()),
        needed: vec!["libc.musl-aarch64.so.1".to_string()],
        ..ElfSpec::default()
    };
    let info = parse_elf(build(&musl).as_slice()).expect("parses");
    assert_eq!(info.machine, ElfMachine::Aarch64);
    assert!(info.musl);
    assert_eq!(info.glibc, None);
}

#[test]
fn without_section_headers_the_dynamic_segment_is_read() {
    let spec = ElfSpec {
        no_sections: true,
        ..full_spec()
    };
    let stripped = parse_elf(build(&spec).as_slice()).expect("parses");
    let full = parse_elf(build(&full_spec()).as_slice()).expect("parses");
    assert_eq!(stripped, full);
}

#[test]
fn generated_files_agree_with_readelf() {
    if !readelf_available() {
        common::unavailable(
            "readelf (binutils) is not installed: generator not checked against it",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let specs = [
        full_spec(),
        ElfSpec {
            class32: true,
            machine: Some("arm".to_string()),
            ..full_spec()
        },
        ElfSpec {
            kind: Some("exec".to_string()),
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".to_string()),
            ..full_spec()
        },
    ];
    for (index, spec) in specs.iter().enumerate() {
        let file = write(dir.path(), &format!("f{index}"), &build(spec));
        assert_eq!(readelf_needed(&file), spec.needed, "{spec:?}");
        assert_eq!(readelf_glibc(&file), Some(GlibcVersion(2, 28)), "{spec:?}");
        let dynamic = readelf(&["-d", "-W"], &file);
        assert!(
            dynamic.contains("Library soname: [libdemo.so.1]"),
            "{dynamic}"
        );
        assert!(
            dynamic.contains("Library runpath: [$ORIGIN:$ORIGIN/../demo.libs]"),
            "{dynamic}"
        );
        if let Some(interpreter) = &spec.interpreter {
            let headers = readelf(&["-l", "-W"], &file);
            assert!(headers.contains(interpreter.as_str()), "{headers}");
        }
    }
}

#[test]
fn truncated_and_garbage_elf_files_never_panic() {
    let whole = build(&full_spec());
    for length in 0..whole.len() {
        let result = parse_elf(&whole[..length]);
        assert!(
            result.is_err() || length >= 64,
            "length {length}: {result:?}"
        );
    }
    // Flipping any single byte gives a result or a reason, never a panic.
    for index in 0..whole.len() {
        let mut bytes = whole.clone();
        bytes[index] ^= 0xff;
        let _ = parse_elf(bytes.as_slice());
    }
    // Garbage after a valid magic, of many lengths.
    let mut state: u32 = 0x1234_5678;
    for length in [4usize, 16, 52, 64, 100, 1000, 5000] {
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        while bytes.len() < length {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes.push(state as u8);
        }
        let _ = parse_elf(bytes.as_slice());
    }
}

#[test]
fn inspect_finds_binaries_by_content_and_reports_malformed_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let whole = build(&full_spec());
    write(root, "lib/libdemo.so.1", &whole);
    write(root, "bin/tool", &whole); // no suffix: still found
    write(
        root,
        "python/not_elf.so",
        b"just text pretending to be a library\n",
    );
    write(root, "python/cut.so", &whole[..40]);
    write(
        root,
        "python/mac.so",
        &build(&ElfSpec {
            format: Some("macho".to_string()),
            ..ElfSpec::default()
        }),
    );
    write(
        root,
        "python/fat.dylib",
        &build(&ElfSpec {
            format: Some("macho".to_string()),
            fat: true,
            ..ElfSpec::default()
        }),
    );
    write(
        root,
        "python/win.pyd",
        &build(&ElfSpec {
            format: Some("pe".to_string()),
            ..ElfSpec::default()
        }),
    );
    // A Java class file starts with CAFEBABE too, then minor and major version.
    write(
        root,
        "java/Hello.class",
        b"\xca\xfe\xba\xbe\x00\x00\x00\x41rest-of-class",
    );
    write(root, "python/a.py", b"print('hi')\n");
    let binaries = inspect(&inventory_of(root));
    let summary: Vec<(&str, &str)> = binaries
        .iter()
        .map(|binary| {
            let kind = match &binary.format {
                BinaryFormat::Elf(_) => "elf",
                BinaryFormat::MachO => "macho",
                BinaryFormat::Pe => "pe",
                BinaryFormat::Malformed(_) => "malformed",
            };
            (binary.path.as_str(), kind)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bin/tool", "elf"),
            ("lib/libdemo.so.1", "elf"),
            ("python/cut.so", "malformed"),
            ("python/fat.dylib", "macho"),
            ("python/mac.so", "macho"),
            ("python/win.pyd", "pe"),
        ]
    );
    assert_eq!(elf_of(&binaries[1]).glibc, Some(GlibcVersion(2, 28)));
}

/// Copies real files of this machine into a layer and compares what inspect reads with readelf.
#[test]
fn real_binaries_of_this_machine() {
    let candidates = [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/aarch64-linux-gnu/libz.so.1",
        "/usr/bin/ls",
        "/bin/ls",
    ];
    let mut files: Vec<PathBuf> = candidates
        .iter()
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .collect();
    files.extend(python_extension());
    files.extend(node_addon());
    if files.is_empty() {
        common::unavailable("no system binaries found to inspect");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut copied = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let name = file.file_name().expect("file name").to_string_lossy();
        let target = dir.path().join(format!("lib/{index}-{name}"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(file, &target).expect("copy");
        copied.push(target);
    }
    let binaries = inspect(&inventory_of(dir.path()));
    assert_eq!(binaries.len(), copied.len(), "{binaries:#?}");
    let host_machine = match std::env::consts::ARCH {
        "x86_64" => ElfMachine::X86_64,
        "aarch64" => ElfMachine::Aarch64,
        _ => return,
    };
    for binary in &binaries {
        let info = elf_of(binary);
        let on_disk = dir.path().join(binary.path.as_str());
        assert_eq!(info.machine, host_machine, "{}", binary.path);
        assert!(info.is_64, "{}", binary.path);
        if readelf_available() {
            assert_eq!(info.needed, readelf_needed(&on_disk), "{}", binary.path);
            assert_eq!(info.glibc, readelf_glibc(&on_disk), "{}", binary.path);
        } else {
            assert!(info.needed.iter().any(|name| name == "libc.so.6"));
        }
        if binary.path.as_str().ends_with("-ls") {
            assert!(info.is_program(&binary.path), "ls is a program");
            assert!(info.interpreter.is_some());
        }
    }
}

/// A C extension of the Python on this machine (its `_ssl`, `_json` or similar), if any.
fn python_extension() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import _json; print(_json.__file__)"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    path.is_file().then_some(path)
}

/// A native Node.js addon installed globally, if any.
fn node_addon() -> Option<PathBuf> {
    ["/usr/lib/node_modules", "/usr/local/lib/node_modules"]
        .iter()
        .flat_map(|root| walkdir::WalkDir::new(root).max_depth(8))
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().ends_with(".node"))
        .map(|entry| entry.path().to_path_buf())
}

/// The healthy bench layers (`../shared/bench/make-bench-layers.sh`) give no error-level `BIN`
/// finding for the runtime they are built for.
#[test]
fn bench_layers_have_no_binary_errors() {
    use layerpack::config::{Budget, LintSettings};
    use layerpack::finding::Severity;
    use layerpack::rules::check_inventory;
    let root = common::bench_layers_root();
    let cases = [
        ("py312-x86", "python3.12"),
        ("node-sdk", "nodejs20.x"),
        ("java", "java21"),
    ];
    let settings = LintSettings {
        select: vec!["BIN".to_string()],
        ..LintSettings::default()
    };
    for (name, runtime) in cases {
        let dir = root.join(name);
        let dir = dir.as_path();
        if !dir.is_dir() {
            common::unavailable(&format!(
                "{} is missing (make it with shared/bench/make-bench-layers.sh)",
                dir.display()
            ));
            continue;
        }
        let inventory = layerpack::gather::gather_dir(dir, &[])
            .expect("gather bench layer")
            .inventory;
        let runtimes =
            layerpack::commands::parse_runtimes(&[runtime.to_string()]).expect("runtime");
        let findings = check_inventory(
            "bench",
            &inventory,
            &runtimes,
            &[layerpack::runtime::Arch::X86_64],
            Budget::default(),
            0,
            &settings,
        );
        for finding in &findings {
            eprintln!(
                "{}: {} {} {}: {}",
                dir.display(),
                finding.severity,
                finding.code,
                finding.path,
                finding.message
            );
        }
        let errors: Vec<_> = findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", dir.display());
        if runtime == "python3.12" {
            let binaries = inspect(&inventory);
            assert!(binaries.len() >= 100, "the python layer has native code");
        }
    }
}

/// A tiny arm64 shared library built with the aarch64 cross compiler (Debian's
/// `gcc-aarch64-linux-gnu`), when it is installed: real arm64 code, read as aarch64, and
/// reported by BIN001 in an x86_64 layer.
#[test]
fn cross_built_arm64_library() {
    let compiler = "aarch64-linux-gnu-gcc";
    if Command::new(compiler).arg("--version").output().is_err() {
        common::unavailable(&format!(
            "{compiler} is not installed (apt-get install gcc-aarch64-linux-gnu)"
        ));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let source = write(
        dir.path(),
        "src/hello.c",
        b"#include <math.h>\n#include <stdio.h>\nint hello(double x) { return printf(\"%f\\n\", sqrt(x)); }\n",
    );
    let layer = dir.path().join("layer");
    let output = layer.join("python/hello/_hello.cpython-312-aarch64-linux-gnu.so");
    std::fs::create_dir_all(output.parent().expect("parent")).expect("mkdir");
    let status = Command::new(compiler)
        .args(["-shared", "-fPIC", "-O1", "-Wl,-soname,_hello.so", "-o"])
        .arg(&output)
        .arg(&source)
        .arg("-lm")
        .status()
        .expect("run cross compiler");
    assert!(status.success(), "{compiler} failed");
    let inventory = inventory_of(&layer);
    let binaries = inspect(&inventory);
    assert_eq!(binaries.len(), 1);
    let info = elf_of(&binaries[0]);
    assert_eq!(info.machine, ElfMachine::Aarch64);
    assert!(info.is_64);
    assert_eq!(info.soname.as_deref(), Some("_hello.so"));
    assert!(info.needed.iter().any(|name| name == "libc.so.6"));
    assert!(info.needed.iter().any(|name| name == "libm.so.6"));
    if readelf_available() {
        assert_eq!(info.needed, readelf_needed(&output));
        assert_eq!(info.glibc, readelf_glibc(&output));
    }

    let settings = layerpack::config::LintSettings {
        select: vec!["BIN".to_string()],
        ..Default::default()
    };
    let runtimes = layerpack::commands::parse_runtimes(&["python3.12".to_string()]).expect("rt");
    let check = |arch| {
        layerpack::rules::check_inventory(
            "arm",
            &inventory,
            &runtimes,
            &[arch],
            layerpack::config::Budget::default(),
            0,
            &settings,
        )
    };
    let codes = |findings: Vec<layerpack::finding::Finding>| -> Vec<&'static str> {
        findings
            .iter()
            .map(|finding| finding.code.as_str())
            .collect()
    };
    assert_eq!(
        codes(check(layerpack::runtime::Arch::Arm64)),
        Vec::<&str>::new()
    );
    let on_x86 = codes(check(layerpack::runtime::Arch::X86_64));
    assert!(on_x86.contains(&"BIN001"), "{on_x86:?}");
    assert!(on_x86.contains(&"BIN006"), "{on_x86:?}");
}

/// The loader replayed over the real python3.12 layer: every extension module and library it
/// ships loads with all its needs (numpy's OpenBLAS through `$ORIGIN/../../numpy.libs`, pyarrow's
/// libraries through `$ORIGIN`, libstdc++ versions from Amazon Linux 2023); and without
/// `numpy.libs` the same replay fails, naming the library.
#[test]
fn bench_layer_loads_every_native_file() {
    use layerpack::inspect::BinaryFormat;
    use layerpack::resolve::loader::Loader;
    use layerpack::resolve::merged::{MergedView, Source};
    use layerpack::runtime::{Arch, Runtime};
    let dir = common::bench_layers_root().join("py312-x86");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing under CI",
            dir.display()
        );
        eprintln!("note: {} is missing; skipped", dir.display());
        return;
    }
    let mut view = MergedView::open(None, &[dir.to_string_lossy().into_owned()], None)
        .expect("open bench layer");
    let runtime = Runtime::find("python3.12").expect("runtime");
    let libraries: Vec<String> = layerpack::inspect::inspect(&view.layers[0].inventory)
        .into_iter()
        .filter(|binary| matches!(binary.format, BinaryFormat::Elf(_)))
        .map(|binary| MergedView::absolute(Source::Layer(0), binary.path.as_str()))
        .filter(|path| path.ends_with(".so") || path.contains(".so."))
        .collect();
    assert!(libraries.len() > 50, "{}", libraries.len());
    let loader = Loader::new(&view, runtime, Arch::X86_64);
    let failures: Vec<String> = libraries
        .iter()
        .filter_map(|path| {
            loader
                .load(path)
                .err()
                .map(|f| format!("{path}: {}", f.summary()))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");

    view.layers[0]
        .inventory
        .retain(|entry| !entry.path.as_str().contains("/numpy.libs"));
    let loader = Loader::new(&view, runtime, Arch::X86_64);
    let umath = libraries
        .iter()
        .find(|path| path.contains("numpy/_core/_multiarray_umath"))
        .expect("numpy's core extension");
    let failure = loader.load(umath).expect_err("OpenBLAS is gone");
    assert_eq!(failure.code, layerpack::finding::Code::BIN007);
    assert!(
        failure.reason.starts_with("libscipy_openblas64_"),
        "{}",
        failure.reason
    );
}
