//! `layerpack why`: replays a runtime's lookup over a function and its layers and prints the
//! numbered search path, the verdict, and the near misses that explain a failure.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::cli::{Format, WhyArgs};
use crate::commands::{
    load_config_if_any, parse_archs, parse_env, parse_runtimes, write_json, write_out,
};
use crate::deploy::{Deployment, OpenedDeployment};
use crate::error::Error;
use crate::inventory::{Inventory, Origin};
use crate::layer::OpenedLayer;
use crate::resolve::merged::MergedView;
use crate::resolve::{self, Explanation, Request};
use crate::runtime::{Arch, Runtime};

pub fn run(args: &WhyArgs, out: &mut dyn Write) -> Result<i32, Error> {
    if let Some(source) = args.sam.as_ref().or(args.cdk.as_ref()) {
        return run_deployed(args, source, out);
    }
    if args.resource.is_some() {
        return Err(Error::usage(
            "--resource picks a function of --sam or --cdk",
            Some("add --sam template.yaml or --cdk cdk.out".to_string()),
        ));
    }
    let config = load_config_if_any(args.config.as_deref())?;
    let function_config = config
        .as_ref()
        .and_then(|config| match config.functions.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        });
    let runtime: &'static Runtime = match &args.runtime {
        Some(id) => parse_runtimes(std::slice::from_ref(id))?[0],
        None => function_config.as_ref().map(|function| function.runtime).ok_or_else(|| {
            Error::usage(
                "`why` needs --runtime",
                Some("give --runtime python3.12 (or declare one [function.NAME] with its runtime in layer.toml)".to_string()),
            )
        })?,
    };
    let arch: Arch = match &args.arch {
        Some(name) => parse_archs(std::slice::from_ref(name))?[0],
        None => function_config
            .as_ref()
            .map_or(Arch::X86_64, |function| function.architecture),
    };
    // The function's `env` in layer.toml, with `--env` on top.
    let mut env: BTreeMap<String, String> = function_config
        .as_ref()
        .map(|function| function.env.clone())
        .unwrap_or_default();
    env.extend(parse_env(&args.env)?);
    // Without layers or function on the command line, a single [function.NAME] supplies them.
    let (function_path, layers) = match (&args.function, args.layers.is_empty(), &function_config) {
        (None, true, Some(function)) => (function.code.clone(), function.layers.clone()),
        _ => (args.function.clone(), args.layers.clone()),
    };
    let view = MergedView::open(function_path.as_deref(), &layers, config.as_ref())?;
    explain_and_print(args, &view, runtime, arch, env, out)
}

/// `why --sam template.yaml --resource Api` (or `--cdk`): runtime, architecture, code,
/// environment and layers come from that function; flags given as well win.
fn run_deployed(args: &WhyArgs, source: &Path, out: &mut dyn Write) -> Result<i32, Error> {
    let mut deployment = match &args.sam {
        Some(template) => crate::deploy::sam::load(template)?,
        None => crate::deploy::cdk::load(source)?,
    };
    let function = match &args.resource {
        Some(id) => {
            deployment.select(std::slice::from_ref(id), source)?;
            match deployment.functions.as_slice() {
                [one] => Some(one),
                _ => None,
            }
        }
        None => match deployment.functions.as_slice() {
            [one] => Some(one),
            _ => None,
        },
    }
    .cloned()
    .ok_or_else(|| {
        let names: Vec<&str> = deployment
            .functions
            .iter()
            .map(|function| function.name.as_str())
            .collect();
        Error::usage(
            format!(
                "{} has {} functions: which one?",
                source.display(),
                names.len()
            ),
            Some(format!("add --resource with one of: {}", names.join(", "))),
        )
    })?;
    let runtime = match &args.runtime {
        Some(id) => parse_runtimes(std::slice::from_ref(id))?[0],
        None => function.runtime,
    };
    let arch = match &args.arch {
        Some(name) => parse_archs(std::slice::from_ref(name))?[0],
        None => function.architecture,
    };
    let mut env = function.environment.clone();
    env.extend(parse_env(&args.env)?);
    for line in function.layer_notes() {
        let _ = writeln!(
            std::io::stderr(),
            "note: not checked: {line}; the lookup goes on without it"
        );
    }
    let selected = Deployment {
        functions: vec![function.clone()],
        not_checked: Vec::new(),
    };
    let mut opened = OpenedDeployment::open(&selected)?;
    let code = match &args.function {
        Some(path) => Some(OpenedLayer::open(&path.to_string_lossy(), None)?),
        None => function.code.as_deref().and_then(|path| opened.take(path)),
    };
    let mut layers = Vec::new();
    for layer in &function.layers {
        let mut view_layer = match layer.path.as_deref() {
            Some(path) => match opened.take(path) {
                Some(opened_layer) => opened_layer,
                // The same folder attached twice: open it again.
                None => OpenedLayer::open(&path.to_string_lossy(), None)?,
            },
            None => OpenedLayer::from_inventory(
                "",
                Inventory::new(Origin::Directory(Default::default()), Vec::new()),
            ),
        };
        view_layer.name = layer.display_name();
        view_layer.runtimes = layer.runtimes.clone();
        view_layer.architectures = layer.architectures.clone();
        layers.push(view_layer);
    }
    let view = MergedView::new(code, layers);
    explain_and_print(args, &view, runtime, arch, env, out)
}

/// Explains `args.target` over the view and prints it in the format asked for.
fn explain_and_print(
    args: &WhyArgs,
    view: &MergedView,
    runtime: &'static Runtime,
    arch: Arch,
    env: BTreeMap<String, String>,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let (kind, name) = resolve::parse_target(&args.target, args.kind, runtime);
    let request = Request {
        name,
        target: &args.target,
        kind,
        runtime,
        arch,
        env,
        linter: crate::rules::lint_layer,
    };
    let explanation = resolve::explain(view, &request);
    match args.format {
        Format::Json => write_json(out, &explanation)?,
        Format::Human => write_out(out, &render_human(&explanation, view))?,
    }
    Ok(explanation.exit_code())
}

/// The human rendering: the stack, the numbered search path, the verdict, the near misses.
pub(crate) fn render_human(explanation: &Explanation, view: &MergedView) -> String {
    let mut text = format!(
        "why {} on {} ({})\n",
        explanation.target, explanation.runtime, explanation.arch
    );
    if let Some(function) = &view.function {
        text.push_str(&format!("  /var/task  <- {}\n", function.name));
    }
    for (index, layer) in view.layers.iter().enumerate() {
        text.push_str(&format!(
            "  /opt       <- layer {}: {}\n",
            index + 1,
            layer.name
        ));
    }
    text.push_str("\nsearch path:\n");
    let width = explanation.search_path.len().to_string().len();
    for (index, step) in explanation.search_path.iter().enumerate() {
        let mark = if step.found.is_some() { "=>" } else { "  " };
        text.push_str(&format!("{mark}{:>width$}. {}\n", index + 1, step.dir));
        text.push_str(&format!(
            "{:width$}     looked for: {}\n",
            "", step.looked_for
        ));
        if let Some(found) = &step.found {
            text.push_str(&format!("{:width$}     found: {found}\n", ""));
        }
        if !step.note.is_empty() {
            text.push_str(&format!("{:width$}     {}\n", "", step.note));
        }
    }
    let status = match (explanation.resolved, explanation.loads) {
        (true, true) => "resolves",
        (true, false) => "resolves but fails to load",
        _ => "not found",
    };
    text.push_str(&format!("\nverdict: {status}: {}\n", explanation.verdict));
    if let Some(failure) = &explanation.failure {
        text.push_str(&format!(
            "chain: {}: {}\n",
            render_chain(&explanation.chain),
            explanation.cause.as_deref().unwrap_or(&failure.reason)
        ));
        if let Some(error) = &explanation.lambda_error {
            text.push_str(&format!("Lambda would log: {error}\n"));
        }
    } else if explanation.chain.len() > 1 {
        text.push_str(&format!("chain: {}\n", render_chain(&explanation.chain)));
    }
    for link in &explanation.symlink_loops {
        text.push_str(&format!(
            "symlink loop: {link} (on Lambda: \"Too many levels of symbolic links\", ELOOP)\n"
        ));
    }
    if !explanation.near_misses.is_empty() {
        text.push_str("\nnear misses:\n");
        for miss in &explanation.near_misses {
            let code = miss.code.map_or(String::new(), |code| format!("[{code}] "));
            text.push_str(&format!("  - {code}{}\n    {}\n", miss.path, miss.reason));
        }
    }
    text
}

/// `pydantic → pydantic_core → pydantic_core._pydantic_core`.
pub(crate) fn render_chain(chain: &[resolve::ChainLink]) -> String {
    chain
        .iter()
        .map(|link| link.module.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}
