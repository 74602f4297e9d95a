//! Speed of the inspect stage and the `BIN` rules over a generated layer: 2,000 small text
//! files (sniffed and dropped after one short read), 200 ELF libraries, and 8 large ELF files
//! padded to 8 MiB each, which must cost a few header reads, not 64 MiB of reading.
//!
//! `cargo bench --bench inspect`

#[path = "../tests/it/common/elf.rs"]
#[allow(dead_code)]
mod elf;

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use layerpack::config::{Budget, LintSettings};
use layerpack::rules::check_inventory;

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let target = root.join(path);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::write(target, bytes).expect("write");
}

fn generated_layer() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    let site = "python/lib/python3.12/site-packages";
    for index in 0..2000 {
        write(
            root,
            &format!("{site}/pkg{}/module{index}.py", index % 40),
            format!("def f{index}():\n    return {index}\n")
                .repeat(20)
                .as_bytes(),
        );
    }
    let library = elf::build(&elf::ElfSpec {
        needed: vec!["libm.so.6".into(), "libc.so.6".into()],
        runpath: vec!["$ORIGIN".into()],
        glibc: vec!["GLIBC_2.2.5".into(), "GLIBC_2.17".into()],
        ..elf::ElfSpec::default()
    });
    for index in 0..200 {
        write(
            root,
            &format!(
                "{site}/pkg{}/_ext{index}.cpython-312-x86_64-linux-gnu.so",
                index % 40
            ),
            &library,
        );
    }
    // Large libraries: the ELF headers first, then padding (the section headers sit at the
    // start here, so this measures that nothing reads the padding).
    let mut large = library.clone();
    large.resize(8 << 20, 0);
    for index in 0..8 {
        write(root, &format!("{site}/big/libbig{index}.so.1"), &large);
    }
    temp
}

fn bench(c: &mut Criterion) {
    let layer = generated_layer();
    let inventory = layerpack::gather::gather_dir(layer.path(), &[])
        .expect("gather")
        .inventory;
    let runtimes = layerpack::commands::parse_runtimes(&["python3.12".to_string()]).expect("rt");
    let archs = [layerpack::runtime::Arch::X86_64];
    let settings = LintSettings {
        select: vec!["BIN".to_string()],
        ..LintSettings::default()
    };
    c.bench_function("inspect 2208 files (208 ELF, 64 MiB)", |b| {
        b.iter(|| layerpack::inspect::inspect(&inventory))
    });
    c.bench_function("inspect + BIN rules", |b| {
        b.iter(|| {
            check_inventory(
                "bench",
                &inventory,
                &runtimes,
                &archs,
                Budget::default(),
                0,
                &settings,
            )
        })
    });
    c.bench_function("gather + inspect + BIN rules", |b| {
        b.iter(|| {
            let inventory = layerpack::gather::gather_dir(layer.path(), &[])
                .expect("gather")
                .inventory;
            check_inventory(
                "bench",
                &inventory,
                &runtimes,
                &archs,
                Budget::default(),
                0,
                &settings,
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
