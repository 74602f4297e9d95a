//! Functions as the user deploys them: a SAM or CloudFormation template (`sam.rs`) or a CDK cloud
//! assembly (`cdk.rs`), turned into the list of functions it creates, each with its runtime,
//! architecture, handler, code and layers in attachment order.
//!
//! Users already describe their stacks there; repeating runtime, architecture, code folder and
//! layer order in `layer.toml` would drift. This module reads those files offline and hands each
//! function to the same stack check `check --function` runs, and to `why`. What cannot be read
//! offline (a layer ARN, code in S3, a container image, a runtime only a parameter decides) is
//! listed as not checked, never dropped silently: an ARN layer still counts towards the five
//! layers a function may have, as an empty placeholder in its place.

pub(crate) mod cdk;
pub(crate) mod sam;
pub(crate) mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::Error;
use crate::inventory::{Inventory, Origin};
use crate::layer::OpenedLayer;
use crate::runtime::{Arch, Runtime};
use template::{Template, describe};

/// One function of a template or assembly.
#[derive(Clone, Debug)]
pub(crate) struct DeployedFunction {
    /// The name findings carry: the logical id, or in a CDK assembly the construct path
    /// (`LayerpackDemo/Api`).
    pub(crate) name: String,
    /// Names `--resource` matches: the logical id, and in a CDK assembly the construct path and
    /// its last part (`LayerpackDemo/Api`, `Api`).
    pub(crate) ids: Vec<String>,
    pub(crate) runtime: &'static Runtime,
    pub(crate) architecture: Arch,
    pub(crate) handler: Option<String>,
    /// The function's code, a folder or a zip on disk; `None` when it cannot be read offline.
    pub(crate) code: Option<PathBuf>,
    /// `Environment.Variables` whose values the template fixes.
    pub(crate) environment: BTreeMap<String, String>,
    pub(crate) layers: Vec<DeployedLayer>,
}

/// One entry of a function's `Layers`, in attachment order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeployedLayer {
    /// The layer's logical id (stack-prefixed in a CDK assembly), or the ARN as written.
    pub(crate) name: String,
    /// A folder or zip on disk, or `None` when it cannot be read offline.
    pub(crate) path: Option<PathBuf>,
    /// Why it cannot be read, when `path` is `None`.
    pub(crate) not_checked: Option<String>,
    /// `CompatibleRuntimes` (known ones); empty when the template declares none.
    pub(crate) runtimes: Vec<&'static Runtime>,
    /// `CompatibleArchitectures`; empty when the template declares none.
    pub(crate) architectures: Vec<Arch>,
}

/// Everything read from a template or assembly.
#[derive(Debug, Default)]
pub(crate) struct Deployment {
    /// Functions in name order.
    pub(crate) functions: Vec<DeployedFunction>,
    /// What is not checked, and why, one line each, sorted.
    pub(crate) not_checked: Vec<String>,
}

impl Deployment {
    /// Keeps the functions `--resource` names (all when `ids` is empty); an id that names no
    /// function is a usage error listing the ones there are.
    pub(crate) fn select(&mut self, ids: &[String], source: &Path) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            if !self.functions.iter().any(|function| function.matches(id)) {
                let known: Vec<&str> = self
                    .functions
                    .iter()
                    .map(|function| function.name.as_str())
                    .collect();
                return Err(Error::usage(
                    format!("{} has no function `{id}`", source.display()),
                    Some(if known.is_empty() {
                        "it declares no function that can be checked".to_string()
                    } else {
                        format!("functions there: {}", known.join(", "))
                    }),
                ));
            }
        }
        self.functions
            .retain(|function| ids.iter().any(|id| function.matches(id)));
        let kept: BTreeSet<String> = self
            .functions
            .iter()
            .map(|function| format!("{}:", function.name))
            .collect();
        // Notes about functions not asked for go too; notes about layers and kept functions stay.
        self.not_checked.retain(|note| {
            !note.starts_with("function ")
                || kept
                    .iter()
                    .any(|prefix| note.trim_start_matches("function ").starts_with(prefix))
        });
        Ok(())
    }
}

impl DeployedFunction {
    fn matches(&self, id: &str) -> bool {
        self.name == id || self.ids.iter().any(|known| known == id)
    }
}

/// The code and layers of a deployment, each opened once however many functions share it.
pub(crate) struct OpenedDeployment {
    /// By path: every function code and layer folder or zip.
    opened: BTreeMap<PathBuf, OpenedLayer>,
    /// The empty stand-in for a layer that cannot be read.
    placeholder: Inventory,
}

impl OpenedDeployment {
    pub(crate) fn open(deployment: &Deployment) -> Result<OpenedDeployment, Error> {
        let mut paths: BTreeSet<&Path> = BTreeSet::new();
        for function in &deployment.functions {
            paths.extend(function.code.as_deref());
            paths.extend(
                function
                    .layers
                    .iter()
                    .filter_map(|layer| layer.path.as_deref()),
            );
        }
        let mut opened = BTreeMap::new();
        for path in paths {
            let layer = OpenedLayer::open(&path.to_string_lossy(), None)?;
            opened.insert(path.to_path_buf(), layer);
        }
        Ok(OpenedDeployment {
            opened,
            placeholder: Inventory::new(Origin::Directory(PathBuf::new()), Vec::new()),
        })
    }

    /// A function's code, when it can be read.
    pub(crate) fn code(&self, function: &DeployedFunction) -> Option<&Inventory> {
        let path = function.code.as_deref()?;
        self.opened.get(path).map(|layer| &layer.inventory)
    }

    /// A layer's files: the opened folder or zip, or an empty stand-in.
    pub(crate) fn inventory(&self, layer: &DeployedLayer) -> &Inventory {
        layer
            .path
            .as_deref()
            .and_then(|path| self.opened.get(path))
            .map_or(&self.placeholder, |opened| &opened.inventory)
    }

    /// Takes an opened folder or zip out (for `why`, which owns its layers).
    pub(crate) fn take(&mut self, path: &Path) -> Option<OpenedLayer> {
        self.opened.remove(path)
    }
}

impl DeployedLayer {
    /// The name findings and notes carry: the logical id, or the ARN marked as not checked.
    pub(crate) fn display_name(&self) -> String {
        match &self.path {
            Some(_) => self.name.clone(),
            None => format!("{} (not checked)", self.name),
        }
    }
}

impl DeployedFunction {
    /// `Api/SharedLayer`: a layer as part of this function's stack (the stack prefix a CDK
    /// name shares with the function is not repeated).
    pub(crate) fn layer_in_stack(&self, layer: &str) -> String {
        let prefix = self.name.rsplit_once('/').map_or("", |(stack, _)| stack);
        let short = if prefix.is_empty() {
            layer
        } else {
            layer
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(layer)
        };
        format!("{}/{short}", self.name)
    }

    /// One line per layer of this function that cannot be read.
    pub(crate) fn layer_notes(&self) -> Vec<String> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(index, layer)| {
                let why = layer.not_checked.as_ref()?;
                Some(format!(
                    "function {}: layer {} `{}`: {why}",
                    self.name,
                    index + 1,
                    layer.name
                ))
            })
            .collect()
    }
}

const SAM_FUNCTION: &str = "AWS::Serverless::Function";
const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
const SAM_LAYER: &str = "AWS::Serverless::LayerVersion";
const LAMBDA_LAYER: &str = "AWS::Lambda::LayerVersion";

/// How a template's functions are named and where its files are.
pub(crate) struct Reading<'t> {
    pub(crate) template: &'t Template,
    /// Prefix of every name (`Stack/` in a CDK assembly, empty for SAM).
    pub(crate) prefix: String,
    /// True for what `sam build` or `cdk synth` wrote: code and layers are built artifacts.
    pub(crate) built: bool,
}

impl Reading<'_> {
    /// Reads every function of the template into `deployment`.
    pub(crate) fn read_into(&self, deployment: &mut Deployment) -> Result<(), Error> {
        let globals = self
            .template
            .root
            .get("Globals")
            .and_then(|globals| globals.get("Function"))
            .cloned()
            .unwrap_or(Value::Null);
        for (id, resource) in self.template.resources() {
            let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
            let mut properties = resource
                .get("Properties")
                .cloned()
                .unwrap_or(Value::Object(Default::default()));
            match kind {
                SAM_FUNCTION => properties = merge_globals(&globals, &properties),
                LAMBDA_FUNCTION => {}
                _ => continue,
            }
            if let Some(function) = self.function(id, resource, &properties, deployment)? {
                deployment.functions.push(function);
            }
        }
        Ok(())
    }

    /// The name a resource is shown by: its CDK construct path when it has one
    /// (`LayerpackDemo/Api`), else the logical id (prefixed by the stack's name in an assembly).
    fn name(&self, id: &str) -> String {
        match self.construct_path(id) {
            Some(path) => path.to_string(),
            None => format!("{}{id}", self.prefix),
        }
    }

    /// `aws:cdk:path` metadata without its trailing `/Resource`.
    fn construct_path(&self, id: &str) -> Option<&str> {
        let path = self
            .template
            .resource(id)?
            .get("Metadata")?
            .get("aws:cdk:path")?
            .as_str()?;
        Some(path.strip_suffix("/Resource").unwrap_or(path))
    }

    fn skip(&self, deployment: &mut Deployment, id: &str, why: String) {
        deployment
            .not_checked
            .push(format!("function {}: {why}", self.name(id)));
    }

    fn function(
        &self,
        id: &str,
        resource: &Value,
        properties: &Value,
        deployment: &mut Deployment,
    ) -> Result<Option<DeployedFunction>, Error> {
        let template = self.template;
        let property = |key: &str| properties.get(key);
        if property("PackageType")
            .and_then(|value| template.string(value))
            .as_deref()
            == Some("Image")
            || property("ImageUri").is_some()
        {
            self.skip(
                deployment,
                id,
                "a container image; its image is not checked".into(),
            );
            return Ok(None);
        }
        let Some(runtime_value) = property("Runtime") else {
            self.skip(
                deployment,
                id,
                "no Runtime (nor Globals.Function.Runtime)".into(),
            );
            return Ok(None);
        };
        let Some(runtime_id) = template.string(runtime_value) else {
            self.skip(
                deployment,
                id,
                format!(
                    "its Runtime `{}` is decided at deploy time",
                    describe(runtime_value)
                ),
            );
            return Ok(None);
        };
        let Some(runtime) = Runtime::find(&runtime_id) else {
            self.skip(
                deployment,
                id,
                format!("runtime `{runtime_id}` is not one layerpack checks"),
            );
            return Ok(None);
        };
        let architectures = property("Architectures")
            .map(|value| template.strings(value))
            .unwrap_or_default();
        let architecture = match architectures.first() {
            None => Arch::X86_64,
            Some(name) => match Arch::parse(name) {
                Some(arch) => arch,
                None => {
                    self.skip(deployment, id, format!("unknown architecture `{name}`"));
                    return Ok(None);
                }
            },
        };
        let handler = property("Handler").and_then(|value| template.string(value));
        let environment = property("Environment")
            .and_then(|environment| environment.get("Variables"))
            .and_then(Value::as_object)
            .map(|variables| {
                variables
                    .iter()
                    .filter_map(|(name, value)| Some((name.clone(), template.string(value)?)))
                    .collect()
            })
            .unwrap_or_default();
        let code = self.function_code(id, resource, properties, deployment)?;
        let mut layers = Vec::new();
        if let Some(items) = property("Layers") {
            let items = match items {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for item in &items {
                layers.push(self.layer(item)?);
            }
        }
        // `--resource` takes the logical id, and for CDK the construct path or its last part.
        let mut ids = vec![id.to_string()];
        if let Some(path) = self.construct_path(id) {
            ids.push(path.to_string());
            ids.extend(path.rsplit('/').next().map(str::to_string));
        }
        Ok(Some(DeployedFunction {
            name: self.name(id),
            ids,
            runtime,
            architecture,
            handler,
            code,
            environment,
            layers,
        }))
    }

    /// Where a function's code is on disk: a CDK asset, `CodeUri` (SAM), or `Code` as a local
    /// path (`aws cloudformation package` style).
    fn function_code(
        &self,
        id: &str,
        resource: &Value,
        properties: &Value,
        deployment: &mut Deployment,
    ) -> Result<Option<PathBuf>, Error> {
        if let Some(path) = self.asset_path(id, resource)? {
            return Ok(Some(path));
        }
        let template = self.template;
        let location = properties.get("CodeUri").or_else(|| properties.get("Code"));
        let Some(location) = location else {
            let why = if properties.get("InlineCode").is_some() {
                "its InlineCode is not checked (only its layers are)"
            } else {
                "no CodeUri: its code is not checked (only its layers are)"
            };
            self.skip_code(deployment, id, why.to_string());
            return Ok(None);
        };
        if location.get("ZipFile").is_some() {
            self.skip_code(
                deployment,
                id,
                "its inline ZipFile code is not checked (only its layers are)".into(),
            );
            return Ok(None);
        }
        match template.string(location) {
            Some(text) if !text.starts_with("s3://") => {
                Ok(Some(self.local_path(id, "code", &text)?))
            }
            _ => {
                self.skip_code(
                    deployment,
                    id,
                    format!(
                        "its code is in S3 ({}); only its layers are checked",
                        describe(location)
                    ),
                );
                Ok(None)
            }
        }
    }

    fn skip_code(&self, deployment: &mut Deployment, id: &str, why: String) {
        self.skip(deployment, id, why);
    }

    /// `aws:asset:path` of a CDK-synthesized resource: the staged folder or zip, relative to
    /// the template's folder.
    fn asset_path(&self, id: &str, resource: &Value) -> Result<Option<PathBuf>, Error> {
        let Some(asset) = resource
            .get("Metadata")
            .and_then(|metadata| metadata.get("aws:asset:path"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        self.local_path(id, "asset", asset).map(Some)
    }

    /// A path of the template, relative to its folder, which must exist.
    fn local_path(&self, id: &str, what: &str, text: &str) -> Result<PathBuf, Error> {
        let path = self.template.dir.join(text);
        if !path.exists() {
            return Err(Error::input(
                format!(
                    "{}: the {what} of {} is `{text}`, and {} does not exist",
                    self.template.path.display(),
                    self.name(id),
                    path.display()
                ),
                Some(if self.built {
                    "build again (`sam build` or `cdk synth`) so the artifacts are there"
                        .to_string()
                } else {
                    "paths in a template are relative to the template's folder".to_string()
                }),
            ));
        }
        Ok(path)
    }

    /// One entry of `Layers`.
    fn layer(&self, item: &Value) -> Result<DeployedLayer, Error> {
        let template = self.template;
        let not_checked = |name: String, why: &str| DeployedLayer {
            name,
            path: None,
            not_checked: Some(why.to_string()),
            runtimes: Vec::new(),
            architectures: Vec::new(),
        };
        if let Some(Value::String(target)) = item.get("Ref")
            && matches!(
                template.resource_type(target),
                Some(SAM_LAYER | LAMBDA_LAYER)
            )
        {
            return self.layer_resource(target);
        }
        let name = match template.string(item) {
            Some(text) => text,
            None => describe(item),
        };
        let why = if name.starts_with("arn:") {
            "a published layer version, which cannot be read offline"
        } else {
            "decided at deploy time, so it cannot be read offline"
        };
        Ok(not_checked(name, why))
    }

    /// A layer declared in the template.
    fn layer_resource(&self, id: &str) -> Result<DeployedLayer, Error> {
        let template = self.template;
        let resource = template.resource(id).unwrap_or(&Value::Null);
        let properties = resource.get("Properties").unwrap_or(&Value::Null);
        let runtimes = properties
            .get("CompatibleRuntimes")
            .map(|value| template.strings(value))
            .unwrap_or_default()
            .iter()
            .filter_map(|id| Runtime::find(id))
            .collect();
        let architectures = properties
            .get("CompatibleArchitectures")
            .map(|value| template.strings(value))
            .unwrap_or_default()
            .iter()
            .filter_map(|name| Arch::parse(name))
            .collect();
        let mut layer = DeployedLayer {
            name: self.name(id),
            path: None,
            not_checked: None,
            runtimes,
            architectures,
        };
        if let Some(path) = self.asset_path(id, resource)? {
            layer.path = Some(path);
            return Ok(layer);
        }
        let build_method = resource
            .get("Metadata")
            .and_then(|metadata| metadata.get("BuildMethod"))
            .and_then(Value::as_str);
        if let (Some(method), false) = (build_method, self.built) {
            layer.not_checked = Some(format!(
                "`sam build` makes it (BuildMethod: {method}); check .aws-sam/build/template.yaml \
                 after `sam build`"
            ));
            return Ok(layer);
        }
        let location = properties
            .get("ContentUri")
            .or_else(|| properties.get("Content"));
        match location.and_then(|value| template.string(value)) {
            Some(text) if !text.starts_with("s3://") => {
                layer.path = Some(self.local_path(id, "content", &text)?);
            }
            _ => {
                layer.not_checked = Some(format!(
                    "its content is in S3 ({}), which cannot be read offline",
                    location.map_or("none given".to_string(), describe)
                ));
            }
        }
        Ok(layer)
    }
}

/// A function's properties with `Globals.Function` applied the way SAM applies it: the
/// function's own scalar wins, maps merge key by key (recursively), lists are the global entries
/// followed by the function's. An intrinsic (`{"Ref": ...}`, `{"Fn::...": ...}`) is a scalar.
pub(crate) fn merge_globals(globals: &Value, local: &Value) -> Value {
    match (globals, local) {
        (Value::Null, local) => local.clone(),
        (Value::Object(global), Value::Object(own))
            if !is_intrinsic(globals) && !is_intrinsic(local) =>
        {
            let mut merged = global.clone();
            for (key, value) in own {
                let combined = match global.get(key) {
                    Some(global_value) => merge_globals(global_value, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), combined);
            }
            Value::Object(merged)
        }
        (Value::Array(global), Value::Array(own)) => {
            Value::Array(global.iter().chain(own).cloned().collect())
        }
        (_, local) => local.clone(),
    }
}

fn is_intrinsic(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        map.len() == 1
            && map
                .keys()
                .all(|key| key == "Ref" || key == "Condition" || key.starts_with("Fn::"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globals_merge_as_sam_merges_them() {
        let globals = json!({
            "Runtime": "python3.11",
            "Layers": [{"Ref": "Common"}],
            "Environment": {"Variables": {"STAGE": "dev", "LOG": "info"}},
            "Architectures": ["arm64"],
        });
        let local = json!({
            "Runtime": "python3.12",
            "Layers": ["arn:aws:lambda:eu-west-1:1:layer:x:1"],
            "Environment": {"Variables": {"LOG": "debug"}},
            "Architectures": {"Ref": "Arch"},
        });
        assert_eq!(
            merge_globals(&globals, &local),
            json!({
                "Runtime": "python3.12",
                "Layers": [{"Ref": "Common"}, "arn:aws:lambda:eu-west-1:1:layer:x:1"],
                "Environment": {"Variables": {"STAGE": "dev", "LOG": "debug"}},
                "Architectures": {"Ref": "Arch"},
            })
        );
    }
}
