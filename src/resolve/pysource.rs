//! Python source, read for the imports that executing a module runs.
//!
//! Importing a module executes its top level: every `import` and `from ... import` statement
//! there runs, in order, and one that fails raises out of the import. Statements that do not
//! run at import are not followed: bodies of `def` and `class`, the body of
//! `if TYPE_CHECKING:`, branches whose `sys.version_info` / `sys.platform` / `os.name` test is
//! false on the runtime, and `try:` bodies whose handlers catch `ImportError` (or
//! `ModuleNotFoundError`, `Exception`, `BaseException`, a bare `except`) without raising again:
//! those imports are optional. numpy and pandas wrap their compiled core in
//! `try: ... except ImportError: raise ImportError(...)`; such imports are required. A test this
//! module cannot evaluate makes its branches optional, so an unknown condition never raises a
//! false alarm.
//!
//! The source is parsed with ruff's Python parser (a full, error-recovering parser of current
//! Python syntax). Measured on the ~250 MB bench layer (2,177 files, 35 MB of Python) on a
//! loaded machine: ruff_python_parser 4.4 s, rustpython-parser 20.9 s, tree-sitter-python
//! 26.9 s; so ruff's.

use crate::resolve::lines::LineIndex;
use ruff_python_ast::{
    BoolOp, CmpOp, ExceptHandler, Expr, Number, Stmt, StmtIf, StmtTry, UnaryOp, name::Name,
};
use ruff_python_parser::parse_unchecked_source;

/// One import statement that runs when the module executes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Import {
    /// 1-based line of the statement.
    pub(crate) line: u32,
    pub(crate) kind: ImportKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ImportKind {
    /// `import a.b.c` (one per name of the statement).
    Module(String),
    /// `from ..pkg.mod import a, b` (`level` dots; `module` empty for `from . import x`).
    From {
        level: u32,
        module: String,
        /// The imported names; `*` for a star import.
        names: Vec<String>,
    },
}

/// What a condition is tested against: the runtime's Python.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    /// (3, 12) for python3.12.
    pub(crate) version: (u32, u32),
}

/// What executing a module runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The imports that run, in order.
    pub(crate) imports: Vec<Import>,
    /// The `SyntaxError` compiling the module raises before any of it runs: (line, message).
    pub(crate) syntax_error: Option<(u32, String)>,
    /// Names a module-level `__getattr__` imports lazily, with the module each comes from,
    /// relative to the package (`BaseModel` → `.main`): read from a top-level dict literal of
    /// `name: (package, ".module")` entries beside a `def __getattr__` (pydantic 2.5 and later).
    pub(crate) lazy: Vec<(String, String)>,
}

/// The imports that run when a module with this source executes, in order, or the syntax
/// error that stops it from running at all.
pub(crate) fn imports(source: &str, target: Target) -> Parsed {
    let parsed = parse_unchecked_source(source, ruff_python_ast::PySourceType::Python);
    let lines = LineIndex::new(source);
    if let Some(error) = parsed.errors().first() {
        return Parsed {
            imports: Vec::new(),
            syntax_error: Some((
                lines.line(error.location.start().to_usize()),
                error.error.to_string(),
            )),
            lazy: Vec::new(),
        };
    }
    let mut found = Vec::new();
    walk(parsed.suite(), target, &lines, &mut found);
    Parsed {
        imports: found,
        syntax_error: None,
        lazy: lazy_attributes(parsed.suite()),
    }
}

/// The table of a module-level `__getattr__` that imports attributes lazily: a top-level dict
/// literal whose keys are strings and whose values are tuples ending in a relative module name
/// (`'BaseModel': (__spec__.parent, '.main')`), or `'__module__'` for a submodule of that name.
fn lazy_attributes(body: &[Stmt]) -> Vec<(String, String)> {
    let has_getattr = body
        .iter()
        .any(|stmt| matches!(stmt, Stmt::FunctionDef(def) if def.name.as_str() == "__getattr__"));
    if !has_getattr {
        return Vec::new();
    }
    let mut table = Vec::new();
    for stmt in body {
        let value = match stmt {
            Stmt::Assign(assign) => Some(assign.value.as_ref()),
            Stmt::AnnAssign(assign) => assign.value.as_deref(),
            _ => None,
        };
        let Some(Expr::Dict(dict)) = value else {
            continue;
        };
        let entries: Option<Vec<(String, String)>> = dict
            .items
            .iter()
            .map(|item| {
                let name = string_literal(item.key.as_ref()?)?;
                let Expr::Tuple(tuple) = &item.value else {
                    return None;
                };
                let module = string_literal(tuple.elts.last()?)?;
                let module = match module {
                    "__module__" => format!(".{name}"),
                    relative if relative.starts_with('.') && !relative.starts_with("..") => {
                        relative.to_string()
                    }
                    _ => return None,
                };
                Some((name.to_string(), module))
            })
            .collect();
        if let Some(entries) = entries.filter(|entries| !entries.is_empty()) {
            table.extend(entries);
        }
    }
    table
}

fn walk(body: &[Stmt], target: Target, lines: &LineIndex, found: &mut Vec<Import>) {
    for stmt in body {
        match stmt {
            Stmt::Import(import) if !import.is_lazy => {
                let line = lines.line(import.range.start().to_usize());
                for alias in &import.names {
                    found.push(Import {
                        line,
                        kind: ImportKind::Module(alias.name.id.to_string()),
                    });
                }
            }
            Stmt::ImportFrom(from) if !from.is_lazy => {
                let module = from
                    .module
                    .as_ref()
                    .map_or(String::new(), |module| module.id.to_string());
                if from.level == 0 && module == "__future__" {
                    continue;
                }
                found.push(Import {
                    line: lines.line(from.range.start().to_usize()),
                    kind: ImportKind::From {
                        level: from.level,
                        module,
                        names: from
                            .names
                            .iter()
                            .map(|alias| alias.name.id.to_string())
                            .collect(),
                    },
                });
            }
            Stmt::If(stmt_if) => walk_if(stmt_if, target, lines, found),
            Stmt::Try(stmt_try) => walk_try(stmt_try, target, lines, found),
            Stmt::With(with) => walk(&with.body, target, lines, found),
            // `__import__("x")` / `importlib.import_module("x")` as a statement of its own or
            // assigned.
            Stmt::Expr(expr) => dynamic_import(&expr.value, None, lines, found),
            Stmt::Assign(assign) => dynamic_import(&assign.value, None, lines, found),
            // `for name in ("urllib3", "idna"): ... __import__(name)` (requests.packages): a
            // loop over a literal tuple of names runs its body once per name.
            Stmt::For(stmt_for) if !stmt_for.is_async => {
                let Expr::Name(variable) = stmt_for.target.as_ref() else {
                    continue;
                };
                let names: Option<Vec<&str>> = match stmt_for.iter.as_ref() {
                    Expr::Tuple(tuple) => tuple.elts.iter().map(string_literal).collect(),
                    Expr::List(list) => list.elts.iter().map(string_literal).collect(),
                    _ => None,
                };
                for name in names.unwrap_or_default() {
                    for stmt in &stmt_for.body {
                        let value = match stmt {
                            Stmt::Expr(expr) => &expr.value,
                            Stmt::Assign(assign) => &assign.value,
                            _ => continue,
                        };
                        dynamic_import(value, Some((&variable.id, name)), lines, found);
                    }
                }
            }
            // `while`, `match`, `def`, `class` and everything else: not followed (a loop body
            // may run zero times; a function body runs only when called).
            _ => {}
        }
    }
}

/// A call `__import__(NAME)` or `importlib.import_module(NAME)` whose argument is a string, or
/// the loop variable `bound` is bound to.
fn dynamic_import(
    expr: &Expr,
    bound: Option<(&Name, &str)>,
    lines: &LineIndex,
    found: &mut Vec<Import>,
) {
    let Expr::Call(call) = expr else {
        return;
    };
    let is_import = match call.func.as_ref() {
        Expr::Name(name) => name.id.as_str() == "__import__",
        Expr::Attribute(attribute) => {
            attribute.attr.as_str() == "import_module"
                && matches!(attribute.value.as_ref(), Expr::Name(module) if module.id.as_str() == "importlib")
        }
        _ => false,
    };
    if !is_import || call.arguments.args.len() != 1 || !call.arguments.keywords.is_empty() {
        return;
    }
    let argument = &call.arguments.args[0];
    let module = match (argument, bound) {
        (Expr::Name(name), Some((variable, value))) if name.id == *variable => value,
        _ => match string_literal(argument) {
            Some(module) => module,
            None => return,
        },
    };
    // A relative name (`.sub`) needs a package argument: not judged.
    if module.is_empty() || module.starts_with('.') {
        return;
    }
    found.push(Import {
        line: lines.line(call.range_start.to_usize()),
        kind: ImportKind::Module(module.to_string()),
    });
}

fn walk_if(stmt_if: &StmtIf, target: Target, lines: &LineIndex, found: &mut Vec<Import>) {
    match evaluate(&stmt_if.test, target) {
        Some(true) => return walk(&stmt_if.body, target, lines, found),
        Some(false) => {}
        None => return,
    }
    for clause in &stmt_if.elif_else_clauses {
        match clause.test.as_ref().map(|test| evaluate(test, target)) {
            None | Some(Some(true)) => return walk(&clause.body, target, lines, found),
            Some(Some(false)) => {}
            Some(None) => return,
        }
    }
}

fn walk_try(stmt_try: &StmtTry, target: Target, lines: &LineIndex, found: &mut Vec<Import>) {
    let optional = stmt_try.handlers.iter().any(|handler| {
        let ExceptHandler::ExceptHandler(handler) = handler;
        catches_import_error(handler.type_.as_deref()) && !reraises(&handler.body)
    });
    if !optional {
        walk(&stmt_try.body, target, lines, found);
        walk(&stmt_try.orelse, target, lines, found);
    }
    walk(&stmt_try.finalbody, target, lines, found);
}

/// True when an `except` clause of this type catches an `ImportError`.
fn catches_import_error(type_: Option<&Expr>) -> bool {
    let Some(type_) = type_ else {
        return true;
    };
    match type_ {
        Expr::Tuple(tuple) => tuple
            .elts
            .iter()
            .any(|element| catches_import_error(Some(element))),
        Expr::Name(name) => is_import_error_name(&name.id),
        Expr::Attribute(attribute) => is_import_error_name(&attribute.attr.id),
        _ => false,
    }
}

fn is_import_error_name(name: &Name) -> bool {
    matches!(
        name.as_str(),
        "ImportError" | "ModuleNotFoundError" | "Exception" | "BaseException"
    )
}

/// True when a handler's body raises again at its top level (`raise`, `raise ImportError(...)`).
fn reraises(body: &[Stmt]) -> bool {
    body.iter().any(|stmt| matches!(stmt, Stmt::Raise(_)))
}

/// Evaluates a condition on the runtime's Python: `sys.version_info` compared with a tuple or
/// an int, `sys.platform` / `os.name` compared with a string (or `.startswith(...)`),
/// `TYPE_CHECKING`, and `not` / `and` / `or` of these. `None` when it cannot be known.
fn evaluate(expr: &Expr, target: Target) -> Option<bool> {
    match expr {
        Expr::Name(name) if name.id.as_str() == "TYPE_CHECKING" => Some(false),
        Expr::Attribute(attribute) if attribute.attr.id.as_str() == "TYPE_CHECKING" => Some(false),
        Expr::BooleanLiteral(literal) => Some(literal.value),
        Expr::UnaryOp(unary) if unary.op == UnaryOp::Not => {
            evaluate(&unary.operand, target).map(|value| !value)
        }
        Expr::BoolOp(bool_op) => {
            let values: Vec<Option<bool>> = bool_op
                .values
                .iter()
                .map(|value| evaluate(value, target))
                .collect();
            match bool_op.op {
                BoolOp::And if values.contains(&Some(false)) => Some(false),
                BoolOp::And if values.iter().all(|value| *value == Some(true)) => Some(true),
                BoolOp::Or if values.contains(&Some(true)) => Some(true),
                BoolOp::Or if values.iter().all(|value| *value == Some(false)) => Some(false),
                _ => None,
            }
        }
        Expr::Compare(compare) if compare.ops.len() == 1 && compare.comparators.len() == 1 => {
            let op = compare.ops[0];
            let right = &compare.comparators[0];
            if let Some(version) = version_operand(&compare.left, target) {
                let other = int_tuple(right)?;
                return Some(compare_versions(&version, op, &other));
            }
            let text = string_operand(&compare.left)?;
            match op {
                CmpOp::Eq => Some(text == string_literal(right)?),
                CmpOp::NotEq => Some(text != string_literal(right)?),
                CmpOp::In | CmpOp::NotIn => {
                    let Expr::Tuple(tuple) = right else {
                        return None;
                    };
                    let options: Option<Vec<&str>> =
                        tuple.elts.iter().map(string_literal).collect();
                    let found = options?.contains(&text);
                    Some(if op == CmpOp::In { found } else { !found })
                }
                _ => None,
            }
        }
        Expr::Call(call) => {
            let Expr::Attribute(method) = call.func.as_ref() else {
                return None;
            };
            if method.attr.id.as_str() != "startswith" || call.arguments.args.len() != 1 {
                return None;
            }
            let text = string_operand(&method.value)?;
            let prefix = string_literal(&call.arguments.args[0])?;
            Some(text.starts_with(prefix))
        }
        _ => None,
    }
}

/// `sys.version_info`, `sys.version_info[:2]`, `sys.version_info[0]`, `.major` / `.minor`:
/// the runtime's version as a tuple to compare.
fn version_operand(expr: &Expr, target: Target) -> Option<Vec<u64>> {
    let full = vec![u64::from(target.version.0), u64::from(target.version.1), 0];
    match expr {
        _ if is_sys_attribute(expr, "version_info") => Some(full),
        Expr::Subscript(subscript) if is_sys_attribute(&subscript.value, "version_info") => {
            match subscript.slice.as_ref() {
                Expr::Slice(slice) if slice.lower.is_none() && slice.step.is_none() => {
                    let upper = int_value(slice.upper.as_deref()?)?;
                    Some(full.into_iter().take(upper as usize).collect())
                }
                index => {
                    let index = int_value(index)? as usize;
                    full.get(index).map(|value| vec![*value])
                }
            }
        }
        Expr::Attribute(attribute) if is_sys_attribute(&attribute.value, "version_info") => {
            match attribute.attr.id.as_str() {
                "major" => Some(vec![full[0]]),
                "minor" => Some(vec![full[1]]),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `sys.NAME` (or `NAME` alone, as after `from sys import version_info`).
fn is_sys_attribute(expr: &Expr, name: &str) -> bool {
    match expr {
        Expr::Attribute(attribute) => {
            attribute.attr.id.as_str() == name
                && matches!(attribute.value.as_ref(), Expr::Name(module) if module.id.as_str() == "sys")
        }
        Expr::Name(bare) => bare.id.as_str() == name,
        _ => false,
    }
}

/// `sys.platform` on Lambda is `linux`; `os.name` is `posix`.
fn string_operand(expr: &Expr) -> Option<&'static str> {
    if is_sys_attribute(expr, "platform") {
        return Some("linux");
    }
    match expr {
        Expr::Attribute(attribute)
            if attribute.attr.id.as_str() == "name"
                && matches!(attribute.value.as_ref(), Expr::Name(module) if module.id.as_str() == "os") =>
        {
            Some("posix")
        }
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::StringLiteral(literal) => Some(literal.value.to_str()),
        _ => None,
    }
}

fn int_value(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::NumberLiteral(literal) => match &literal.value {
            Number::Int(int) => int.as_u64(),
            _ => None,
        },
        _ => None,
    }
}

fn int_tuple(expr: &Expr) -> Option<Vec<u64>> {
    match expr {
        Expr::Tuple(tuple) => tuple.elts.iter().map(int_value).collect(),
        other => int_value(other).map(|value| vec![value]),
    }
}

/// Compares as Python compares tuples.
fn compare_versions(left: &[u64], op: CmpOp, right: &[u64]) -> bool {
    let order = left.cmp(right);
    match op {
        CmpOp::Lt => order.is_lt(),
        CmpOp::LtE => order.is_le(),
        CmpOp::Gt => order.is_gt(),
        CmpOp::GtE => order.is_ge(),
        CmpOp::Eq => order.is_eq(),
        CmpOp::NotEq => order.is_ne(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PY312: Target = Target { version: (3, 12) };

    #[test]
    fn literal_dynamic_imports_run_at_top_level() {
        let source = "import sys\nmod = __import__('json')\nimportlib.import_module('csv')\nfor package in ('urllib3', 'idna'):\n    locals()[package] = __import__(package)\n    other(package)\nfor name in names:\n    __import__(name)\n__import__(computed)\n__import__('.rel')\ndef f():\n    __import__('lazy')\n";
        assert_eq!(
            lines_of(source),
            [
                (1, "sys".to_string()),
                (2, "json".to_string()),
                (3, "csv".to_string()),
                (5, "urllib3".to_string()),
                (5, "idna".to_string()),
            ]
        );
    }

    #[test]
    fn a_lazy_getattr_table_maps_names_to_modules() {
        let source = "_dynamic_imports: 'dict[str, tuple[str, str]]' = {\n    'dataclasses': (__spec__.parent, '__module__'),\n    'BaseModel': (__spec__.parent, '.main'),\n}\nother = {'a': 1}\n\ndef __getattr__(name):\n    ...\n";
        assert_eq!(
            imports(source, PY312).lazy,
            [
                ("dataclasses".to_string(), ".dataclasses".to_string()),
                ("BaseModel".to_string(), ".main".to_string()),
            ]
        );
        // Without a module-level __getattr__ the dict is data.
        let data = "table = {'BaseModel': (pkg, '.main')}\n";
        assert!(imports(data, PY312).lazy.is_empty());
    }

    #[test]
    fn a_syntax_error_stops_the_module_at_its_line() {
        let parsed = imports("import os\n\ndef f(:\n    pass\nimport json\n", PY312);
        let (line, message) = parsed.syntax_error.expect("a syntax error");
        assert_eq!(line, 3, "{message}");
        assert!(parsed.imports.is_empty());
        assert_eq!(imports("import os\n", PY312).syntax_error, None);
    }

    fn lines_of(source: &str) -> Vec<(u32, String)> {
        imports(source, PY312)
            .imports
            .into_iter()
            .map(|import| {
                let text = match import.kind {
                    ImportKind::Module(name) => name,
                    ImportKind::From {
                        level,
                        module,
                        names,
                    } => format!("{}{module}:{}", ".".repeat(level as usize), names.join(",")),
                };
                (import.line, text)
            })
            .collect()
    }

    #[test]
    fn top_level_imports_in_order_with_lines() {
        let source = "import os, a.b as c\nfrom . import x\nfrom ..pkg.mod import (y,\n  z)\nfrom m import *\nfrom __future__ import annotations\n";
        assert_eq!(
            lines_of(source),
            vec![
                (1, "os".to_string()),
                (1, "a.b".to_string()),
                (2, ".:x".to_string()),
                (3, "..pkg.mod:y,z".to_string()),
                (5, "m:*".to_string()),
            ]
        );
    }

    #[test]
    fn function_class_and_type_checking_bodies_are_not_followed() {
        let source = "def f():\n    import a\nclass C:\n    import b\nif TYPE_CHECKING:\n    import c\nelse:\n    import d\nif typing.TYPE_CHECKING:\n    import e\nif not TYPE_CHECKING:\n    import f\n";
        assert_eq!(
            lines_of(source),
            vec![(8, "d".to_string()), (12, "f".to_string())]
        );
    }

    #[test]
    fn optional_try_blocks_are_skipped_and_reraising_ones_followed() {
        let source = "try:\n    import opt1\nexcept ImportError:\n    opt1 = None\ntry:\n    import opt2\nexcept (AttributeError, ModuleNotFoundError):\n    pass\ntry:\n    import opt3\nexcept:\n    pass\ntry:\n    from ._core import x\nexcept ImportError as err:\n    raise ImportError('build broken') from err\ntry:\n    import req2\nexcept ValueError:\n    pass\nelse:\n    import req3\nfinally:\n    import req4\n";
        assert_eq!(
            lines_of(source),
            vec![
                (14, "._core:x".to_string()),
                (18, "req2".to_string()),
                (22, "req3".to_string()),
                (24, "req4".to_string()),
            ]
        );
    }

    #[test]
    fn version_and_platform_tests_are_evaluated_for_the_runtime() {
        let source = "import sys\nif sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli\nif sys.version_info[:2] < (3, 9):\n    import old\nelif sys.platform == 'win32':\n    import winreg\nelif sys.platform.startswith('linux') and os.name == 'posix':\n    import fcntl\nif sys.version_info.minor >= 13:\n    import new13\nif os.environ.get('X'):\n    import unknown\nelse:\n    import unknown_else\n";
        assert_eq!(
            lines_of(source),
            vec![
                (1, "sys".to_string()),
                (3, "tomllib".to_string()),
                (11, "fcntl".to_string()),
            ]
        );
    }
}
