//! One module per command: each turns parsed flags into calls to the pipeline stages and prints
//! the result. Shared pieces (resolving runtimes from flags, writing output) live here.

pub(crate) mod build;
pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod diff;
pub(crate) mod init;
pub(crate) mod inspect;
pub(crate) mod rules;
pub mod why;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use crate::report::{write_json, write_out};

/// The exit status when findings fail: `check` with a blocking finding, `build` refusing a layer,
/// `why` with a target that does not load. A tool error ([`Error`]) exits 2.
pub(crate) const EXIT_FINDINGS: i32 = 1;

use crate::config::Config;
use crate::error::Error;
use crate::runtime::{Arch, Runtime};

/// Parses `--runtime` values.
pub fn parse_runtimes(ids: &[String]) -> Result<Vec<&'static Runtime>, Error> {
    let mut runtimes = Vec::new();
    for id in ids {
        let runtime = Runtime::find(id).ok_or_else(|| {
            Error::usage(
                format!("unknown runtime `{id}`"),
                Some(format!("known runtimes: {}", Runtime::known_ids())),
            )
        })?;
        if !runtimes.contains(&runtime) {
            runtimes.push(runtime);
        }
    }
    Ok(runtimes)
}

/// Parses `--env NAME=VALUE` values into the function's environment (a later value wins).
pub(crate) fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| {
                Error::usage(
                    format!("`--env {pair}` is not NAME=VALUE"),
                    Some(
                        "write it as --env AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument"
                            .to_string(),
                    ),
                )
            })?;
        env.insert(name.to_string(), value.to_string());
    }
    Ok(env)
}

/// Parses `--arch` values (default x86_64 when none is given).
pub fn parse_archs(names: &[String]) -> Result<Vec<Arch>, Error> {
    let mut archs = Vec::new();
    for name in names {
        let arch = Arch::parse(name).ok_or_else(|| {
            Error::usage(
                format!("unknown architecture `{name}`"),
                Some("Lambda architectures are x86_64 and arm64".to_string()),
            )
        })?;
        if !archs.contains(&arch) {
            archs.push(arch);
        }
    }
    archs.sort();
    Ok(archs)
}

/// The configuration file to use: `--config`, else the nearest `layer.toml` found by walking up
/// from the current folder (as cargo finds `Cargo.toml`), as a path relative to the current
/// folder so that every path derived from it prints the way the user would type it.
pub(crate) fn config_path(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(path) => Some(path.to_path_buf()),
        None => {
            let here = std::env::current_dir().ok()?;
            crate::config::discover(&here)
        }
    }
}

/// Loads `--config` (which must exist) or the nearest `layer.toml`, if there is one.
pub(crate) fn load_config_if_any(flag: Option<&Path>) -> Result<Option<Config>, Error> {
    config_path(flag)
        .map(|path| Config::load(&path))
        .transpose()
}
