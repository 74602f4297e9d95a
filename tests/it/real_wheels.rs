//! `why` and `check` on layers made of real wheels from PyPI (downloaded once into
//! `target/test-wheels/` for the runtime's platform and Python, see `common::wheels`): each
//! broken case fails with its cause named, and the same packages installed right load with no
//! error.

use std::path::Path;

use crate::common::{self, wheels};

/// Installs `(requirement, file prefix)` wheels for `platform` and `python` into a new layer
/// folder; `None` when one cannot be downloaded (the test is skipped, or fails under CI).
fn layer(
    wheels_wanted: &[(&str, &str)],
    platform: &str,
    python: &str,
) -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (requirement, prefix) in wheels_wanted {
        let wheel = wheels::wheel(requirement, prefix, Some((platform, python)))?;
        wheels::install(&wheel, dir.path());
    }
    Some(dir)
}

/// `why TARGET LAYER --runtime RUNTIME --format json`: (exit status, JSON).
fn why(layer: &Path, target: &str, runtime: &str) -> (i32, serde_json::Value) {
    let output = common::layerpack(layer)
        .args(["why", target, "."])
        .args(["--runtime", runtime, "--arch", "x86_64", "--format", "json"])
        .output()
        .expect("run why");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON from why: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}

/// The error findings of `check LAYER --runtime RUNTIME`, as (code, message).
fn check_errors(layer: &Path, runtime: &str) -> Vec<(String, String)> {
    let output = common::layerpack(layer)
        .args(["check", ".", "--runtime", runtime, "--arch", "x86_64"])
        .args(["--format", "json"])
        .output()
        .expect("run check");
    common::json_findings(&output)
        .into_iter()
        .filter(|finding| finding.severity == "error")
        .map(|finding| (finding.code, finding.message))
        .collect()
}

fn chain(json: &serde_json::Value) -> Vec<String> {
    json["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .filter_map(|link| link["module"].as_str().map(str::to_string))
        .collect()
}

const REQUESTS: &[(&str, &str)] = &[
    ("requests==2.32.3", "requests-2.32.3-"),
    ("urllib3==2.2.3", "urllib3-2.2.3-"),
    ("certifi==2024.8.30", "certifi-2024.8.30-"),
    (
        "charset-normalizer==3.4.0",
        "charset_normalizer-3.4.0-cp312-",
    ),
];

/// requests installed with `--no-deps` and without idna: `requests/packages.py` runs
/// `__import__(package)` for "urllib3" and "idna" at import, so `import requests` fails.
#[test]
fn real_requests_without_idna() {
    let Some(broken) = layer(REQUESTS, "manylinux2014_x86_64", "3.12") else {
        return;
    };
    let (status, json) = why(broken.path(), "requests", "python3.12");
    assert_eq!(status, 1, "{json:#}");
    assert_eq!(json["failure"]["module"], "idna", "{json:#}");
    assert_eq!(json["failure"]["reason"], "No module named 'idna'");
    assert_eq!(chain(&json), ["requests", "requests.packages", "idna"]);

    // With idna it loads, and check finds no error.
    let Some(idna) = wheels::wheel(
        "idna==3.10",
        "idna-3.10-",
        Some(("manylinux2014_x86_64", "3.12")),
    ) else {
        return;
    };
    wheels::install(&idna, broken.path());
    let (status, json) = why(broken.path(), "requests", "python3.12");
    assert_eq!(status, 0, "{json:#}");
    assert!(json["failure"].is_null(), "{json:#}");
    assert_eq!(check_errors(broken.path(), "python3.12"), []);
}

/// pydantic 2.4 imports pydantic_core at import; a pydantic-core built only for CPython 3.11
/// fails on python3.12, named in the chain; the cp312 build loads.
#[test]
fn real_pydantic_core_built_for_another_python() {
    let common_wheels = [
        ("pydantic==2.4.2", "pydantic-2.4.2-"),
        ("typing-extensions==4.12.2", "typing_extensions-4.12.2-"),
        ("annotated-types==0.7.0", "annotated_types-0.7.0-"),
    ];
    let Some(broken) = layer(&common_wheels, "manylinux2014_x86_64", "3.12") else {
        return;
    };
    let Some(core_311) = wheels::wheel(
        "pydantic-core==2.10.1",
        "pydantic_core-2.10.1-cp311-",
        Some(("manylinux2014_x86_64", "3.11")),
    ) else {
        return;
    };
    wheels::install(&core_311, broken.path());
    let (status, json) = why(broken.path(), "pydantic", "python3.12");
    assert_eq!(status, 1, "{json:#}");
    assert_eq!(json["failure"]["module"], "pydantic_core._pydantic_core");
    assert_eq!(json["failure"]["code"], "BIN006");
    assert_eq!(
        chain(&json),
        ["pydantic", "pydantic_core", "pydantic_core._pydantic_core"]
    );
    let human = common::layerpack(broken.path())
        .args(["why", "pydantic", ".", "--runtime", "python3.12"])
        .args(["--arch", "x86_64"])
        .output()
        .expect("run why");
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("only a CPython 3.11 on x86_64-linux-gnu build"),
        "{human}"
    );
    // check: an error, and no claim that another build serves the module.
    let errors = check_errors(broken.path(), "python3.12");
    assert!(
        errors.iter().any(|(code, message)| code == "BIN006"
            && message.contains("_pydantic_core")
            && !message.contains("serves")),
        "{errors:#?}"
    );

    let Some(healthy) = layer(&common_wheels, "manylinux2014_x86_64", "3.12") else {
        return;
    };
    let Some(core_312) = wheels::wheel(
        "pydantic-core==2.10.1",
        "pydantic_core-2.10.1-cp312-",
        Some(("manylinux2014_x86_64", "3.12")),
    ) else {
        return;
    };
    wheels::install(&core_312, healthy.path());
    let (status, json) = why(healthy.path(), "pydantic", "python3.12");
    assert_eq!(status, 0, "{json:#}");
    assert_eq!(check_errors(healthy.path(), "python3.12"), []);
}

/// cryptography built for manylinux_2_28: `import cryptography` runs only `__about__` and
/// loads on python3.11 (Amazon Linux 2, glibc 2.26), but `cryptography.x509` loads the Rust
/// extension, which needs GLIBC_2.28. The manylinux2014 build loads both.
#[test]
fn real_cryptography_for_a_newer_glibc() {
    let support = [
        ("cffi==1.17.1", "cffi-1.17.1-cp311-"),
        ("pycparser==2.22", "pycparser-2.22-"),
    ];
    let Some(broken) = layer(&support, "manylinux2014_x86_64", "3.11") else {
        return;
    };
    let Some(new_glibc) = wheels::wheel(
        "cryptography==43.0.3",
        "cryptography-43.0.3-cp39-abi3-manylinux_2_28_x86_64",
        Some(("manylinux_2_28_x86_64", "3.11")),
    ) else {
        return;
    };
    wheels::install(&new_glibc, broken.path());
    let (status, json) = why(broken.path(), "cryptography", "python3.11");
    assert_eq!(status, 0, "{json:#}");
    let (status, json) = why(broken.path(), "cryptography.x509", "python3.11");
    assert_eq!(status, 1, "{json:#}");
    assert_eq!(
        json["failure"]["module"],
        "cryptography.hazmat.bindings._rust"
    );
    assert_eq!(json["failure"]["code"], "BIN004");
    let reason = json["failure"]["reason"].as_str().expect("reason");
    assert!(reason.contains("GLIBC_2.28"), "{reason}");
    let links = chain(&json);
    assert_eq!(links[..2], ["cryptography", "cryptography.x509"]);
    assert_eq!(
        links.last().map(String::as_str),
        Some("cryptography.hazmat.bindings._rust")
    );

    let Some(healthy) = layer(&support, "manylinux2014_x86_64", "3.11") else {
        return;
    };
    let Some(manylinux2014) = wheels::wheel(
        "cryptography==43.0.3",
        "cryptography-43.0.3-cp39-abi3-manylinux_2_17_x86_64",
        Some(("manylinux2014_x86_64", "3.11")),
    ) else {
        return;
    };
    wheels::install(&manylinux2014, healthy.path());
    for target in ["cryptography", "cryptography.x509"] {
        let (status, json) = why(healthy.path(), target, "python3.11");
        assert_eq!(status, 0, "{target}: {json:#}");
    }
    assert_eq!(check_errors(healthy.path(), "python3.11"), []);
}

/// pydantic 2.5 and later import pydantic_core lazily, from the module `__getattr__` of their
/// `__init__`: `import pydantic` succeeds in CPython with a foreign core (so `why pydantic`
/// loads), but the handler's `from pydantic import BaseModel` imports pydantic.main, which
/// fails. STK006 follows the lazy table; the cp312 core passes.
#[test]
fn real_lazy_pydantic_fails_at_the_handlers_from_import() {
    let common_wheels = [
        ("pydantic==2.9.2", "pydantic-2.9.2-"),
        ("typing-extensions==4.12.2", "typing_extensions-4.12.2-"),
        ("annotated-types==0.7.0", "annotated_types-0.7.0-"),
    ];
    let function = tempfile::tempdir().expect("temp dir");
    common::write(
        &function.path().join("app.py"),
        "from pydantic import BaseModel, Field\n\n\nclass Item(BaseModel):\n    name: str = Field()\n\n\ndef handler(event, context):\n    return Item(name=event['name']).model_dump()\n",
    );
    let stk006 = |layer: &Path| -> Vec<String> {
        let output = common::layerpack(layer)
            .args(["check", "."])
            .arg("--function")
            .arg(function.path())
            .args(["--handler", "app.handler", "--runtime", "python3.12"])
            .args(["--arch", "x86_64", "--select", "STK006", "--format", "json"])
            .output()
            .expect("run check");
        common::json_findings(&output)
            .into_iter()
            .map(|finding| finding.message)
            .collect()
    };
    for (core, prefix, python, fails) in [
        (
            "pydantic-core==2.23.4",
            "pydantic_core-2.23.4-cp311-",
            "3.11",
            true,
        ),
        (
            "pydantic-core==2.23.4",
            "pydantic_core-2.23.4-cp312-",
            "3.12",
            false,
        ),
    ] {
        let Some(layer) = layer(&common_wheels, "manylinux2014_x86_64", "3.12") else {
            return;
        };
        let Some(core) = wheels::wheel(core, prefix, Some(("manylinux2014_x86_64", python))) else {
            return;
        };
        wheels::install(&core, layer.path());
        let (status, json) = why(layer.path(), "pydantic", "python3.12");
        assert_eq!(status, 0, "{json:#}");
        let findings = stk006(layer.path());
        if fails {
            assert_eq!(findings.len(), 1, "{findings:#?}");
            assert!(
                findings[0].starts_with(
                    "app.py:1 `from pydantic import BaseModel, Field` fails: pydantic → pydantic.main → pydantic_core → pydantic_core._pydantic_core: only a CPython 3.11"
                ),
                "{}",
                findings[0]
            );
        } else {
            assert_eq!(findings, Vec::<String>::new());
        }
    }
}
