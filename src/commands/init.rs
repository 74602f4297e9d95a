//! `layerpack init`: a starting `layer.toml` and `.layerignore` for the runtimes given.
//!
//! The files are commented so that a new user learns the format from them; every source path
//! they name says how to fill it (pip, npm, bundler, maven), since the layout is what users get
//! wrong most.

use std::io::Write;
use std::path::Path;

use crate::cli::InitArgs;
use crate::commands::{parse_runtimes, write_out};
use crate::error::Error;
use crate::runtime::{Family, Runtime};

/// The commented example shipped at the repository root, written as the new `.layerignore`.
const LAYERIGNORE: &str = include_str!("../../.layerignore.example");

pub fn run(args: &InitArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let mut runtimes = parse_runtimes(&args.runtimes)?;
    if runtimes.is_empty() {
        runtimes = parse_runtimes(&["python3.12".to_string()])?;
    }
    let name_ok = (1..=140).contains(&args.name.len())
        && args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(Error::usage(
            format!("invalid layer name `{}`", args.name),
            Some("AWS layer names use 1 to 140 of a-z, A-Z, 0-9, - and _".to_string()),
        ));
    }
    let config = layer_toml(&args.name, &runtimes);
    let files = [
        ("layer.toml", config.as_str()),
        (".layerignore", LAYERIGNORE),
    ];
    for (file, _) in &files {
        let path = args.dir.join(file);
        if path.exists() && !args.force {
            return Err(Error::usage(
                format!("{} already exists", display(&path)),
                Some("pass --force to overwrite it".to_string()),
            ));
        }
    }
    std::fs::create_dir_all(&args.dir).map_err(|err| Error::write(&args.dir, err))?;
    for (file, text) in &files {
        let path = args.dir.join(file);
        crate::archive::write_file_atomically(&path, |writer| writer.write_all(text.as_bytes()))?;
        write_out(out, &format!("wrote {}\n", display(&path)))?;
    }
    write_out(
        out,
        "next: fill the source folders named in layer.toml, then run `layerpack build`\n",
    )?;
    Ok(0)
}

fn display(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

/// The text of a commented `layer.toml` for these runtimes.
pub fn layer_toml(name: &str, runtimes: &[&'static Runtime]) -> String {
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
    let mut families: Vec<Family> = runtimes.iter().map(|runtime| runtime.family).collect();
    families.dedup();
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
                runtime.version.0, runtime.version.1
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
                runtime.version.0, runtime.version.1
            ),
            &runtime.ruby_gem_dir(),
        ),
        (Family::Java, _) => source(
            "Fill with: mvn dependency:copy-dependencies -DoutputDirectory=build/java/lib",
            "build/java/lib",
            "java/lib",
        ),
        _ => {
            source("Executables, on PATH as /opt/bin", "bin", "bin")
                + &source(
                    "Shared libraries, on LD_LIBRARY_PATH as /opt/lib",
                    "lib",
                    "lib",
                )
        }
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
            let text = layer_toml("my-layer", &runtimes);
            let config = Config::parse(Path::new("layer.toml"), text).expect("template parses");
            assert_eq!(config.layers[0].runtimes, runtimes);
            assert!(!config.layers[0].sources.is_empty());
        }
    }
}
