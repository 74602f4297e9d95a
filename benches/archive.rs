//! Criterion benchmarks of the build pipeline's stages on a generated layer: gathering,
//! compressing (the parallel, CPU-bound part) and writing. Whole-command timings against
//! `zip -r -X -6` on real layers are in `benches/compare.sh`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use layerpack::archive::{self, DosDateTime};
use layerpack::gather;

/// A python-like layer: many small text modules, a few larger binaries-like files, and some
/// incompressible data. Deterministic content (xorshift), ~24 MB in ~1,200 files.
fn make_layer(root: &Path) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let site = root.join("python/lib/python3.12/site-packages");
    for package in 0..40 {
        let dir = site.join(format!("package_{package}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for module in 0..28 {
            let mut text = String::new();
            for line in 0..(200 + next() % 400) {
                text.push_str(&format!(
                    "def function_{line}(value_{module}):\n    return value_{module} * {} + {line}\n\n",
                    next() % 1000
                ));
            }
            std::fs::write(dir.join(format!("module_{module}.py")), text).expect("write");
        }
        // A "shared library": structured but varied bytes.
        let binary: Vec<u8> = (0..200_000)
            .map(|index| {
                if index % 7 == 0 {
                    (next() & 0xFF) as u8
                } else {
                    (index % 251) as u8
                }
            })
            .collect();
        std::fs::write(dir.join(format!("_native_{package}.so")), binary).expect("write");
        // Incompressible data, stored.
        let noise: Vec<u8> = (0..50_000).map(|_| (next() & 0xFF) as u8).collect();
        std::fs::write(dir.join("data.bin"), noise).expect("write");
    }
}

fn pipeline(c: &mut Criterion) {
    let temp = tempfile::tempdir().expect("temp dir");
    make_layer(temp.path());
    let gathered = gather::gather_dir(temp.path(), &[]).expect("gather");
    let bytes = gathered.inventory.unzipped_bytes();

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("gather", |b| {
        b.iter(|| black_box(gather::gather_dir(temp.path(), &[]).expect("gather")))
    });
    group.bench_function("compress", |b| {
        b.iter(|| {
            black_box(archive::prepare(&gathered.inventory, DosDateTime::EPOCH).expect("prepare"))
        })
    });
    let prepared = archive::prepare(&gathered.inventory, DosDateTime::EPOCH).expect("prepare");
    let out = temp.path().join("out.zip");
    group.bench_function("write", |b| {
        b.iter(|| black_box(prepared.write_atomically(&out).expect("write")))
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
