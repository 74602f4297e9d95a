//! `layerpack build`: gather → bytecode → compress → lint → write zip and manifest, per layer.
//!
//! The zip is compressed before it is linted so that the size rules see the exact zipped size;
//! a layer with error-level findings is never written, and the previous zip stays in place.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::archive::{self, DosDateTime};
use crate::bytecode::{self, BytecodeReport};
use crate::cache::{self, Cache, CacheReport, LayerSession, RecordedOutcome};
use crate::cli::{BuildArgs, Format};
use crate::commands::{
    EXIT_FINDINGS, config_path, parse_archs, parse_runtimes, write_json, write_out,
};
use crate::config::{Budget, LintSettings};
use crate::config::{BytecodeMode, Config};
use crate::error::Error;
use crate::finding::{Counts, Finding};
use crate::gather::{self, Gathered};
use crate::inspect::InspectionMemory;
use crate::manifest::Manifest;
use crate::report::{self, CheckFormat, Summary};
use crate::rules;
use crate::runtime::{Arch, Runtime};
use crate::timing;

/// One layer to build, whatever it was declared by.
struct Plan {
    name: String,
    runtimes: Vec<&'static Runtime>,
    architectures: Vec<Arch>,
    output: PathBuf,
    bytecode: BytecodeMode,
    compile: bool,
    budget: Budget,
    gathered: Gathered,
}

impl Plan {
    /// The manifest of this layer's zip, whose digests, sizes and file count are given.
    fn manifest(
        &self,
        sha256: String,
        code_sha256: String,
        zipped_bytes: u64,
        unzipped_bytes: u64,
        files: usize,
    ) -> Manifest {
        Manifest {
            name: self.name.clone(),
            output: self.output.clone(),
            runtimes: self
                .runtimes
                .iter()
                .map(|runtime| runtime.id.to_string())
                .collect(),
            architectures: self.architectures.clone(),
            sha256,
            code_sha256,
            zipped_bytes,
            unzipped_bytes,
            files,
        }
    }
}

/// What happened to one layer.
#[derive(serde::Serialize)]
struct Outcome {
    name: String,
    /// `written`, `unchanged` (inputs, zip and manifest as the last build left them: nothing
    /// was written) or `refused`.
    status: &'static str,
    manifest: Option<Manifest>,
    bytecode: BytecodeReport,
    findings: Vec<Finding>,
    /// What came from the build cache; `null` with `--no-cache`.
    cache: Option<CacheReport>,
}

pub(crate) fn run(args: &BuildArgs, out: &mut dyn Write) -> Result<i32, Error> {
    let timestamp = DosDateTime::from_env()?;
    archive::remove_temps_on_interrupt();
    // Before the walk: the walk's stat signatures are what the cache records and trusts.
    let started = cache::BuildStart::now();
    let (plans, settings, cache_max_size) = {
        let _span = timing::span("gather");
        plan(args)?
    };
    let multiple = plans.len() > 1;
    let cache = {
        let _span = timing::span("open cache");
        open_cache(args, cache_max_size, started)
    };
    let mut outcomes = Vec::new();
    for mut plan in plans {
        if args.list {
            bytecode::apply(
                &mut plan.gathered.inventory,
                plan.bytecode,
                plan.compile,
                &plan.runtimes,
            )?;
            list(out, &plan, args.ignored, multiple)?;
            continue;
        }
        if let Some(refused) = refuse_over_quota(&plan, timestamp, &settings, args.strict) {
            outcomes.push(refused);
            continue;
        }
        let mut session = cache.as_ref().map(|cache| {
            let _span = timing::span("stat inputs");
            let key = unchanged_key(&plan, timestamp, &settings, args.strict);
            cache.layer(
                key,
                &plan.output,
                &plan.gathered.inventory,
                &plan.gathered.signatures,
            )
        });
        let unchanged_outcome = {
            let _span = timing::span("unchanged check");
            session
                .as_mut()
                .and_then(|session| unchanged(&plan, session))
        };
        if let Some(outcome) = unchanged_outcome {
            outcomes.push(outcome);
            continue;
        }
        let bytecode = {
            let _span = timing::span("bytecode");
            bytecode::apply(
                &mut plan.gathered.inventory,
                plan.bytecode,
                plan.compile,
                &plan.runtimes,
            )?
        };
        outcomes.push(build_one(
            plan,
            bytecode,
            timestamp,
            &settings,
            args.strict,
            session.as_ref(),
        )?);
    }
    if let Some(cache) = &cache {
        let _span = timing::span("cache finish");
        cache.finish();
    }
    if args.list {
        return Ok(0);
    }
    match args.format {
        Format::Json => write_json(out, &serde_json::json!({ "layers": outcomes }))?,
        Format::Human => {
            for outcome in &outcomes {
                print_human(out, outcome)?;
            }
        }
    }
    let refused: Vec<&Outcome> = outcomes
        .iter()
        .filter(|outcome| outcome.status == "refused")
        .collect();
    if refused.is_empty() {
        return Ok(0);
    }
    let refusal = Refused {
        layer: refused
            .iter()
            .map(|outcome| outcome.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        errors: refused
            .iter()
            .map(|outcome| blocking(&outcome.findings, args.strict))
            .sum(),
    };
    // After everything on stdout, as for a tool error.
    out.flush()
        .map_err(|err| Error::write(Path::new("<stdout>"), err))?;
    eprintln!("{:?}", miette::Report::new(refusal));
    Ok(EXIT_FINDINGS)
}

/// Turns flags or `layer.toml` into plans, gathering each layer's files.
fn plan(args: &BuildArgs) -> Result<(Vec<Plan>, LintSettings, Option<u64>), Error> {
    if let Some(dir) = &args.dir {
        let runtimes = parse_runtimes(&args.runtimes)?;
        if runtimes.is_empty() {
            return Err(Error::usage(
                "`build --dir` needs at least one --runtime",
                Some(
                    "e.g. layerpack build --dir layer --runtime python3.12 --output layer.zip"
                        .to_string(),
                ),
            ));
        }
        let mut architectures = parse_archs(&args.archs)?;
        if architectures.is_empty() {
            architectures.push(Arch::X86_64);
        }
        let output = args
            .output
            .clone()
            .ok_or_else(|| Error::usage("`build --dir` needs --output ZIP", None))?;
        let name = output
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("layer")
            .to_string();
        let gathered = gather::gather_dir_for_output(dir, &output)?;
        let plan = Plan {
            name,
            runtimes,
            architectures,
            output,
            bytecode: BytecodeMode::default(),
            compile: false,
            budget: Budget::default(),
            gathered,
        };
        return Ok((vec![plan], LintSettings::default(), None));
    }
    if !args.runtimes.is_empty() || !args.archs.is_empty() || args.output.is_some() {
        return Err(Error::usage(
            "--runtime, --arch and --output go with --dir",
            Some(
                "for layers of layer.toml, set runtimes, architectures and output there"
                    .to_string(),
            ),
        ));
    }
    let Some(path) = config_path(args.config.as_deref()) else {
        return Err(Error::usage(
            "no layer.toml in this folder or any folder above it",
            Some(
                "run `layerpack init`, pass --config FILE, or pack a folder with --dir DIR --runtime R --output ZIP"
                    .to_string(),
            ),
        ));
    };
    let config = Config::load(&path)?;
    if config.layers.is_empty() {
        return Err(Error::usage(
            format!("{} declares no [layer.NAME]", config.path.display()),
            Some("see `layerpack init` for an example".to_string()),
        ));
    }
    let mut plans = Vec::new();
    for layer in config.select_layers(&args.names)? {
        plans.push(Plan {
            name: layer.name.clone(),
            runtimes: layer.runtimes.clone(),
            architectures: layer.architectures.clone(),
            output: layer.output.clone(),
            bytecode: layer.bytecode,
            compile: layer.compile,
            budget: layer.budget,
            gathered: gather::gather_layer(&config, layer)?,
        });
    }
    Ok((plans, config.lint.clone(), config.cache_max_size))
}

/// The build cache, unless `--no-cache`; a folder that cannot be made only costs speed.
fn open_cache(
    args: &BuildArgs,
    config_max_size: Option<u64>,
    started: cache::BuildStart,
) -> Option<Cache> {
    if args.no_cache || args.list {
        return None;
    }
    let dir = cache::default_dir(args.cache_dir.as_deref())?;
    let max_size = args
        .cache_max_size
        .map(|size| size.as_u64())
        .or(config_max_size)
        .unwrap_or(cache::DEFAULT_MAX_SIZE);
    Cache::open(dir, max_size, started)
}

/// Everything besides the files that decides a layer's zip and findings, as one key; `None`
/// (never `unchanged`) when a local interpreter compiles bytecode, since it is not tracked.
fn unchanged_key(
    plan: &Plan,
    timestamp: DosDateTime,
    settings: &LintSettings,
    strict: bool,
) -> Option<String> {
    if plan.compile {
        return None;
    }
    let output = std::path::absolute(&plan.output).ok()?;
    let runtimes: Vec<&str> = plan.runtimes.iter().map(|runtime| runtime.id).collect();
    let description = format!(
        "{:?}",
        (
            cache::binary_identity()?,
            archive::COMPRESSION_PROFILE,
            &plan.name,
            output,
            runtimes,
            &plan.architectures,
            plan.bytecode,
            plan.budget,
            settings,
            strict,
            timestamp,
        )
    );
    Some(cache::key_of(&description))
}

/// The outcome of the last build when the layer, its zip and its manifest are unchanged.
fn unchanged(plan: &Plan, session: &mut LayerSession<'_>) -> Option<Outcome> {
    let recorded = session.unchanged(&plan.output, &Manifest::path_for(&plan.output))?;
    let findings = recorded.findings()?;
    Some(Outcome {
        name: plan.name.clone(),
        status: "unchanged",
        manifest: Some(plan.manifest(
            recorded.sha256,
            recorded.code_sha256,
            recorded.zipped_bytes,
            recorded.unzipped_bytes,
            recorded.files,
        )),
        bytecode: recorded.bytecode,
        findings,
        cache: Some(session.report()),
    })
}

/// Enforces Lambda's unzipped quota from the walk alone: a layer whose files add up past it is
/// linted on their sizes and refused before a byte is read or compressed (unless `SIZE001` was
/// lowered below error in `[lint]`, in which case the build goes on as asked).
fn refuse_over_quota(
    plan: &Plan,
    timestamp: DosDateTime,
    settings: &LintSettings,
    strict: bool,
) -> Option<Outcome> {
    if plan.gathered.inventory.unzipped_bytes() <= crate::extract::UNZIPPED_QUOTA {
        return None;
    }
    let findings = rules::check_inventory(
        &plan.name,
        &plan.gathered.inventory,
        &plan.runtimes,
        &plan.architectures,
        plan.budget,
        timestamp.to_unix(),
        settings,
    );
    (blocking(&findings, strict) > 0).then(|| Outcome {
        name: plan.name.clone(),
        status: "refused",
        manifest: None,
        bytecode: BytecodeReport::default(),
        findings,
        cache: None,
    })
}

fn build_one(
    mut plan: Plan,
    bytecode: BytecodeReport,
    timestamp: DosDateTime,
    settings: &LintSettings,
    strict: bool,
    session: Option<&LayerSession<'_>>,
) -> Result<Outcome, Error> {
    let prepare = |plan: &Plan| -> Result<archive::PreparedZip, Error> {
        let _span = timing::span("compress");
        let bar = progress_bar(&plan.name, plan.gathered.inventory.unzipped_bytes());
        let files: &dyn archive::FileCompressor = match session {
            Some(session) => session,
            None => &archive::CompressEveryFile,
        };
        // Entries waiting to be written spool beside the output, on the file system that takes
        // the zip anyway (the system's temporary folder until the output's folder exists).
        let spool_dir = match plan.output.parent() {
            Some(parent) if parent.as_os_str().is_empty() => PathBuf::from("."),
            Some(parent) if parent.is_dir() => parent.to_path_buf(),
            _ => std::env::temp_dir(),
        };
        let prepared = archive::prepare_with_progress(
            &plan.gathered.inventory,
            timestamp,
            files,
            &spool_dir,
            &|bytes| bar.inc(bytes),
        );
        bar.finish_and_clear();
        prepared
    };
    let mut prepared = prepare(&plan)?;
    let zipped_bytes = prepared.zipped_bytes();
    plan.gathered.inventory.zipped_bytes = Some(zipped_bytes);
    // Lint what ships: the zip carries normalized modes, so a 0600 file on disk is no finding.
    for entry in plan.gathered.inventory.entries_mut() {
        entry.mode = Some(entry.normalized_mode());
    }
    let inventory = &plan.gathered.inventory;
    let lint = || {
        let _span = timing::span("lint");
        // Files whose content the cache knows are not read again: what inspecting that content
        // found is recalled from the cache.
        let findings = rules::check_inventory_recalling(
            &plan.name,
            inventory,
            &plan.runtimes,
            &plan.architectures,
            plan.budget,
            timestamp.to_unix(),
            settings,
            session.map(|session| session as &dyn InspectionMemory),
        );
        if let Some(session) = session {
            let (recalled, kept) = session.inspection_counts();
            timing::count("lint: files recalled", recalled);
            timing::count("lint: files read and kept", kept);
        }
        findings
    };
    // Lint runs while the zip is written and synced beside the output; the zip replaces the
    // output only once lint has passed. Where the output's folder does not exist yet, lint runs
    // first, so that a refused layer creates no folder either.
    let output_folder_exists = match plan.output.parent() {
        Some(parent) => parent.as_os_str().is_empty() || parent.is_dir(),
        None => true,
    };
    let manifest_path = Manifest::path_for(&plan.output);
    let linted_and_written = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        if output_folder_exists {
            scope.spawn(move || {
                let _ = sender.send(lint());
            });
        } else {
            let _ = sender.send(lint());
        }
        let linted: std::cell::OnceCell<Option<Vec<Finding>>> = std::cell::OnceCell::new();
        // `None` only when lint panicked; the scope then carries the panic on.
        let findings = || linted.get_or_init(|| receiver.recv().ok()).as_ref();
        let refused = || findings().is_some_and(|found| blocking(found, strict) > 0);
        // The manifest describes the bytes written, and is replaced together with the zip.
        let manifest_of = |prepared: &archive::PreparedZip, written: &archive::Written| {
            plan.manifest(
                written.digests.sha256.clone(),
                written.digests.code_sha256.clone(),
                written.zipped_bytes,
                prepared.unzipped_bytes(),
                prepared.file_count(),
            )
        };
        let mut manifest_bytes = Vec::new();
        let write_span = timing::span("write zip");
        let mut write = |prepared: &archive::PreparedZip| {
            archive::write_zip_and_manifest(prepared, &plan.output, &manifest_path, |written| {
                // Called once the zip is written beside the output, before it replaces it.
                if findings().is_none() || refused() {
                    return Err(std::io::Error::other("the layer was refused"));
                }
                let mut bytes = serde_json::to_vec_pretty(&manifest_of(prepared, written))
                    .map_err(std::io::Error::other)?;
                bytes.push(b'\n');
                manifest_bytes.clone_from(&bytes);
                Ok(bytes)
            })
        };
        if !output_folder_exists && refused() {
            return Ok(Err(findings().cloned().unwrap_or_default()));
        }
        let first = write(&prepared);
        // A refusal wins over any error of writing, as when lint ran first.
        if refused() {
            return Ok(Err(findings().cloned().unwrap_or_default()));
        }
        let written = match (first, session) {
            (Ok(written), _) => written,
            // Bytes reused from the previous zip or the cache were damaged (nothing was
            // written): prepare again, checking every reused entry before it is used. The
            // compressed bytes, hence the zip's size that lint saw, are the same.
            (Err(_), Some(session)) if prepared.found_damage() => {
                session.check_reused_up_front();
                prepared = prepare(&plan)?;
                write(&prepared)?
            }
            (Err(err), _) => return Err(err),
        };
        drop(write_span);
        let manifest = manifest_of(&prepared, &written);
        let findings = findings().cloned().unwrap_or_default();
        Ok(Ok((written, manifest, manifest_bytes, findings)))
    })?;
    let (written, manifest, manifest_bytes, findings) = match linted_and_written {
        Ok(done) => done,
        Err(findings) => {
            return Ok(Outcome {
                name: plan.name,
                status: "refused",
                manifest: None,
                bytecode,
                findings,
                cache: session.map(LayerSession::report),
            });
        }
    };
    if let Some(session) = session {
        let _span = timing::span("record");
        session.record(
            &plan.output,
            &manifest_bytes,
            RecordedOutcome::new(
                &written.digests,
                written.zipped_bytes,
                manifest.unzipped_bytes,
                manifest.files,
                &bytecode,
                &findings,
            ),
            &prepared.checked_crcs(),
        );
    }
    Ok(Outcome {
        name: plan.name,
        status: "written",
        manifest: Some(manifest),
        bytecode,
        findings,
        cache: session.map(LayerSession::report),
    })
}

/// A progress bar on a terminal for layers big enough to wait for; hidden in CI and in pipes.
fn progress_bar(name: &str, total_bytes: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let visible = std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && total_bytes > 32 * 1024 * 1024;
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total_bytes);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} compressing {bar:30} {binary_bytes}/{binary_total_bytes} {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(name.to_string());
    bar
}

/// How many findings stop the build: errors, and warnings too under `--strict`.
fn blocking(findings: &[Finding], strict: bool) -> usize {
    Counts::of(findings).blocking(strict)
}

/// Said on stderr after the output when layers are refused; the exit status is then
/// [`EXIT_FINDINGS`], as for `check` with failing findings.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{layer}: {errors} error-level finding(s); no zip was written")]
#[diagnostic(
    code(layerpack::findings),
    help("fix the findings above, or lower their severity in [lint] of layer.toml")
)]
struct Refused {
    layer: String,
    errors: usize,
}

fn print_human(out: &mut dyn Write, outcome: &Outcome) -> Result<(), Error> {
    if !outcome.findings.is_empty() {
        let counts = Counts::of(&outcome.findings);
        let summary = Summary {
            errors: counts.errors,
            warnings: counts.warnings,
            infos: counts.infos,
            files: outcome
                .manifest
                .as_ref()
                .map_or(0, |manifest| manifest.files),
            unzipped_bytes: outcome
                .manifest
                .as_ref()
                .map_or(0, |manifest| manifest.unzipped_bytes),
        };
        report::write_findings(out, CheckFormat::Human, &outcome.findings, &summary)?;
    }
    let Some(manifest) = &outcome.manifest else {
        return write_out(
            out,
            &format!("{}: not written (see the findings above)\n", outcome.name),
        );
    };
    let mut text = format!(
        "{}  {}\n  {} {}, {} unzipped, {} zipped\n  CodeSha256 {}\n",
        manifest.name,
        manifest.output.display(),
        manifest.files,
        if manifest.files == 1 { "file" } else { "files" },
        crate::units::size_then_bytes(manifest.unzipped_bytes),
        crate::units::size_then_bytes(manifest.zipped_bytes),
        manifest.code_sha256,
    );
    match (&outcome.cache, outcome.status) {
        (Some(_), "unchanged") => {
            text.push_str("  unchanged: inputs, zip and manifest are as the last build left them; nothing written\n");
        }
        (Some(cache), _) => {
            let entries = cache.from_cache + cache.compressed;
            let from_zip = if cache.from_previous_zip > 0 {
                format!(
                    " ({} copied from the previous zip)",
                    crate::units::group_digits(cache.from_previous_zip as u64)
                )
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  cache: {} of {} {} from the cache{from_zip}, {} compressed\n",
                crate::units::group_digits(cache.from_cache as u64),
                crate::units::group_digits(entries as u64),
                if entries == 1 { "file" } else { "files" },
                crate::units::group_digits(cache.compressed as u64),
            ));
        }
        (None, _) => {}
    }
    let report = &outcome.bytecode;
    if report.converted + report.compiled + report.dropped.len() + report.not_compiled.len() > 0 {
        text.push_str(&format!(
            "  bytecode: {} pyc made hash-based, {} compiled, {} dropped (see --format json)\n",
            report.converted,
            report.compiled,
            report.dropped.len()
        ));
    }
    for source in &report.not_compiled {
        text.push_str(&format!(
            "  not compiled: {}: {}\n",
            source.path, source.reason
        ));
    }
    write_out(out, &text)
}

/// `build --list`: the archive paths that go in, or with `--ignored` what was left out and why.
fn list(out: &mut dyn Write, plan: &Plan, ignored: bool, multiple: bool) -> Result<(), Error> {
    let mut text = String::new();
    if multiple {
        text.push_str(&format!("# {}\n", plan.name));
    }
    if ignored {
        for left_out in &plan.gathered.ignored {
            text.push_str(&format!(
                "{}\t{}:{}: {}\n",
                report::escape_controls(&left_out.path),
                display_relative(&left_out.source),
                left_out.line,
                left_out.pattern
            ));
        }
    } else {
        for entry in plan.gathered.inventory.entries() {
            text.push_str(&report::escape_controls(entry.path.as_str()));
            if entry.is_dir() {
                text.push('/');
            }
            text.push('\n');
        }
    }
    write_out(out, &text)
}

fn display_relative(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
