//! `layerpack check`: lints folders, zips, the layers of `layer.toml`, or a function with its
//! layers, and prints the findings in the format asked for.
//!
//! Runtimes and architectures come from the flags, else from `layer.toml`, else they are
//! assumed from the layer's own layout (and the assumption is said on stderr), so that a zip
//! downloaded from anywhere can be checked with no flags at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use crate::cli::CheckArgs;

use crate::archive::DosDateTime;
use crate::commands::{EXIT_FINDINGS, load_config_if_any, parse_archs, parse_env, parse_runtimes};
use crate::config::Config;
use crate::config::LintSettings;
use crate::deploy::{DeployedLayer, Deployment, OpenedDeployment};
use crate::domain::served::{assume_architectures, assume_runtimes};
use crate::error::Error;
use crate::finding::{Counts, Finding};
use crate::layer::OpenedLayer;
use crate::lint::{self, LayerContext, StackContext, StackLayer};
use crate::report::{self, Summary};
use crate::rules;
use crate::runtime::entry_points::EXEC_WRAPPER_VAR;
use crate::runtime::{Arch, Runtime};

pub(crate) fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let flag_runtimes = parse_runtimes(&args.runtimes)?;
    let flag_archs = parse_archs(&args.archs)?;
    let config = load_config_if_any(args.config.as_deref())?;
    let settings = lint_settings(config.as_ref(), args)?;
    let env = parse_env(&args.env)?;
    let mut run = CheckRun {
        settings,
        env,
        findings: Vec::new(),
        files: 0,
        unzipped_bytes: 0,
        zip_mtime: DosDateTime::from_env()
            .unwrap_or(DosDateTime::EPOCH)
            .to_unix(),
    };

    let deployment = match (&args.sam, &args.cdk) {
        (Some(template), _) => Some((template, crate::deploy::sam::load(template)?)),
        (None, Some(assembly)) => Some((assembly, crate::deploy::cdk::load(assembly)?)),
        (None, None) => None,
    };
    if deployment.is_none() && !args.resources.is_empty() {
        return Err(Error::usage(
            "--resource picks functions of --sam or --cdk",
            Some("add --sam template.yaml or --cdk cdk.out".to_string()),
        ));
    }

    if let Some((source, mut deployment)) = deployment {
        deployment.select(&args.resources, source)?;
        run.check_deployment(&deployment)?;
    } else if let Some(function) = &args.function {
        let runtime = *flag_runtimes.first().ok_or_else(|| {
            Error::usage(
                "--function needs the function's runtime",
                Some("add --runtime, e.g. --runtime python3.12".to_string()),
            )
        })?;
        let arch = flag_archs.first().copied().unwrap_or(Arch::X86_64);
        let specs: Vec<String> = args.paths.iter().map(|path| spec_of(path)).collect();
        let layers = open_each(&specs, config.as_ref())?;
        let wrapper = run.env.get(EXEC_WRAPPER_VAR).cloned();
        let function_layers: Vec<&OpenedLayer> = specs.iter().map(|spec| &layers[spec]).collect();
        run.check_function(
            &spec_of(function),
            Some(function),
            &function_layers,
            (runtime, arch),
            (wrapper.as_deref(), args.handler.as_deref()),
            |_| true,
        )?;
    } else if !args.paths.is_empty() {
        for path in &args.paths {
            let opened = OpenedLayer::open(&spec_of(path), config.as_ref())?;
            let wrapper = run.env.get(EXEC_WRAPPER_VAR).cloned();
            run.check_layer(&opened, &flag_runtimes, &flag_archs, wrapper.as_deref());
        }
    } else {
        let config = config.as_ref().ok_or_else(|| {
            Error::usage(
                "nothing to check: no PATH given and no layer.toml in this folder or any folder above it",
                Some(
                    "pass folders or .zip files (`layerpack check layer.zip`), --config FILE, or \
                     run `layerpack init`"
                        .to_string(),
                ),
            )
        })?;
        if config.layers.is_empty() && config.functions.is_empty() {
            return Err(Error::usage(
                format!(
                    "{} declares no [layer.NAME] to check",
                    config.path.display()
                ),
                Some("pass folders or .zip files to check instead".to_string()),
            ));
        }
        // Every layer is opened once: the configured layers, then what the functions attach.
        let specs: Vec<String> = config
            .layers
            .iter()
            .map(|layer| layer.name.clone())
            .chain(
                config
                    .functions
                    .iter()
                    .flat_map(|function| function.layers.clone()),
            )
            .collect();
        let layers = open_each(&specs, Some(config))?;
        for layer in &config.layers {
            let wrapper = run.env.get(EXEC_WRAPPER_VAR).cloned();
            run.check_layer(
                &layers[&layer.name],
                &flag_runtimes,
                &flag_archs,
                wrapper.as_deref(),
            );
        }
        for function in &config.functions {
            let wrapper = run
                .env
                .get(EXEC_WRAPPER_VAR)
                .or_else(|| function.env.get(EXEC_WRAPPER_VAR))
                .cloned();
            let function_layers: Vec<&OpenedLayer> =
                function.layers.iter().map(|spec| &layers[spec]).collect();
            // Layers of layer.toml are linted on their own above, with their declared runtimes.
            run.check_function(
                &function.name,
                function.code.as_deref(),
                &function_layers,
                (function.runtime, function.architecture),
                (wrapper.as_deref(), function.handler.as_deref()),
                |spec| config.layer(spec).is_none(),
            )?;
        }
    }

    lint::sort_findings(&mut run.findings);
    let counts = Counts::of(&run.findings);
    let summary = Summary {
        errors: counts.errors,
        warnings: counts.warnings,
        infos: counts.infos,
        files: run.files,
        unzipped_bytes: run.unzipped_bytes,
    };
    report::write_findings(out, args.format, &run.findings, &summary)?;
    Ok(if counts.blocking(args.strict) > 0 {
        EXIT_FINDINGS
    } else {
        0
    })
}

/// `[lint]` of `layer.toml` with `--select` and `--ignore` added.
fn lint_settings(config: Option<&Config>, args: &CheckArgs) -> Result<LintSettings, Error> {
    let mut settings = config.map(|config| config.lint.clone()).unwrap_or_default();
    let normalize = |codes: &[String]| -> Vec<String> {
        codes
            .iter()
            .map(|code| code.trim().to_ascii_uppercase())
            .filter(|code| !code.is_empty())
            .collect()
    };
    settings.select.extend(normalize(&args.select));
    settings.ignore.extend(normalize(&args.ignore));
    let unknown = settings.unknown_codes();
    if !unknown.is_empty() {
        return Err(Error::usage(
            format!("unknown rule code: {}", unknown.join(", ")),
            Some(
                "`layerpack rules` lists every code; a prefix such as BIN selects a family".into(),
            ),
        ));
    }
    Ok(settings)
}

/// A path as the user typed it, which is also the name its findings carry.
fn spec_of(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

struct CheckRun {
    settings: LintSettings,
    /// The function's environment from `--env` (a function of `layer.toml` adds its own `env`).
    env: BTreeMap<String, String>,
    findings: Vec<Finding>,
    files: usize,
    unzipped_bytes: u64,
    /// The date a zip built from a configured layer would give its entries (HYG007).
    zip_mtime: i64,
}

impl CheckRun {
    /// Lints one layer on its own. Runtimes: the flags, else the layer's declaration, else
    /// assumed from the layout (said on stderr); the same for architectures.
    fn check_layer(
        &mut self,
        opened: &OpenedLayer,
        flag_runtimes: &[&'static Runtime],
        flag_archs: &[Arch],
        exec_wrapper: Option<&str>,
    ) {
        let inventory = &opened.inventory;
        let binaries = opened.binaries();
        let mut assumed = Vec::new();
        let runtimes = if !flag_runtimes.is_empty() {
            flag_runtimes.to_vec()
        } else if !opened.runtimes.is_empty() {
            opened.runtimes.clone()
        } else {
            let (runtimes, reason) = assume_runtimes(inventory);
            assumed.push(format!(
                "runtime {} ({reason})",
                runtimes
                    .iter()
                    .map(|runtime| runtime.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            runtimes
        };
        let architectures = if !flag_archs.is_empty() {
            flag_archs.to_vec()
        } else if !opened.architectures.is_empty() {
            opened.architectures.clone()
        } else {
            let (archs, reason) = assume_architectures(binaries);
            assumed.push(format!(
                "architecture {} ({reason})",
                archs
                    .iter()
                    .map(|arch| arch.aws_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            archs
        };
        if !assumed.is_empty() {
            note(&format!(
                "{}: assumed {}; pass --runtime and --arch to choose",
                opened.name,
                assumed.join(" and ")
            ));
        }
        let context = LayerContext {
            name: &opened.name,
            inventory,
            runtimes: &runtimes,
            architectures: &architectures,
            binaries,
            budget: opened.budget,
            exec_wrapper,
            zip_mtime: self.zip_mtime,
        };
        self.findings
            .extend(rules::lint_layer(&context, &self.settings));
        self.files += inventory.file_count();
        self.unzipped_bytes += inventory.unzipped_bytes();
    }

    /// Lints a function's stack (the `STK` rules), and each of its layers that `lint_alone`
    /// accepts for the function's runtime and architecture.
    fn check_function(
        &mut self,
        name: &str,
        code: Option<&Path>,
        layers: &[&OpenedLayer],
        (runtime, arch): (&'static Runtime, Arch),
        (exec_wrapper, handler): (Option<&str>, Option<&str>),
        lint_alone: impl Fn(&str) -> bool,
    ) -> Result<(), Error> {
        let function = code.map(OpenedLayer::open_function).transpose()?;
        let stack_layers: Vec<StackLayer<'_>> =
            layers.iter().map(|layer| StackLayer::of(layer)).collect();
        let context = StackContext {
            name,
            function: function.as_ref().map(|function| &function.inventory),
            runtime,
            arch,
            layers: &stack_layers,
            handler,
        };
        self.findings
            .extend(rules::lint_stack(&context, &self.settings));
        for layer in layers {
            if lint_alone(&layer.name) {
                self.check_layer(layer, &[runtime], &[arch], exec_wrapper);
            }
        }
        Ok(())
    }
}

/// Opens each distinct layer of `specs` once, by spec.
fn open_each(
    specs: &[String],
    config: Option<&Config>,
) -> Result<BTreeMap<String, OpenedLayer>, Error> {
    let mut opened = BTreeMap::new();
    for spec in specs {
        if !opened.contains_key(spec) {
            opened.insert(spec.clone(), OpenedLayer::open(spec, config)?);
        }
    }
    Ok(opened)
}

impl CheckRun {
    /// Lints every function of a template or assembly as `check --function` lints one: the
    /// stack rules over its code and layers in order, then each layer on its own, once, for
    /// its declared runtimes and architectures (else those of the functions it is attached to).
    fn check_deployment(&mut self, deployment: &Deployment) -> Result<(), Error> {
        let mut notes = deployment.not_checked.clone();
        let opened = OpenedDeployment::open(deployment)?;
        let mut layers: BTreeMap<&Path, LayerUse<'_>> = BTreeMap::new();
        for function in &deployment.functions {
            notes.extend(function.layer_notes());
            // A layer that cannot be read may hold what the handler imports: following its
            // imports without it would report failures that are not there.
            let unread = function.layers.iter().any(|layer| layer.path.is_none());
            let followed_handler = match function.handler.as_deref() {
                Some(handler) if unread => {
                    notes.push(format!(
                        "function {}: the imports of its handler `{handler}` are not followed, since a layer cannot be read",
                        function.name
                    ));
                    None
                }
                handler => handler,
            };
            let stack_layers: Vec<StackLayer<'_>> = function
                .layers
                .iter()
                .map(|layer| StackLayer {
                    name: layer.display_name(),
                    inventory: opened.inventory(layer),
                    runtimes: layer.runtimes.clone(),
                    architectures: layer.architectures.clone(),
                })
                .collect();
            let context = StackContext {
                name: &function.name,
                function: opened.code(function),
                runtime: function.runtime,
                arch: function.architecture,
                layers: &stack_layers,
                handler: followed_handler,
            };
            // Several functions share a layer: a stack finding names the function it is about.
            for mut finding in rules::lint_stack(&context, &self.settings) {
                if finding.layer != function.name {
                    finding.layer = function.layer_in_stack(&finding.layer);
                }
                self.findings.push(finding);
            }
            for layer in &function.layers {
                let Some(path) = layer.path.as_deref() else {
                    continue;
                };
                let entry = layers.entry(path).or_insert_with(|| LayerUse {
                    layer,
                    runtimes: Vec::new(),
                    architectures: Vec::new(),
                    exec_wrappers: BTreeSet::new(),
                });
                // `--env` wins over the template's environment, as for `[function.NAME]`.
                if let Some(wrapper) = self
                    .env
                    .get(EXEC_WRAPPER_VAR)
                    .or_else(|| function.environment.get(EXEC_WRAPPER_VAR))
                {
                    entry.exec_wrappers.insert(wrapper.clone());
                }
                if !entry.runtimes.contains(&function.runtime) {
                    entry.runtimes.push(function.runtime);
                }
                if !entry.architectures.contains(&function.architecture) {
                    entry.architectures.push(function.architecture);
                }
            }
        }
        for layer_use in layers.values() {
            let layer = layer_use.layer;
            let runtimes = if layer.runtimes.is_empty() {
                &layer_use.runtimes
            } else {
                &layer.runtimes
            };
            let mut architectures = if layer.architectures.is_empty() {
                layer_use.architectures.clone()
            } else {
                layer.architectures.clone()
            };
            architectures.sort();
            let inventory = opened.inventory(layer);
            let binaries = crate::inspect::inspect(inventory);
            let context = LayerContext {
                name: &layer.name,
                inventory,
                runtimes,
                architectures: &architectures,
                binaries: &binaries,
                budget: Default::default(),
                exec_wrapper: layer_use.exec_wrappers.first().map(String::as_str),
                zip_mtime: self.zip_mtime,
            };
            self.findings
                .extend(rules::lint_layer(&context, &self.settings));
            self.files += inventory.file_count();
            self.unzipped_bytes += inventory.unzipped_bytes();
        }
        notes.sort();
        notes.dedup();
        for line in &notes {
            note(&format!("not checked: {line}"));
        }
        if deployment.functions.is_empty() {
            note("no function to check: none of the template's functions could be read");
        }
        Ok(())
    }
}

/// A template layer and the functions it is attached to.
struct LayerUse<'d> {
    layer: &'d DeployedLayer,
    runtimes: Vec<&'static Runtime>,
    architectures: Vec<Arch>,
    /// `AWS_LAMBDA_EXEC_WRAPPER` of those functions (the layer is checked for the first).
    exec_wrappers: BTreeSet<String>,
}

/// A line on stderr that is not a finding (what was assumed). Output of the report stays clean
/// for machine formats.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "note: {text}");
}
