//! `layer.toml`: which layers to build, from which folders, for which runtimes.
//!
//! The file is parsed strictly (unknown keys are errors) and validated once, here, into plain
//! values with paths already resolved against the file's folder. Every error points at the
//! offending text of the file through miette, so a typo in `runtimes` shows the line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::NamedSource;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{ConfigError, Error};
use crate::finding::{Code, Severity};
use crate::inventory::ArchivePath;
use crate::runtime::{Arch, Runtime, limits};

/// The file name looked up in the current folder and the folders above it.
pub(crate) const DEFAULT_FILE: &str = "layer.toml";

/// The nearest `layer.toml` in `start` or a folder above it, written relative to `start`
/// (`layer.toml`, `../layer.toml`, ...), so paths resolved against its folder stay short and
/// relative. `None` when no folder up to the root has one.
pub(crate) fn discover(start: &Path) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for dir in start.ancestors() {
        if dir.join(DEFAULT_FILE).is_file() {
            return Some(relative.join(DEFAULT_FILE));
        }
        relative.push("..");
    }
    None
}

/// What to do with Python bytecode (`.pyc`) when building.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BytecodeMode {
    /// Turn valid timestamp pycs into hash-based ones; drop stale, orphan and foreign ones.
    #[default]
    KeepValid,
    /// Drop every pyc: a smaller zip, but Python compiles every module on every cold start.
    Strip,
    /// Ship pycs untouched (they will be stale once the zip's dates are normalized).
    AsIs,
}

/// A validated `layer.toml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file itself.
    pub(crate) path: PathBuf,
    /// The folder relative paths are resolved against.
    pub(crate) dir: PathBuf,
    /// Layers in the order of their names.
    pub(crate) layers: Vec<LayerConfig>,
    pub(crate) lint: LintSettings,
    pub(crate) functions: Vec<FunctionConfig>,
    /// `[cache] max-size`: the build cache's size limit in bytes.
    pub(crate) cache_max_size: Option<u64>,
}

/// One `[layer.NAME]` table.
#[derive(Clone, Debug)]
pub(crate) struct LayerConfig {
    pub(crate) name: String,
    pub(crate) runtimes: Vec<&'static Runtime>,
    pub(crate) architectures: Vec<Arch>,
    /// Where the zip goes (absolute or relative to the current folder, already joined).
    pub(crate) output: PathBuf,
    /// Extra gitignore-syntax patterns from `ignore = [...]`.
    pub(crate) ignore: Vec<String>,
    pub(crate) sources: Vec<SourceConfig>,
    pub(crate) bytecode: BytecodeMode,
    /// Compile missing pycs with a matching local `python3.N`.
    pub(crate) compile: bool,
    pub(crate) budget: Budget,
}

/// One `[[layer.NAME.source]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourceConfig {
    pub(crate) path: PathBuf,
    /// Folder inside the layer the source's contents go to; `""` for the root.
    pub(crate) into: String,
}

/// One `[function.NAME]` table: a function's code and its layers, for stack checks and `why`.
#[derive(Clone, Debug)]
pub(crate) struct FunctionConfig {
    pub(crate) name: String,
    pub(crate) runtime: &'static Runtime,
    pub(crate) architecture: Arch,
    pub(crate) code: Option<PathBuf>,
    /// Layer names from this file, or paths to zips or folders, in attachment order.
    pub(crate) layers: Vec<String>,
    /// The function's environment variables that change what Lambda starts or how it looks
    /// things up (`AWS_LAMBDA_EXEC_WRAPPER`, `PYTHONPATH`).
    pub(crate) env: BTreeMap<String, String>,
    /// The handler (`app.handler`), whose import closure `check` follows (STK006).
    pub(crate) handler: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    layer: BTreeMap<Spanned<String>, RawLayer>,
    #[serde(default)]
    lint: RawLint,
    #[serde(default)]
    function: BTreeMap<Spanned<String>, RawFunction>,
    #[serde(default)]
    cache: RawCache,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCache {
    #[serde(rename = "max-size")]
    max_size: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    runtimes: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    architectures: Option<Spanned<Vec<Spanned<String>>>>,
    output: Option<String>,
    #[serde(default)]
    ignore: Vec<String>,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    bytecode: BytecodeMode,
    #[serde(default)]
    compile: bool,
    #[serde(default)]
    budget: Budget,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    path: Spanned<String>,
    #[serde(default)]
    into: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLint {
    #[serde(default)]
    select: Vec<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    runtime: Spanned<String>,
    #[serde(default)]
    architecture: Option<Spanned<String>>,
    code: Option<String>,
    #[serde(default)]
    layers: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    handler: Option<String>,
}

impl Config {
    /// Reads and validates a `layer.toml`.
    pub(crate) fn load(path: &Path) -> Result<Config, Error> {
        let text = crate::files::read_text_capped(path, crate::files::MAX_TEXT_FILE)
            .map_err(|err| Error::read(path, err))?;
        Config::parse(path, text)
    }

    /// Validates the text of a `layer.toml` found at `path`.
    pub fn parse(path: &Path, text: String) -> Result<Config, Error> {
        let file = SourceFile { path, text: &text };
        let raw: RawConfig = toml::from_str(&text).map_err(|err| {
            file.error(
                format!("invalid {}: {}", path.display(), err.message()),
                err.span(),
                "here",
                Some("see `layerpack init` for a commented example of every key".to_string()),
            )
        })?;
        // `layer.toml` in the current folder has an empty parent, so paths stay `dist/x.zip`.
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();

        let mut layers = Vec::new();
        for (name, raw_layer) in raw.layer {
            layers.push(file.layer(&dir, name, raw_layer)?);
        }

        let mut lint = LintSettings::default();
        for code in &raw.lint.select {
            lint.select.push(file.rule_code(code)?);
        }
        for code in &raw.lint.ignore {
            lint.ignore.push(file.rule_code(code)?);
        }
        for (code, severity) in &raw.lint.severity {
            let code = file.rule_code(code)?;
            let level: Severity = severity.get_ref().parse().map_err(|message: String| {
                file.error(message, Some(severity.span()), "not a severity", None)
            })?;
            lint.severity.insert(code, level);
        }

        let mut functions = Vec::new();
        for (name, raw_function) in raw.function {
            let runtime = file.runtime(&raw_function.runtime)?;
            let architecture = match &raw_function.architecture {
                Some(arch) => file.arch(arch)?,
                None => Arch::X86_64,
            };
            functions.push(FunctionConfig {
                name: name.into_inner(),
                runtime,
                architecture,
                code: raw_function.code.map(|code| dir.join(code)),
                layers: raw_function.layers,
                env: raw_function.env,
                handler: raw_function.handler,
            });
        }

        let cache_max_size = match &raw.cache.max_size {
            None => None,
            Some(size) => Some(
                size.get_ref()
                    .parse::<bytesize::ByteSize>()
                    .map_err(|_| {
                        file.error(
                            format!("`{}` is not a size", size.get_ref()),
                            Some(size.span()),
                            "not a size",
                            Some("write a size such as \"500 MiB\" or \"2 GiB\"".to_string()),
                        )
                    })?
                    .as_u64(),
            ),
        };

        Ok(Config {
            path: path.to_path_buf(),
            dir,
            layers,
            lint,
            functions,
            cache_max_size,
        })
    }

    /// The layers named, in the order given; all of them when `names` is empty.
    pub(crate) fn select_layers(&self, names: &[String]) -> Result<Vec<&LayerConfig>, Error> {
        if names.is_empty() {
            return Ok(self.layers.iter().collect());
        }
        names
            .iter()
            .map(|name| {
                self.layers
                    .iter()
                    .find(|layer| &layer.name == name)
                    .ok_or_else(|| {
                        Error::usage(
                            format!("no layer named `{name}` in {}", self.path.display()),
                            Some(format!("layers declared there: {}", self.layer_names())),
                        )
                    })
            })
            .collect()
    }

    pub(crate) fn layer(&self, name: &str) -> Option<&LayerConfig> {
        self.layers.iter().find(|layer| layer.name == name)
    }

    fn layer_names(&self) -> String {
        if self.layers.is_empty() {
            return "none".to_string();
        }
        self.layers
            .iter()
            .map(|layer| layer.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Validation helpers that point errors at the file's text.
struct SourceFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl SourceFile<'_> {
    fn error(
        &self,
        message: String,
        span: Option<Range<usize>>,
        label: &str,
        help: Option<String>,
    ) -> Error {
        Error::Config(Box::new(ConfigError {
            message,
            source_code: NamedSource::new(self.path.display().to_string(), self.text.to_string()),
            span: span.map(Into::into),
            label: label.to_string(),
            help,
        }))
    }

    fn layer(
        &self,
        dir: &Path,
        name: Spanned<String>,
        raw: RawLayer,
    ) -> Result<LayerConfig, Error> {
        let valid_name = (1..=140).contains(&name.get_ref().len())
            && name
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(self.error(
                format!("invalid layer name `{}`", name.get_ref()),
                Some(name.span()),
                "layer name",
                Some("AWS layer names use 1 to 140 of a-z, A-Z, 0-9, - and _".to_string()),
            ));
        }
        let name_text = name.get_ref().clone();

        let mut runtimes = Vec::new();
        for runtime in raw.runtimes.get_ref() {
            let runtime = self.runtime(runtime)?;
            if !runtimes.contains(&runtime) {
                runtimes.push(runtime);
            }
        }
        if runtimes.is_empty() {
            return Err(self.error(
                format!("layer `{name_text}` lists no runtimes"),
                Some(raw.runtimes.span()),
                "empty",
                Some("name at least one, e.g. runtimes = [\"python3.12\"]".to_string()),
            ));
        }
        if runtimes.len() > limits::RUNTIMES_PER_LAYER {
            return Err(self.error(
                format!(
                    "layer `{name_text}` lists {} runtimes; a layer version takes at most {}",
                    runtimes.len(),
                    limits::RUNTIMES_PER_LAYER
                ),
                Some(raw.runtimes.span()),
                "too many",
                None,
            ));
        }

        let mut architectures = Vec::new();
        match &raw.architectures {
            None => architectures.push(Arch::X86_64),
            Some(list) => {
                for arch in list.get_ref() {
                    let arch = self.arch(arch)?;
                    if !architectures.contains(&arch) {
                        architectures.push(arch);
                    }
                }
                if architectures.is_empty() {
                    return Err(self.error(
                        format!("layer `{name_text}` lists no architectures"),
                        Some(list.span()),
                        "empty",
                        Some("use [\"x86_64\"], [\"arm64\"] or both, or leave the key out for x86_64".to_string()),
                    ));
                }
            }
        }
        architectures.sort();

        let mut sources = Vec::new();
        for source in raw.source {
            let into = match &source.into {
                None => String::new(),
                Some(into) if into.get_ref().trim_matches('/').is_empty() => String::new(),
                Some(into) => ArchivePath::new(into.get_ref())
                    .map_err(|reason| {
                        self.error(
                            format!("`into` cannot be used: {}", reason.describe()),
                            Some(into.span()),
                            "into",
                            Some(
                                "give a relative folder inside the layer, such as \"python\""
                                    .to_string(),
                            ),
                        )
                    })?
                    .as_str()
                    .to_string(),
            };
            if source.path.get_ref().is_empty() {
                return Err(self.error(
                    "a source needs a `path`".to_string(),
                    Some(source.path.span()),
                    "empty",
                    None,
                ));
            }
            sources.push(SourceConfig {
                path: dir.join(source.path.get_ref()),
                into,
            });
        }

        let output = dir.join(
            raw.output
                .unwrap_or_else(|| format!("dist/{name_text}.zip")),
        );

        Ok(LayerConfig {
            name: name_text,
            runtimes,
            architectures,
            output,
            ignore: raw.ignore,
            sources,
            bytecode: raw.bytecode,
            compile: raw.compile,
            budget: raw.budget,
        })
    }

    fn runtime(&self, id: &Spanned<String>) -> Result<&'static Runtime, Error> {
        Runtime::find(id.get_ref()).ok_or_else(|| {
            self.error(
                format!("unknown runtime `{}`", id.get_ref()),
                Some(id.span()),
                "not an AWS Lambda runtime identifier",
                Some(format!("known runtimes: {}", Runtime::known_ids())),
            )
        })
    }

    fn arch(&self, name: &Spanned<String>) -> Result<Arch, Error> {
        match name.get_ref().as_str() {
            "x86_64" => Ok(Arch::X86_64),
            "arm64" => Ok(Arch::Arm64),
            other => Err(self.error(
                format!("unknown architecture `{other}`"),
                Some(name.span()),
                "architecture",
                Some("Lambda architectures are \"x86_64\" and \"arm64\"".to_string()),
            )),
        }
    }

    fn rule_code(&self, code: &Spanned<String>) -> Result<String, Error> {
        let settings = LintSettings {
            select: vec![code.get_ref().clone()],
            ..LintSettings::default()
        };
        if settings.unknown_codes().is_empty() {
            Ok(code.get_ref().clone())
        } else {
            Err(self.error(
                format!("unknown rule code `{}`", code.get_ref()),
                Some(code.span()),
                "no rule has this code or prefix",
                Some("`layerpack rules` lists every rule".to_string()),
            ))
        }
    }
}

/// Optional size budgets a team sets for a layer in `layer.toml`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Largest allowed unzipped size in bytes.
    pub unzipped_bytes: Option<u64>,
    /// Largest allowed zipped size in bytes.
    pub zipped_bytes: Option<u64>,
}

/// Which rules run and how severe their findings are (`[lint]` in `layer.toml`, `--select`,
/// `--ignore`). Codes match by prefix, as in ruff: `BIN` selects every binary rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LintSettings {
    /// Empty means every rule.
    pub select: Vec<String>,
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
}

impl LintSettings {
    /// True when the rule runs under these settings. The longest matching prefix wins between
    /// `select` and `ignore`, so `select = ["BIN"]`, `ignore = ["BIN007"]` drops only BIN007.
    pub(crate) fn enabled(&self, code: Code) -> bool {
        let code = code.as_str();
        let longest = |list: &[String]| {
            list.iter()
                .filter(|prefix| prefix.as_str() == "ALL" || code.starts_with(prefix.as_str()))
                .map(|prefix| if prefix == "ALL" { 0 } else { prefix.len() })
                .max()
        };
        let selected = if self.select.is_empty() {
            Some(0)
        } else {
            longest(&self.select)
        };
        match (selected, longest(&self.ignore)) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(selected), Some(ignored)) => selected > ignored,
        }
    }

    /// The severity a finding of this rule gets: an override by code, then by longest prefix.
    pub(crate) fn severity_of(&self, code: Code, reported: Severity) -> Severity {
        let code = code.as_str();
        self.severity
            .iter()
            .filter(|(prefix, _)| code.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(reported, |(_, severity)| *severity)
    }

    /// Checks that every code named is a known rule code or prefix.
    pub(crate) fn unknown_codes(&self) -> Vec<String> {
        self.select
            .iter()
            .chain(&self.ignore)
            .chain(self.severity.keys())
            .filter(|prefix| {
                prefix.as_str() != "ALL"
                    && !Code::ALL
                        .iter()
                        .any(|code| code.starts_with(prefix.as_str()))
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(Path::new("proj/layer.toml"), text.to_string())
    }

    #[test]
    fn full_example_parses() {
        let config = parse(
            r#"
[layer.shared-utils]
runtimes = ["python3.11", "python3.12"]
architectures = ["arm64", "x86_64"]
ignore = ["tests/"]

[[layer.shared-utils.source]]
path = "src/shared_utils"
into = "python/shared_utils/"

[lint]
select = ["BIN", "LAY"]
ignore = ["BIN007"]
[lint.severity]
SIZE002 = "error"

[function.api]
runtime = "python3.12"
layers = ["shared-utils"]
env = { AWS_LAMBDA_EXEC_WRAPPER = "/opt/otel-instrument" }
"#,
        )
        .expect("valid config");
        let layer = &config.layers[0];
        assert_eq!(layer.name, "shared-utils");
        assert_eq!(layer.architectures, [Arch::X86_64, Arch::Arm64]);
        assert_eq!(layer.output, Path::new("proj/dist/shared-utils.zip"));
        assert_eq!(layer.sources[0].path, Path::new("proj/src/shared_utils"));
        assert_eq!(layer.sources[0].into, "python/shared_utils");
        assert_eq!(layer.bytecode, BytecodeMode::KeepValid);
        assert_eq!(config.lint.severity["SIZE002"], Severity::Error);
        assert_eq!(config.functions[0].runtime.id, "python3.12");
        assert_eq!(config.functions[0].architecture, Arch::X86_64);
        assert_eq!(
            config.functions[0].env["AWS_LAMBDA_EXEC_WRAPPER"],
            "/opt/otel-instrument"
        );
    }

    #[test]
    fn unknown_key_is_an_error_pointing_at_it() {
        let err = parse("[layer.a]\nruntimes = [\"python3.12\"]\nruntime = 1\n")
            .expect_err("unknown key");
        let Error::Config(err) = err else {
            panic!("not a config error: {err:?}")
        };
        assert!(
            err.message.contains("unknown field `runtime`"),
            "{}",
            err.message
        );
        let span = err.span.expect("span");
        assert_eq!(
            span.offset(),
            "[layer.a]\nruntimes = [\"python3.12\"]\n".len()
        );
    }

    #[test]
    fn unknown_runtime_names_the_known_ones() {
        let err = parse("[layer.a]\nruntimes = [\"python2.7\"]\n").expect_err("bad runtime");
        let Error::Config(err) = err else {
            panic!("not a config error")
        };
        assert_eq!(err.message, "unknown runtime `python2.7`");
        assert!(err.help.unwrap_or_default().contains("python3.12"));
    }

    #[test]
    fn bad_names_and_paths_are_refused() {
        assert!(parse("[layer.\"bad name\"]\nruntimes = [\"python3.12\"]\n").is_err());
        assert!(
            parse("[layer.a]\nruntimes = [\"python3.12\"]\n[[layer.a.source]]\npath = \"x\"\ninto = \"../up\"\n")
                .is_err()
        );
        assert!(parse("[layer.a]\nruntimes = []\n").is_err());
        assert!(
            parse("[layer.a]\nruntimes = [\"python3.12\"]\narchitectures = [\"ppc\"]\n").is_err()
        );
        assert!(parse("[lint]\nselect = [\"NOPE\"]\n").is_err());
    }

    fn lint_settings(select: &[&str], ignore: &[&str]) -> LintSettings {
        LintSettings {
            select: select.iter().map(|code| code.to_string()).collect(),
            ignore: ignore.iter().map(|code| code.to_string()).collect(),
            severity: BTreeMap::new(),
        }
    }

    #[test]
    fn select_and_ignore_use_the_longest_prefix() {
        let all = lint_settings(&[], &[]);
        assert!(all.enabled(Code::BIN007));
        let bins = lint_settings(&["BIN"], &["BIN007"]);
        assert!(bins.enabled(Code::BIN001));
        assert!(!bins.enabled(Code::BIN007));
        assert!(!bins.enabled(Code::LAY001));
        let reselect = lint_settings(&["BIN007"], &["BIN"]);
        assert!(reselect.enabled(Code::BIN007));
        assert!(!reselect.enabled(Code::BIN001));
        assert!(!lint_settings(&["ALL"], &["HYG"]).enabled(Code::HYG001));
    }

    #[test]
    fn severity_overrides_by_longest_prefix() {
        let mut settings = lint_settings(&[], &[]);
        settings
            .severity
            .insert("BIN".to_string(), Severity::Warning);
        settings
            .severity
            .insert("BIN004".to_string(), Severity::Info);
        assert_eq!(
            settings.severity_of(Code::BIN001, Severity::Error),
            Severity::Warning
        );
        assert_eq!(
            settings.severity_of(Code::BIN004, Severity::Error),
            Severity::Info
        );
        assert_eq!(
            settings.severity_of(Code::LAY001, Severity::Error),
            Severity::Error
        );
    }

    #[test]
    fn unknown_codes_are_reported() {
        let settings = lint_settings(&["BIN", "XYZ1"], &["LAY00"]);
        assert_eq!(settings.unknown_codes(), ["XYZ1"]);
    }
}
