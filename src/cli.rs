//! The command line: flags are parsed here (clap) and handed, as plain values, to one module per
//! command under `commands/`. Nothing in this file knows how a layer is built or checked.

use std::io::Write;
use std::path::PathBuf;

use crate::report::CheckFormat;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::error::Error;

/// Build and check AWS Lambda layers: reproducible zips, run-time checks, import explanations.
#[derive(Debug, Parser)]
#[command(name = "layerpack", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Gather, check and write each layer of layer.toml (or one folder with --dir) as a reproducible zip.
    Build(BuildArgs),
    /// Lint folders, zips, or the configured layers for everything that would fail at run time.
    Check(CheckArgs),
    /// Replay the runtime's lookup of a module, package, class, command or library over the layers.
    Why(WhyArgs),
    /// Show what a layer zip holds: runtimes served, architectures, sizes, largest entries, CodeSha256.
    Inspect(InspectArgs),
    /// Show what changed between two versions of a layer.
    Diff(DiffArgs),
    /// List every lint rule.
    Rules(RulesArgs),
    /// Explain one lint rule: what it checks, why it breaks, an example and the fix.
    Rule(RuleArgs),
    /// Write a starting layer.toml and .layerignore.
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(CompletionsArgs),
}

/// Output formats of `build`, `why`, `inspect`, `diff` and `rules`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Layers of layer.toml to build (default: all).
    pub(crate) names: Vec<String>,
    /// The configuration file.
    #[arg(long, short = 'c', value_name = "FILE", conflicts_with = "dir")]
    pub(crate) config: Option<PathBuf>,
    /// Pack a folder already laid out as a layer (top-level python/, nodejs/, bin/ ...) instead.
    #[arg(long, value_name = "DIR", requires = "output")]
    pub(crate) dir: Option<PathBuf>,
    /// Runtimes of the --dir layer (repeatable).
    #[arg(long = "runtime", value_name = "RUNTIME")]
    pub(crate) runtimes: Vec<String>,
    /// Architectures of the --dir layer (repeatable; default x86_64).
    #[arg(long = "arch", value_name = "ARCH")]
    pub(crate) archs: Vec<String>,
    /// Where to write the zip of the --dir layer.
    #[arg(long, short = 'o', value_name = "ZIP")]
    pub(crate) output: Option<PathBuf>,
    /// Print the archive paths that go in, and write nothing.
    #[arg(long)]
    pub(crate) list: bool,
    /// With --list: print what was left out, and the pattern (file:line) that excluded it.
    #[arg(long, requires = "list")]
    pub(crate) ignored: bool,
    /// Refuse to write when any warning stands, not only errors.
    #[arg(long)]
    pub(crate) strict: bool,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Compress every entry again and keep no record: no cache read or written.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// The cache folder (default: $LAYERPACK_CACHE_DIR, else the user's cache folder + layerpack).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub(crate) cache_dir: Option<PathBuf>,
    // The help is given as a string: as a doc comment, rustdoc would read `[cache]` as a link.
    #[arg(
        long,
        value_name = "SIZE",
        conflicts_with = "no_cache",
        help = "Largest size of the cache, e.g. 500MiB (default: [cache] max-size of layer.toml, else 2GiB)"
    )]
    pub(crate) cache_max_size: Option<bytesize::ByteSize>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Folders or .zip files (default: the layers of layer.toml).
    pub(crate) paths: Vec<PathBuf>,
    #[arg(long, short = 'c', value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Runtimes the layer is for (repeatable).
    #[arg(long = "runtime", value_name = "RUNTIME")]
    pub(crate) runtimes: Vec<String>,
    /// Architectures the layer is for (repeatable).
    #[arg(long = "arch", value_name = "ARCH")]
    pub(crate) archs: Vec<String>,
    /// The function's code (zip or folder): lint PATHs as its layers, in attachment order.
    #[arg(long, value_name = "PATH")]
    pub(crate) function: Option<PathBuf>,
    /// With --function: the handler (`app.handler`, `index.handler`); STK006 follows the
    /// imports of its module over the function code, the layers and the runtime.
    #[arg(long, value_name = "HANDLER", requires = "function")]
    pub(crate) handler: Option<String>,
    /// Lint every function of a SAM or CloudFormation template (YAML or JSON) with its layers.
    #[arg(long, value_name = "TEMPLATE", conflicts_with_all = ["paths", "function", "cdk", "runtimes", "archs"])]
    pub(crate) sam: Option<PathBuf>,
    /// Lint every function of a CDK cloud assembly (the cdk.out folder `cdk synth` writes).
    #[arg(long, value_name = "CDK_OUT", conflicts_with_all = ["paths", "function", "runtimes", "archs"])]
    pub(crate) cdk: Option<PathBuf>,
    /// With --sam or --cdk: only this function (logical id, or CDK construct path; repeatable).
    #[arg(long = "resource", value_name = "ID")]
    pub(crate) resources: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: CheckFormat,
    /// Only these rule codes or prefixes (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub(crate) select: Vec<String>,
    /// Skip these rule codes or prefixes (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub(crate) ignore: Vec<String>,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Environment of the function, e.g. AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument
    /// (repeatable): the wrapper it names is checked as an entry point.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub(crate) env: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// A Python module, Node package, Ruby feature, Java class, `bin:COMMAND`, `lib:LIBRARY`,
    /// `bootstrap`, `extension:NAME` or `wrapper`.
    pub target: String,
    /// Layers (zips, folders, or names in layer.toml) in attachment order.
    pub layers: Vec<String>,
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The function's code (zip or folder), extracted to /var/task.
    #[arg(long, value_name = "PATH")]
    pub function: Option<PathBuf>,
    /// Take runtime, architecture, code, environment and layers from a function of this SAM or
    /// CloudFormation template.
    #[arg(long, value_name = "TEMPLATE", conflicts_with_all = ["layers", "cdk"])]
    pub sam: Option<PathBuf>,
    /// Take them from a function of this CDK cloud assembly (cdk.out).
    #[arg(long, value_name = "CDK_OUT", conflicts_with = "layers")]
    pub cdk: Option<PathBuf>,
    /// With --sam or --cdk: the function (logical id or CDK construct path).
    #[arg(long = "resource", value_name = "ID")]
    pub resource: Option<String>,
    /// Environment of the function, e.g. PYTHONPATH=/var/task/vendor or
    /// AWS_LAMBDA_EXEC_WRAPPER=/opt/otel-instrument (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// What TARGET is, when its form does not say.
    #[arg(long, value_enum)]
    pub kind: Option<crate::resolve::Kind>,
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A layer zip (or a folder laid out as a layer).
    pub(crate) path: PathBuf,
    /// How many of the largest entries to list.
    #[arg(long, default_value_t = 10)]
    pub(crate) top: usize,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The older layer (zip or folder).
    pub(crate) old: PathBuf,
    /// The newer layer (zip or folder).
    pub(crate) new: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct RuleArgs {
    /// A rule code (BIN004) or name (glibc-too-new).
    pub(crate) code: String,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Runtimes of the starting layer (repeatable; default python3.12, or for --extension the
    /// newest of each family). With provided.al2023 (or provided.al2) the layer gets a
    /// `bootstrap` custom runtime to start from.
    #[arg(long = "runtime", value_name = "RUNTIME")]
    pub(crate) runtimes: Vec<String>,
    /// Start an extension layer: `extensions/NAME`, a shell script Lambda starts at init that
    /// registers with the Extensions API and waits for events.
    #[arg(long, value_name = "NAME")]
    pub(crate) extension: Option<String>,
    /// The layer's name (default my-layer, or the extension's name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Folder to write into.
    #[arg(long, default_value = ".")]
    pub(crate) dir: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Runs a parsed command; returns the exit status (0 clean, 1 findings at error level).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<i32, Error> {
    match &cli.command {
        Command::Build(args) => commands::build::run(args, out),
        Command::Check(args) => commands::check::run(args, out),
        Command::Why(args) => commands::why::run(args, out),
        Command::Inspect(args) => commands::inspect::run(args, out),
        Command::Diff(args) => commands::diff::run(args, out),
        Command::Rules(args) => commands::rules::run_list(args, out),
        Command::Rule(args) => commands::rules::run_explain(args, out),
        Command::Init(args) => commands::init::run(args, out),
        Command::Completions(args) => commands::completions::run(args, out),
    }
}
