//! Real wheels from PyPI for the tests, downloaded once with `pip download` into
//! `target/test-wheels/` (`.ci/run` has pip). Without pip or the registry a test is skipped with
//! a printed reason; under `CI` it fails instead.

use std::path::{Path, PathBuf};

use super::unavailable;

/// The wheel of `requirement` (`cryptography==43.0.3`) whose file name starts with
/// `file_prefix`, built for `platform` (`manylinux_2_28_x86_64`) and CPython `python`
/// (`3.12`), or for this machine's platform and Python when `for_target` is `None`.
pub fn wheel(
    requirement: &str,
    file_prefix: &str,
    for_target: Option<(&str, &str)>,
) -> Option<PathBuf> {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-wheels");
    std::fs::create_dir_all(&cache).expect("cache folder");
    let find = || {
        std::fs::read_dir(&cache).ok()?.find_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            (name.starts_with(file_prefix) && name.ends_with(".whl")).then_some(path)
        })
    };
    if let Some(found) = find() {
        return Some(found);
    }
    let mut command = std::process::Command::new("python3");
    command.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
    ]);
    if let Some((platform, python)) = for_target {
        command.args(["--platform", platform, "--python-version", python]);
    }
    let status = command.arg("-d").arg(&cache).arg(requirement).status();
    match (status, find()) {
        (Ok(status), Some(found)) if status.success() => Some(found),
        (status, _) => {
            unavailable(&format!(
                "could not download {requirement} ({file_prefix}*) with pip ({status:?}): offline?"
            ));
            None
        }
    }
}

/// Extracts a wheel into `python/` of a layer folder, as `pip install --target python` does.
pub fn install(wheel: &Path, layer: &Path) {
    let file = std::fs::File::open(wheel).expect("open wheel");
    let mut archive = zip::ZipArchive::new(file).expect("wheel is a zip");
    archive
        .extract(layer.join("python"))
        .expect("extract wheel");
}
