//! Speed of `layerpack why` on a real ~250 MB Python layer: opening the layer (walking the
//! folder into an inventory) and replaying the lookup, end to end, as a user runs it.
//!
//! `cargo bench --bench why` (set `LAYERPACK_BENCH_PYTHON_LAYER` to another layer folder or
//! zip; default `target/bench-layers/py312-x86`, else `../bench-layers/py312-x86`; skipped when
//! neither exists).

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use layerpack::cli::{Format, WhyArgs};

fn layer() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LAYERPACK_BENCH_PYTHON_LAYER") {
        return Some(PathBuf::from(path)).filter(|path| path.exists());
    }
    ["target/bench-layers/py312-x86", "../bench-layers/py312-x86"]
        .iter()
        .map(|relative| Path::new(env!("CARGO_MANIFEST_DIR")).join(relative))
        .find(|path| path.exists())
}

fn why(layer: &Path, target: &str) -> i32 {
    let args = WhyArgs {
        target: target.to_string(),
        layers: vec![layer.to_string_lossy().into_owned()],
        runtime: Some("python3.12".to_string()),
        arch: Some("x86_64".to_string()),
        function: None,
        sam: None,
        cdk: None,
        resource: None,
        env: Vec::new(),
        kind: None,
        config: None,
        format: Format::Json,
    };
    let mut out = Vec::new();
    layerpack::commands::why::run(&args, &mut out).expect("why runs")
}

fn bench_why(c: &mut Criterion) {
    let Some(layer) = layer() else {
        eprintln!("no bench layer: skipped");
        return;
    };
    let mut group = c.benchmark_group("why python3.12 bench layer");
    group.sample_size(10);
    // A package with many native extensions, each checked with the BIN rules.
    group.bench_function("numpy", |b| b.iter(|| why(&layer, "numpy")));
    // A dotted name down to an extension module.
    group.bench_function("pydantic_core._pydantic_core", |b| {
        b.iter(|| why(&layer, "pydantic_core._pydantic_core"))
    });
    // Not found: the near-miss scan reads every entry of the layer.
    group.bench_function("not_installed", |b| b.iter(|| why(&layer, "not_installed")));
    // The import closure of pandas (numpy, dateutil, pytz, ...): every module it executes,
    // each file parsed once.
    group.bench_function("pandas", |b| b.iter(|| why(&layer, "pandas")));
    group.finish();

    // The handler closure (STK006) of a function importing pandas, pyarrow, pydantic and
    // requests, with the layer opened as `check --function` opens it.
    let function = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        function.path().join("app.py"),
        "import pandas\nimport pyarrow\nimport pydantic\nimport requests\n",
    )
    .expect("write app.py");
    let runtime = layerpack::runtime::Runtime::find("python3.12").expect("runtime");
    let settings = layerpack::config::LintSettings {
        select: vec!["STK006".to_string()],
        ..Default::default()
    };
    let spec = layer.to_string_lossy().into_owned();
    let mut group = c.benchmark_group("handler closure python3.12 bench layer");
    group.sample_size(10);
    group.bench_function("pandas, pyarrow, pydantic, requests", |b| {
        b.iter(|| {
            use layerpack::layer::OpenedLayer;
            use layerpack::lint::{StackContext, StackLayer};
            let code = OpenedLayer::open_function(function.path()).expect("function");
            let opened = OpenedLayer::open(&spec, None).expect("layer");
            let layers = [StackLayer::of(&opened)];
            let context = StackContext {
                name: "bench",
                function: Some(&code.inventory),
                runtime,
                arch: layerpack::runtime::Arch::X86_64,
                layers: &layers,
                handler: Some("app.handler"),
            };
            let findings = layerpack::rules::lint_stack(&context, &settings);
            assert!(findings.is_empty(), "{findings:?}");
        })
    });
    group.finish();
}

criterion_group!(benches, bench_why);
criterion_main!(benches);
