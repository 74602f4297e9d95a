//! `--cdk cdk.out`: the functions of a CDK cloud assembly, as `cdk synth` writes it.
//!
//! `manifest.json` lists the artifacts; each `aws:cloudformation:stack` names its template, and
//! a `cdk:cloud-assembly` artifact (a Stage) is a nested assembly in its own folder. In the
//! templates, `aws:asset:path` metadata names the staged folder or zip of a function's code or a
//! layer's content, relative to the assembly folder. Functions are named `Stack/LogicalId`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::deploy::template::Template;
use crate::deploy::{Deployment, Reading};
use crate::error::Error;

/// Reads every function of every stack of the assembly in `dir` (or whose `manifest.json` is
/// `dir`).
pub(crate) fn load(dir: &Path) -> Result<Deployment, Error> {
    let dir = if dir.is_file() {
        dir.parent().unwrap_or(Path::new("")).to_path_buf()
    } else {
        dir.to_path_buf()
    };
    let mut deployment = Deployment::default();
    read_assembly(&dir, &mut deployment, 0)?;
    deployment.functions.sort_by(|a, b| a.name.cmp(&b.name));
    deployment.not_checked.sort();
    deployment.not_checked.dedup();
    Ok(deployment)
}

/// The most bytes read of a CDK manifest or template: far beyond real ones.
const MAX_DEPLOY_FILE: u64 = 64 << 20;

fn read_assembly(dir: &Path, deployment: &mut Deployment, depth: usize) -> Result<(), Error> {
    let manifest_path = dir.join("manifest.json");
    let text = crate::files::read_text_capped(&manifest_path, MAX_DEPLOY_FILE).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                format!(
                    "{} is not a CDK cloud assembly: no manifest.json",
                    dir.display()
                ),
                Some("run `cdk synth` and give its output folder (cdk.out)".to_string()),
            )
        } else {
            Error::read(&manifest_path, err)
        }
    })?;
    let manifest: Value = serde_json::from_str(&text).map_err(|err| {
        Error::input(
            format!("{} is not valid JSON: {err}", manifest_path.display()),
            Some("run `cdk synth` again to rewrite the cloud assembly".to_string()),
        )
    })?;
    let Some(artifacts) = manifest.get("artifacts").and_then(Value::as_object) else {
        return Ok(());
    };
    let mut names: Vec<&String> = artifacts.keys().collect();
    names.sort();
    for name in names {
        let artifact = &artifacts[name.as_str()];
        let properties = artifact.get("properties");
        let property = |key: &str| {
            properties
                .and_then(|properties| properties.get(key))
                .and_then(Value::as_str)
        };
        match artifact.get("type").and_then(Value::as_str) {
            Some("aws:cloudformation:stack") => {
                let Some(file) = property("templateFile") else {
                    continue;
                };
                let template = Template::load(&dir.join(file))?;
                let stack = property("stackName").unwrap_or(name);
                let prefix = format!("{stack}/");
                Reading {
                    template: &template,
                    prefix,
                    built: true,
                }
                .read_into(deployment)?;
            }
            Some("cdk:cloud-assembly") if depth < 8 => {
                if let Some(folder) = property("directoryName") {
                    let nested: PathBuf = dir.join(folder);
                    read_assembly(&nested, deployment, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
