//! `layerpack init`: a starting `layer.toml` and `.layerignore` for the runtimes given, and for
//! the layers whose content is a program Lambda starts (a custom runtime's `bootstrap`, an
//! extension) that program too, ready to build and check.
//!
//! The files are commented so that a new user learns the format from them; every source path
//! they name says how to fill it (pip, npm, bundler, maven), since the layout is what users get
//! wrong most.

use std::io::Write;
use std::path::Path;

use crate::cli::InitArgs;
use crate::commands::{parse_runtimes, write_out};
use crate::domain::served::newest_of;
use crate::error::Error;
use crate::runtime::{Family, RUNTIMES, Runtime};

/// The commented example shipped at the repository root, written as the new `.layerignore`.
const LAYERIGNORE: &str = include_str!("../../.layerignore.example");

/// The folder of the custom runtime's template (`runtime/bootstrap` is `/opt/bootstrap`).
const RUNTIME_SOURCE: &str = "runtime";
/// The folder of an extension's template (`extension/extensions/NAME`).
const EXTENSION_SOURCE: &str = "extension";

pub(crate) fn run(args: &InitArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let mut runtimes = parse_runtimes(&args.runtimes)?;
    if let Some(extension) = &args.extension {
        check_name("extension name", extension)?;
    }
    if runtimes.is_empty() {
        runtimes = if args.extension.is_some() {
            newest_of_each_family()
        } else {
            parse_runtimes(&["python3.12".to_string()])?
        };
    }
    let name = args
        .name
        .clone()
        .or_else(|| args.extension.clone())
        .unwrap_or_else(|| "my-layer".to_string());
    check_name("layer name", &name)?;
    let config = layer_toml(&name, &runtimes, args.extension.as_deref());
    // (path relative to --dir, text, executable)
    let mut files: Vec<(String, String, bool)> = vec![
        ("layer.toml".to_string(), config, false),
        (".layerignore".to_string(), LAYERIGNORE.to_string(), false),
    ];
    if args.extension.is_none() && runtimes.iter().any(|runtime| runtime.runs_bootstrap()) {
        files.push((
            format!("{RUNTIME_SOURCE}/bootstrap"),
            BOOTSTRAP.to_string(),
            true,
        ));
    }
    if let Some(extension) = &args.extension {
        files.push((
            format!("{EXTENSION_SOURCE}/extensions/{extension}"),
            EXTENSION.replace("{name}", extension),
            true,
        ));
    }
    for (file, _, _) in &files {
        let path = args.dir.join(file);
        if path.exists() && !args.force {
            return Err(Error::usage(
                format!("{} already exists", display(&path)),
                Some("pass --force to overwrite it".to_string()),
            ));
        }
    }
    for (file, text, executable) in &files {
        let path = args.dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| Error::write(parent, err))?;
        }
        crate::archive::write_file_atomically(&path, |writer| writer.write_all(text.as_bytes()))?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|err| Error::write(&path, err))?;
        }
        write_out(out, &format!("wrote {}\n", display(&path)))?;
    }
    let next = if files.len() > 2 {
        "next: edit the program(s) written above, then run `layerpack check` and `layerpack build`\n"
    } else {
        "next: fill the source folders named in layer.toml, then run `layerpack build`\n"
    };
    write_out(out, next)?;
    Ok(0)
}

/// Layer and extension names: 1 to 140 of a-z, A-Z, 0-9, `-` and `_` (an extension registers
/// under its file name, so the same characters keep it a plain name).
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = (1..=140).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("invalid {what} `{name}`"),
            Some("use 1 to 140 of a-z, A-Z, 0-9, - and _".to_string()),
        ))
    }
}

/// An extension runs under every runtime: its template layer declares the newest of each
/// family.
fn newest_of_each_family() -> Vec<&'static Runtime> {
    let mut families: Vec<Family> = RUNTIMES.iter().map(|runtime| runtime.family).collect();
    families.dedup();
    families.into_iter().filter_map(newest_of).collect()
}

/// The custom runtime template: the Lambda Runtime API loop in shell, after AWS's "Building a
/// custom runtime" tutorial, with the handler a shell function of the function's code.
const BOOTSTRAP: &str = r#"#!/bin/sh
# The custom runtime of this layer. On provided.al2023, Lambda runs /var/task/bootstrap, or, when
# the function ships none, this file as /opt/bootstrap. It loads the function's handler script
# (_HANDLER=function.handler runs the shell function `handler` of /var/task/function.sh) and
# serves invocations through the Lambda Runtime API. curl is part of Amazon Linux 2023, not of
# Amazon Linux 2: on provided.al2, ship a static curl in runtime/bin/ (on PATH as /opt/bin).
# Keep this file executable (chmod 755) and with LF line endings.
set -eu

. "$LAMBDA_TASK_ROOT/$(echo "$_HANDLER" | cut -d. -f1).sh"
HANDLER_FUNCTION="$(echo "$_HANDLER" | cut -d. -f2)"
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"

while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -LD "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  RESPONSE="$("$HANDLER_FUNCTION" "$EVENT")"
  curl -sS -o /dev/null "$API/invocation/$REQUEST_ID/response" -d "$RESPONSE"
done
"#;

/// The extension template: registers with the Extensions API under its file name, then waits
/// for each event until SHUTDOWN. `{name}` is replaced by the extension's name.
const EXTENSION: &str = r#"#!/bin/sh
# {name}: an external Lambda extension. Lambda starts every file directly in /opt/extensions at
# init, on every runtime, before the function's handler runs; at most 10 per function. This one
# registers with the Extensions API under its own file name, then waits for each event: put its
# work in on_invoke. curl is part of Amazon Linux 2023, not of Amazon Linux 2 (python3.11 and
# older, nodejs18.x, java8.al2/11/17, ruby3.2, provided.al2): for those, ship a static curl in
# a bin/ folder of this layer, or write the extension as a program.
# Keep this file executable (chmod 755) and with LF line endings.
set -eu

NAME="$(basename "$0")"
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
HEADERS="$(mktemp)"
curl -sS -o /dev/null -D "$HEADERS" -X POST "$API/register"   -H "Lambda-Extension-Name: $NAME" -d '{"events": ["INVOKE", "SHUTDOWN"]}'
ID="$(grep -Fi Lambda-Extension-Identifier "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
rm -f "$HEADERS"

on_invoke() {
  : # the work for one invocation; "$1" is the event (JSON)
}

while true; do
  EVENT="$(curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID")"
  case "$EVENT" in
    *'"SHUTDOWN"'*) exit 0 ;;
  esac
  on_invoke "$EVENT"
done
"#;

fn display(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// The text of a commented `layer.toml` for these runtimes (and an extension's folder).
pub(crate) fn layer_toml(
    name: &str,
    runtimes: &[&'static Runtime],
    extension: Option<&str>,
) -> String {
    let ids: Vec<String> = runtimes
        .iter()
        .map(|runtime| format!("\"{}\"", runtime.id))
        .collect();
    let mut text = format!(
        r#"# layer.toml — the Lambda layers this project builds. `layerpack build` writes each one as a
# reproducible zip (same inputs, same bytes, same CodeSha256) and refuses to write a layer with
# error-level findings; `layerpack check` runs the same checks without writing.

[layer.{name}]
# AWS runtime identifiers this layer is for (at most 15). Checks use them: Python folder names,
# CPython extension tags, the glibc of the runtime's Amazon Linux.
runtimes = [{ids}]
# x86_64 and/or arm64. Native code (.so, .node, executables) must match.
architectures = ["x86_64"]
# Where the zip goes, relative to this file; a manifest <output>.json is written beside it.
output = "dist/{name}.zip"
# Extra patterns to leave out (gitignore syntax); .layerignore files work too.
ignore = []
# Python bytecode: "keep-valid" makes valid .pyc hash-based so they survive the zip's fixed dates
# (fast cold starts); "strip" drops them (smaller, slower starts); "as-is" ships them untouched.
bytecode = "keep-valid"
"#,
        ids = ids.join(", ")
    );
    if let Some(extension) = extension {
        text.push_str(&format!(
            r#"
# The extension: extension/extensions/{extension} is /opt/extensions/{extension}, which Lambda
# starts at init on every runtime. Files it needs go in a folder it opens by full path, e.g.
# extension/{extension}/ as /opt/{extension}/; programs in extension/bin/ (on PATH as /opt/bin).
[[layer.{name}.source]]
path = "{EXTENSION_SOURCE}"
into = ""
"#
        ));
    }
    let mut families: Vec<Family> = runtimes.iter().map(|runtime| runtime.family).collect();
    families.dedup();
    // An extension layer holds no language packages of its own.
    if extension.is_some() {
        families.clear();
    }
    for family in families {
        let runtime = runtimes
            .iter()
            .find(|runtime| runtime.family == family)
            .copied();
        text.push_str(&source_tables(name, family, runtime));
    }
    text.push_str(
        r#"
# Rules: `layerpack rules` lists them; codes match by prefix, as in ruff.
[lint]
select = []
ignore = []
# [lint.severity]
# BIN007 = "warning"

# A function and its layers in attachment order, for `layerpack check` and `layerpack why`:
# [function.api]
# runtime = "python3.12"
# architecture = "x86_64"
# code = "src"
# layers = ["my-layer"]
"#,
    );
    text
}

fn source_tables(name: &str, family: Family, runtime: Option<&'static Runtime>) -> String {
    let source = |comment: &str, path: &str, into: &str| {
        format!("\n# {comment}\n[[layer.{name}.source]]\npath = \"{path}\"\ninto = \"{into}\"\n")
    };
    match (family, runtime) {
        (Family::Python, Some(runtime)) => source(
            &format!(
                "Fill with: pip install -r requirements.txt --target build/python \\\n#   --platform manylinux2014_x86_64 --only-binary=:all: --python-version {}.{}",
                runtime.version().0,
                runtime.version().1
            ),
            "build/python",
            "python",
        ),
        (Family::Nodejs, _) => source(
            "Fill with: npm ci --omit=dev --prefix build/nodejs (node_modules lands in build/nodejs)",
            "build/nodejs",
            "nodejs",
        ),
        (Family::Ruby, Some(runtime)) => source(
            "Fill with: bundle config set path vendor/bundle && bundle install",
            &format!(
                "vendor/bundle/ruby/{}.{}.0",
                runtime.version().0,
                runtime.version().1
            ),
            &runtime.ruby_gem_dir(),
        ),
        (Family::Java, _) => source(
            "Fill with: mvn dependency:copy-dependencies -DoutputDirectory=build/java/lib",
            "build/java/lib",
            "java/lib",
        ),
        _ => source(
            &format!(
                "The custom runtime: {RUNTIME_SOURCE}/bootstrap is /opt/bootstrap, which provided.* runs when\n\
                 # the function ships no bootstrap of its own. Programs go in {RUNTIME_SOURCE}/bin/ (on PATH as\n\
                 # /opt/bin), shared libraries in {RUNTIME_SOURCE}/lib/ (on LD_LIBRARY_PATH as /opt/lib)."
            ),
            RUNTIME_SOURCE,
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_family_template_is_a_valid_config() {
        for ids in [
            &["python3.12"][..],
            &["nodejs20.x"],
            &["ruby3.3"],
            &["java21"],
            &["provided.al2023"],
            &["python3.11", "python3.12", "nodejs22.x"],
        ] {
            let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            let runtimes = parse_runtimes(&ids).expect("known runtimes");
            let text = layer_toml("my-layer", &runtimes, None);
            let config = Config::parse(Path::new("layer.toml"), text).expect("template parses");
            assert_eq!(config.layers[0].runtimes, runtimes);
            assert!(!config.layers[0].sources.is_empty());
        }
    }
}
