//! `--sam template.yaml`: the functions of a SAM or plain CloudFormation template.
//!
//! Paths (`CodeUri`, `ContentUri`, `Code`, `Content`) are relative to the template. After
//! `sam build`, `.aws-sam/build/template.yaml` points at the built artifacts; a layer with
//! `Metadata.BuildMethod` in a source template is only made by `sam build`, so it is listed as
//! not checked there rather than checked as the unbuilt folder it still is.

use std::path::Path;

use crate::deploy::template::Template;
use crate::deploy::{Deployment, Reading};
use crate::error::Error;

/// Reads every function of the template at `path`.
pub(crate) fn load(path: &Path) -> Result<Deployment, Error> {
    let template = Template::load(path)?;
    let built = is_built(path);
    let mut deployment = Deployment::default();
    Reading {
        template: &template,
        prefix: String::new(),
        built,
    }
    .read_into(&mut deployment)?;
    if !built && template.dir.join(".aws-sam/build/template.yaml").is_file() {
        deployment.not_checked.push(format!(
            "this is the source template; {} holds what `sam build` made, with dependencies installed",
            template.dir.join(".aws-sam/build/template.yaml").display()
        ));
    }
    deployment.not_checked.sort();
    deployment.not_checked.dedup();
    Ok(deployment)
}

/// True for a template `sam build` wrote (it lives in `.aws-sam/build/`).
fn is_built(path: &Path) -> bool {
    let components: Vec<String> = path
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    components
        .windows(2)
        .any(|pair| pair[0] == ".aws-sam" && pair[1] == "build")
}
