//! `layerpack why`: replays a runtime's lookup over a function and its layers and prints the
//! numbered search path, the verdict, and the near misses that explain a failure.

use std::collections::BTreeMap;
use std::io::Write;

use crate::cli::{Format, WhyArgs};
use crate::commands::{
    load_config_if_any, parse_archs, parse_env, parse_runtimes, write_json, write_out,
};
use crate::error::Error;
use crate::resolve::merged::MergedView;
use crate::resolve::{self, Explanation, Request};
use crate::runtime::{Arch, Runtime};

pub fn run(args: &WhyArgs, out: &mut dyn Write) -> Result<i32, Error> {
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
    let (kind, name) = resolve::parse_target(&args.target, args.kind, runtime);
    let request = Request {
        name,
        target: &args.target,
        kind,
        runtime,
        arch,
        env,
    };
    let explanation = resolve::explain(&view, &request);
    match args.format {
        Format::Json => write_json(out, &explanation)?,
        Format::Human => write_out(out, &render_human(&explanation, &view))?,
    }
    Ok(explanation.exit_code())
}

/// The human rendering: the stack, the numbered search path, the verdict, the near misses.
pub fn render_human(explanation: &Explanation, view: &MergedView) -> String {
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
    if !explanation.near_misses.is_empty() {
        text.push_str("\nnear misses:\n");
        for miss in &explanation.near_misses {
            let code = miss
                .code
                .as_deref()
                .map_or(String::new(), |code| format!("[{code}] "));
            text.push_str(&format!("  - {code}{}\n    {}\n", miss.path, miss.reason));
        }
    }
    text
}

/// `pydantic → pydantic_core → pydantic_core._pydantic_core`.
pub fn render_chain(chain: &[resolve::ChainLink]) -> String {
    chain
        .iter()
        .map(|link| link.module.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}
