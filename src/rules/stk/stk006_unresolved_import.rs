//! `STK006` unresolved-import: an import of the handler's closure that would fail.
//!
//! The rule, its explanation (printed by `layerpack rule STK006`) and its check. The check
//! dispatches on the runtime's family: Python follows the import closure of the handler's
//! module ([`crate::resolve::pyclosure`]); Node.js the load closure of the handler's file
//! ([`crate::resolve::jsclosure`]).

use std::collections::BTreeMap;

use crate::finding::{Code, FindingData, PackageEcosystem, Severity};
use crate::inventory::Inventory;
use crate::layer::OpenedLayer;
use crate::lint::{Reporter, StackContext};
use crate::resolve::jsclosure::{FailingLoad, HandlerClosure};
use crate::resolve::merged::MergedView;
use crate::resolve::pyclosure::{Broken, Closure, handler_module};
use crate::resolve::{Kind, Request};
use crate::rules::{Check, Rule};
use crate::runtime::Family;

pub(crate) static STK006: Rule = Rule {
    code: Code::STK006,
    name: "unresolved-import",
    severity: Severity::Error,
    summary: "an import of the handler's closure that would fail at run time",
    explanation: r#"## What it does

Given the function's handler (`check --function DIR --handler app.handler`, or `handler =
"app.handler"` in `[function.NAME]` of `layer.toml`), follows what Lambda runs when it imports
the handler's module, over the function code (`/var/task`), the layers in attachment order
(`/opt`) and the runtime: for Python every package `__init__` on the way, each module's top-level
`import` and `from ... import` statements (relative ones too), transitively. Imports inside
functions and classes, under `if TYPE_CHECKING:`, behind a version or platform test that is false
on the runtime, or in a `try:` whose `except ImportError` does not raise again are not followed.
For Node.js (`index.handler` → `index.js`, `.mjs` or `.cjs`) it follows the top-level
`require('x')` calls and the static `import`/`export ... from 'x'` of the handler's file: other
files of the function code (`./lib/util`, with Node's extension and `index.js` rules for
`require`, the exact file for `import`) in turn, and packages from the requiring file's folder
(`node_modules`, then `/opt/nodejs/nodeNN/node_modules`, `/opt/nodejs/node_modules`) with their
dependencies, platform packages and addons. A `require` inside a function, a branch or a `try`
is optional or lazy and not followed; so is `import()` of a computed name.
What the runtime provides (the standard library of its Python, boto3 and the packages it
bundles; Node's built-in modules and the AWS SDK v3) is no finding. Each import statement of
the function code that would fail is reported at its file and line, with the chain to what
fails; so is a file of the closure that does not parse.

## Why this breaks at run time

The function never starts; every invocation fails with

```
[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'idna'
```

## Example

`app.py` has `import requests`; the layer ships `requests` but not its dependency `idna`
(installed with `--no-deps`): `app.py:1 import requests`, chain `requests → requests.models →
idna: No module named 'idna'`.

`index.js` has `require('./lib/db')`, and `lib/db.js` has `require('pg')`, which is in no
`node_modules`: `lib/db.js:2 require('pg')`, chain `index.js → lib/db.js → pg: Cannot find
module 'pg'`.

## Fix

Install the missing package (with its dependencies: `pip install -r requirements.txt --target
python`) into the function or a layer, for the runtime's Python version and architecture; or
move the import into the function that needs it, or behind `try/except ImportError`, when it is
optional. For Node.js: `npm install` into the function's `node_modules` or a layer's
`nodejs/node_modules` for linux and the function's architecture (`npm install --os=linux
--cpu=x64`); correct a relative path (an ES module names the file with its extension).
"#,
    check: Check::Stack(check_unresolved_import),
};

fn check_unresolved_import(context: &StackContext<'_>, report: &mut Reporter<'_>) {
    let Some(handler) = context.handler else {
        return;
    };
    let Some(function) = context.function else {
        return;
    };
    let view = view_of(function, context);
    match context.runtime.family {
        Family::Python => python_handler(context, &view, handler, report),
        Family::Nodejs => node_handler(context, &view, handler, report),
        _ => {}
    }
}

/// The merged view of the function and its layers, as `why` sees them.
fn view_of(function: &Inventory, context: &StackContext<'_>) -> MergedView {
    let opened =
        |name: &str, inventory: &Inventory| OpenedLayer::from_inventory(name, inventory.clone());
    MergedView::new(
        Some(opened("function code", function)),
        context
            .layers
            .iter()
            .map(|layer| opened(&layer.name, layer.inventory))
            .collect(),
    )
}

fn python_handler(
    context: &StackContext<'_>,
    view: &MergedView,
    handler: &str,
    report: &mut Reporter<'_>,
) {
    let Some(module) = handler_module(handler) else {
        report.report(
            "",
            format!("the handler `{handler}` is not MODULE.FUNCTION: Lambda cannot import it"),
            "write the handler as the module's file name without .py, a dot, and the function's name (app.handler)",
        );
        return;
    };
    let request = Request {
        name: &module,
        target: &module,
        kind: Kind::Python,
        runtime: context.runtime,
        arch: context.arch,
        env: BTreeMap::new(),
        linter: crate::rules::lint_layer,
    };
    // Lambda names the module as the handler setting spells it (`service/main`).
    let logged = handler
        .rsplit_once('.')
        .map_or(handler, |(module, _)| module);
    let mut closure = Closure::new(view, &request);
    let broken = closure.import_root(&module);
    if closure.failing_statements.is_empty() {
        if let Some(broken) = broken {
            // The handler's module itself (or a package on its way) does not import.
            report.report(
                "",
                format!(
                    "the handler `{handler}`: Unable to import module '{logged}': {}",
                    broken.failure.reason
                ),
                "put the handler's module at the root of the function code (app.py for app.handler)",
            );
        }
        return;
    }
    for statement in &closure.failing_statements {
        let broken = &statement.broken;
        let path = statement
            .file
            .strip_prefix("/var/task/")
            .unwrap_or(&statement.file);
        let chain: Vec<&str> = broken.links[1..]
            .iter()
            .map(|link| link.module.as_str())
            .collect();
        let cause = broken.cause.as_deref().unwrap_or(&broken.failure.reason);
        if statement.statement.is_empty() {
            report.report_with_data(
                path,
                format!(
                    "{path}:{} does not compile: {}; Lambda logs \"Runtime.UserCodeSyntaxError: {}\"",
                    statement.line, broken.failure.reason, broken.failure.reason
                ),
                format!(
                    "fix the syntax error at {path}:{} (for {}'s Python {}.{})",
                    statement.line,
                    context.runtime.id,
                    context.runtime.version().0,
                    context.runtime.version().1
                ),
                python_data(broken),
            );
            continue;
        }
        report.report_with_data(
            path,
            format!(
                "{path}:{} `{}` fails: {}: {cause}; Lambda logs \"Runtime.ImportModuleError: Unable to import module '{logged}': {}\"",
                statement.line,
                statement.statement,
                chain.join(" → "),
                broken.failure.reason
            ),
            format!(
                "make `{}` importable on {} ({}): install it with its dependencies, built for that Python and architecture, into the function or a layer; or import it only where it is used",
                broken.failure.module, context.runtime.id, context.arch
            ),
            python_data(broken),
        );
    }
}

/// Node.js: the handler's file (`index.handler` → `index.js`, `.mjs` or `.cjs`) and what
/// loading it loads ([`crate::resolve::jsclosure`]).
fn node_handler(
    context: &StackContext<'_>,
    view: &MergedView,
    handler: &str,
    report: &mut Reporter<'_>,
) {
    let Some((module, _)) = handler.rsplit_once('.') else {
        return;
    };
    let mut closure = HandlerClosure::new(
        view,
        context.runtime,
        context.arch,
        crate::rules::lint_layer,
    );
    let Some(file) = closure.handler_file(module) else {
        report.report(
            "",
            format!(
                "the handler `{handler}`: Runtime.ImportModuleError: Error: Cannot find module '{module}' (no {module}.js, {module}.mjs or {module}.cjs in the function code)"
            ),
            format!("put {module}.js (or .mjs, .cjs) at the root of the function code"),
        );
        return;
    };
    closure.load(&file);
    for failing in &closure.failing {
        let path = failing
            .file
            .strip_prefix("/var/task/")
            .unwrap_or(&failing.file);
        let (message, fix) = if failing.statement.is_empty() {
            (
                format!(
                    "{path}:{} does not parse: {}; Lambda logs \"Runtime.UserCodeSyntaxError: {}\"",
                    failing.line,
                    failing.chain.join(" → "),
                    failing.reason
                ),
                format!("fix the syntax error at {path}:{}", failing.line),
            )
        } else {
            let failing_link = failing.chain.last().map_or("", String::as_str);
            let relative = failing_link.starts_with('.') || failing_link.starts_with('/');
            let cause = failing
                .cause
                .as_ref()
                .map(|cause| format!(" ({cause})"))
                .unwrap_or_default();
            let fix = if relative {
                format!(
                    "add the file `{failing_link}` names to the function code, or correct the path in {path}:{}",
                    failing.line
                )
            } else {
                format!(
                    "make `{failing_link}` loadable on {} ({}): install it with its dependencies (`npm install` for linux, {}, glibc) into the function's node_modules or a layer's nodejs/node_modules; or require it only where it is used",
                    context.runtime.id,
                    context.arch,
                    crate::resolve::npm::npm_cpu(context.arch)
                )
            };
            (
                format!(
                    "{path}:{} `{}` fails: {}: {}{cause}; Lambda logs \"Runtime.ImportModuleError: Error: {}\"",
                    failing.line,
                    failing.statement,
                    failing.chain.join(" → "),
                    failing.reason,
                    lambda_error(failing)
                ),
                fix,
            )
        };
        report.report_with_data(path, message, fix, node_data(failing));
    }
}

/// The data of a Python finding: the module that fails and the module whose import reaches it
/// (the function's own module for a direct import).
fn python_data(broken: &Broken) -> FindingData {
    let before_last = broken.links.len().checked_sub(2);
    FindingData {
        module: Some(broken.failure.module.clone()),
        required_by: before_last.map(|index| broken.links[index].module.clone()),
        ecosystem: Some(PackageEcosystem::Python),
        ..FindingData::default()
    }
}

/// The data of a Node.js finding: what fails to load (the last link of the chain) and the file
/// of the function code or the package whose `require`/`import` names it.
fn node_data(failing: &FailingLoad) -> FindingData {
    let before_last = failing.chain.len().checked_sub(2);
    FindingData {
        module: failing.chain.last().cloned(),
        required_by: before_last.map(|index| failing.chain[index].clone()),
        ecosystem: Some(PackageEcosystem::Node),
        ..FindingData::default()
    }
}

/// Node's own error for a failing load. A missing platform package (BIN009) is, to Node, a
/// module it cannot find: the last link of the chain; what the reason adds about platforms is
/// layerpack's explanation, not what Lambda logs.
fn lambda_error(failing: &FailingLoad) -> String {
    match (failing.code, failing.chain.last()) {
        (Some(Code::BIN009), Some(missing)) => format!("Cannot find module '{missing}'"),
        _ => failing.reason.clone(),
    }
}
