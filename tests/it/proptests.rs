//! Property tests over the readers of untrusted input: the zip reader, the ELF inspector, the
//! ignore parser and config loading. Whatever the bytes, they return a value or an error, never
//! panic; a zip's ELF file reads the same streamed as from disk.
//!
//! CI runs a bounded number of cases (`PROPTEST_CASES`, default 48 here);
//! `benches/proptest_long.sh` runs many more.

use std::path::Path;

use proptest::prelude::*;

use crate::common::elf::{ElfSpec, build};
use crate::common::hostile::{Raw, write_zip};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A tiny but real shared object.
fn sample_elf(no_sections: bool) -> Vec<u8> {
    build(&ElfSpec {
        path: "lib/x.so".to_string(),
        needed: vec!["libc.so.6".to_string(), "libm.so.6".to_string()],
        glibc: vec!["GLIBC_2.17".to_string(), "GLIBC_2.28".to_string()],
        runpath: vec!["$ORIGIN/../lib".to_string()],
        soname: Some("libx.so".to_string()),
        no_sections,
        ..Default::default()
    })
}

/// Byte positions and values to overwrite.
fn mutations() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 0..24)
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let len = bytes.len();
    for &(at, value) in edits {
        bytes[at % len] = value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (len + 1));
    }
    bytes
}

/// A stored zip of a few entries, one of them `payload` at `lib/x.so`.
fn zip_bytes(dir: &Path, payload: &[u8]) -> Vec<u8> {
    let path = dir.join("sample.zip");
    write_zip(
        &path,
        &[
            Raw::stored("python/", b""),
            Raw::deflated("python/app.py", b"import os\nprint(os.getcwd())\n"),
            Raw::stored("lib/x.so", payload).mode(0o100755),
        ],
        &[],
    );
    std::fs::read(path).expect("read zip")
}

/// Opens `bytes` as a zip and reads every entry to its end; must not panic.
fn read_everything(path: &Path) {
    let Ok(inventory) = layerpack::inventory::Inventory::from_zip(path) else {
        return;
    };
    let _ = inventory.verify_extraction();
    for entry in inventory.entries() {
        if let Ok(mut reader) = inventory.open(entry) {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
    }
    let _ = layerpack::inspect::inspect(&inventory);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_mutation_of_a_zip_reads_or_fails_cleanly(
        edits in mutations(),
        cut in prop::option::of(any::<usize>()),
    ) {
        let temp = tempfile::tempdir().expect("temp dir");
        let bytes = mutate(zip_bytes(temp.path(), &sample_elf(false)), &edits, cut);
        let path = temp.path().join("mutated.zip");
        std::fs::write(&path, &bytes).expect("write");
        read_everything(&path);
        let file = std::fs::File::open(&path).expect("open");
        let _ = layerpack::extract::central_directory(&file);
    }

    #[test]
    fn arbitrary_bytes_are_not_a_zip_that_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let temp = tempfile::tempdir().expect("temp dir");
        let path = temp.path().join("noise.zip");
        std::fs::write(&path, &bytes).expect("write");
        read_everything(&path);
    }

    #[test]
    fn an_elf_file_reads_the_same_streamed_from_a_zip_as_from_disk(
        edits in mutations(),
        cut in prop::option::of(any::<usize>()),
        no_sections in any::<bool>(),
    ) {
        let elf = mutate(sample_elf(no_sections), &edits, cut);
        let from_slice = layerpack::inspect::parse_elf(elf.as_slice());
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("layer");
        std::fs::create_dir_all(dir.join("lib")).expect("mkdir");
        std::fs::write(dir.join("lib/x.so"), &elf).expect("write");
        let on_disk = layerpack::gather::gather_dir(&dir, &[]).expect("gather");
        let zip_path = temp.path().join("layer.zip");
        std::fs::write(&zip_path, zip_bytes(temp.path(), &elf)).expect("write zip");
        let zipped = layerpack::inventory::Inventory::from_zip(&zip_path).expect("zip");
        let disk = on_disk.inventory.get("lib/x.so").and_then(|entry| {
            layerpack::inspect::inspect_entry(&on_disk.inventory, entry)
        });
        let streamed = zipped
            .get("lib/x.so")
            .and_then(|entry| layerpack::inspect::inspect_entry(&zipped, entry));
        prop_assert_eq!(&disk, &streamed);
        if let (Ok(info), Some(binary)) = (&from_slice, &disk) {
            prop_assert_eq!(
                &binary.format,
                &layerpack::inspect::BinaryFormat::Elf(info.clone())
            );
        }
    }

    #[test]
    fn ignore_patterns_compile_or_fail_cleanly(
        lines in prop::collection::vec("[!#/*?\\[\\]a-z.\\\\ -]{0,12}", 0..8),
        path in "[a-z./_-]{0,24}",
        is_dir in any::<bool>(),
    ) {
        if let Ok(matcher) = layerpack::ignore::Matcher::from_list(Path::new("<test>"), &lines) {
            let _ = matcher.decide(&path, is_dir);
        }
    }

    #[test]
    fn any_layer_toml_loads_or_fails_cleanly(text in "(\\[|\\]|layer|\\.|=|\"|[a-z0-9_]|\n| ){0,200}") {
        let _ = layerpack::config::Config::parse(Path::new("layer.toml"), text);
    }

    #[test]
    fn mutated_real_layer_tomls_load_or_fail_cleanly(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
    ) {
        let base = "[layer.py]\nruntimes = [\"python3.12\"]\narchitectures = [\"x86_64\"]\n\
                    output = \"dist/py.zip\"\nignore = [\"tests/\"]\n\
                    [[layer.py.source]]\npath = \"src\"\ninto = \"python\"\n";
        let text = String::from_utf8_lossy(&mutate(base.as_bytes().to_vec(), &edits, None))
            .into_owned();
        let _ = layerpack::config::Config::parse(Path::new("layer.toml"), text);
    }
}
