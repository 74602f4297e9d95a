//! The gather stage: walks each source folder and maps its files to archive paths.
//!
//! This is where files on disk become an [`Inventory`]: ignore patterns are applied while walking
//! (an ignored folder is never entered), symlinks are kept only when they stay inside the layer,
//! and two sources that put different bytes at one archive path are refused instead of letting
//! one silently win. The walk runs in parallel over the top-level folders of each source; the
//! inventory sorts the result, so file-system order never reaches the output.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::config::{Config, LayerConfig, SourceConfig};
use crate::error::Error;
use crate::files::Signature;
use crate::ignore::{self, Decision, Matcher};
use crate::inventory::{
    ArchivePath, Content, Entry, EntryKind, Inventory, Origin, symlink_target_in_layer,
};

/// What a gather produced: the inventory, and what the ignore rules left out.
#[derive(Debug)]
pub struct Gathered {
    pub inventory: Inventory,
    /// Paths left out, sorted, with the pattern that excluded each (for `build --list --ignored`).
    pub(crate) ignored: Vec<Ignored>,
    /// The stat signature the walk took of each regular file, by index of the inventory's
    /// entries as gathered (`None` for folders, symlinks and implied folders), so that the
    /// build cache does not stat every input again.
    pub(crate) signatures: Vec<Option<Signature>>,
}

/// A path left out of the layer and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Ignored {
    /// Where it would have gone in the layer (folders end with `/`).
    pub(crate) path: String,
    /// The file the pattern came from (`<default>` for built-in defaults).
    pub(crate) source: PathBuf,
    pub(crate) line: usize,
    pub(crate) pattern: String,
}

/// Gathers a folder that is already laid out as a layer, applying the default ignores, its
/// `.layerignore`, and `extra` patterns.
pub fn gather_dir(dir: &Path, extra: &[String]) -> Result<Gathered, Error> {
    gather_dir_excluding(dir, extra, &[])
}

/// Gathers a folder for `build --dir`: like [`gather_dir`], and never packs the zip being built
/// or its manifest when `output` lies inside the folder (as config mode does).
pub(crate) fn gather_dir_for_output(dir: &Path, output: &Path) -> Result<Gathered, Error> {
    let output = lexical_absolute(output);
    let excluded = [output.clone(), crate::manifest::Manifest::path_for(&output)];
    gather_dir_excluding(dir, &[], &excluded)
}

fn gather_dir_excluding(
    dir: &Path,
    extra: &[String],
    excluded: &[PathBuf],
) -> Result<Gathered, Error> {
    let layer_matchers = vec![
        Matcher::from_list(Path::new("--ignore"), extra)?,
        Matcher::defaults(),
    ];
    let sources = [SourceConfig {
        path: dir.to_path_buf(),
        into: String::new(),
    }];
    gather(
        Origin::Directory(dir.to_path_buf()),
        &sources,
        &layer_matchers,
        excluded,
    )
}

/// Gathers a layer declared in `layer.toml` from its sources.
pub(crate) fn gather_layer(config: &Config, layer: &LayerConfig) -> Result<Gathered, Error> {
    let layer_matchers = vec![
        Matcher::from_list(&config.path, &layer.ignore)?,
        Matcher::from_file(&config.dir.join(ignore::FILE_NAME))?,
        Matcher::defaults(),
    ];
    if layer.sources.is_empty() {
        return Err(Error::input(
            format!(
                "layer `{}` in {} has no [[layer.{}.source]]",
                layer.name,
                config.path.display(),
                layer.name
            ),
            Some("add a source: path = \"folder\", into = \"python\"".to_string()),
        ));
    }
    // Never pack the layer's own zip or manifest when a source contains the output folder.
    let output = lexical_absolute(&layer.output);
    let excluded = [output.clone(), crate::manifest::Manifest::path_for(&output)];
    gather(
        Origin::Sources {
            config: config.path.clone(),
            layer: layer.name.clone(),
        },
        &layer.sources,
        &layer_matchers,
        &excluded,
    )
}

fn gather(
    origin: Origin,
    sources: &[SourceConfig],
    layer_matchers: &[Matcher],
    excluded: &[PathBuf],
) -> Result<Gathered, Error> {
    let mut by_path: BTreeMap<ArchivePath, (Walked, usize)> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let walked = walk_source(source, layer_matchers, excluded)?;
        ignored.extend(walked.ignored);
        for file in walked.entries {
            match by_path.get(&file.entry.path) {
                None => {
                    by_path.insert(file.entry.path.clone(), (file, index));
                }
                Some((existing, existing_index)) => {
                    check_same(
                        &existing.entry,
                        &sources[*existing_index],
                        &file.entry,
                        source,
                    )?;
                }
            }
        }
    }
    ignored.sort_by(|a: &Ignored, b: &Ignored| a.path.cmp(&b.path));
    let (entries, walked_signatures): (Vec<Entry>, Vec<Option<Signature>>) = by_path
        .into_values()
        .map(|(file, _)| (file.entry, file.signature))
        .unzip();
    let inventory = Inventory::new(origin, entries);
    // The inventory keeps the (sorted, unique) entries in order and adds the folders they imply.
    let mut walked_signatures = walked_signatures.into_iter();
    let signatures = inventory
        .entries()
        .iter()
        .map(|entry| match entry.implied {
            true => None,
            false => walked_signatures.next().flatten(),
        })
        .collect();
    Ok(Gathered {
        inventory,
        ignored,
        signatures,
    })
}

/// An entry as the walk found it, with the stat signature of a regular file.
struct Walked {
    entry: Entry,
    signature: Option<Signature>,
}

/// What the walk of a source or of one of its subtrees found.
struct WalkedSource {
    entries: Vec<Walked>,
    ignored: Vec<Ignored>,
}

/// Walks one source: its root's children in parallel, each subtree with walkdir.
fn walk_source(
    source: &SourceConfig,
    layer_matchers: &[Matcher],
    excluded: &[PathBuf],
) -> Result<WalkedSource, Error> {
    let root = &source.path;
    let metadata = fs::metadata(root).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                format!("source folder {} does not exist", root.display()),
                Some("create it, or fix `path` of this source in layer.toml".to_string()),
            )
        } else {
            Error::read(root, err)
        }
    })?;
    if !metadata.is_dir() {
        return Err(Error::input(
            format!("source {} is not a folder", root.display()),
            Some("a source `path` names a folder whose contents go into the layer".to_string()),
        ));
    }
    let source_matcher = Matcher::from_file(&root.join(ignore::FILE_NAME))?;
    // Excluded paths inside the source, relative to its root: compared with each walked path's
    // own relative path, no path is made absolute per file.
    let absolute_root = lexical_absolute(root);
    let walker = SourceWalker {
        source,
        source_matcher: &source_matcher,
        layer_matchers,
        excluded: excluded
            .iter()
            .filter_map(|path| {
                let path = lexical_absolute(path);
                Some(path.strip_prefix(&absolute_root).ok()?.to_path_buf())
            })
            .collect(),
    };
    let mut children: Vec<PathBuf> = fs::read_dir(root)
        .map_err(|err| Error::read(root, err))?
        .map(|child| child.map(|child| child.path()))
        .collect::<Result<_, _>>()
        .map_err(|err| Error::read(root, err))?;
    children.sort();
    let results: Vec<Result<WalkedSource, Error>> = children
        .par_iter()
        .map(|child| walker.walk(child))
        .collect();
    let mut walked = WalkedSource {
        entries: Vec::new(),
        ignored: Vec::new(),
    };
    for result in results {
        let part = result?;
        walked.entries.extend(part.entries);
        walked.ignored.extend(part.ignored);
    }
    Ok(walked)
}

struct SourceWalker<'a> {
    source: &'a SourceConfig,
    source_matcher: &'a Matcher,
    layer_matchers: &'a [Matcher],
    /// Paths never packed (the zip being built and its manifest), relative to the source root.
    excluded: Vec<PathBuf>,
}

impl SourceWalker<'_> {
    /// Decides whether a path is left out: the source's own `.layerignore` first (paths relative
    /// to the source root), then the layer-level matchers (archive paths).
    fn decide(&self, relative: &str, archive: &str, is_dir: bool) -> Option<Ignored> {
        let mut decisions = std::iter::once(self.source_matcher.decide(relative, is_dir)).chain(
            self.layer_matchers
                .iter()
                .map(|matcher| matcher.decide(archive, is_dir)),
        );
        match decisions.find(|decision| *decision != Decision::None) {
            Some(Decision::Ignore(origin)) => Some(Ignored {
                path: if is_dir {
                    format!("{archive}/")
                } else {
                    archive.to_string()
                },
                source: origin.file.clone(),
                line: origin.line,
                pattern: origin.text.clone(),
            }),
            _ => None,
        }
    }

    fn walk(&self, top: &Path) -> Result<WalkedSource, Error> {
        let ignored = Mutex::new(Vec::new());
        let mut entries = Vec::new();
        let root = &self.source.path;
        let iter = walkdir::WalkDir::new(top)
            .follow_links(false)
            .into_iter()
            .filter_entry(|dir_entry| {
                let Ok(relative) = relative_text(root, dir_entry.path()) else {
                    return true; // reported below, where the error can be returned
                };
                let archive = join_archive(&self.source.into, &relative);
                match self.decide(&relative, &archive, dir_entry.file_type().is_dir()) {
                    Some(left_out) => {
                        if let Ok(mut list) = ignored.lock() {
                            list.push(left_out);
                        }
                        false
                    }
                    None => true,
                }
            });
        for item in iter {
            let dir_entry = item.map_err(|err| {
                let path = err.path().unwrap_or(top).to_path_buf();
                match err.into_io_error() {
                    Some(io) => Error::read(&path, io),
                    None => Error::input(
                        format!("cannot walk {}: file system loop", path.display()),
                        None,
                    ),
                }
            })?;
            let path = dir_entry.path();
            if !self.excluded.is_empty()
                && let Ok(relative) = path.strip_prefix(root)
                && self.excluded.iter().any(|excluded| excluded == relative)
            {
                continue;
            }
            // A build's temporary output (possibly left by a killed build) is never packed.
            if is_layerpack_temp(dir_entry.file_name()) {
                continue;
            }
            let relative = relative_text(root, path)?;
            let archive_text = join_archive(&self.source.into, &relative);
            let archive_path = ArchivePath::new(&archive_text).map_err(|reason| {
                Error::input(
                    format!(
                        "{} cannot go into a layer: {}",
                        path.display(),
                        reason.describe()
                    ),
                    Some(
                        "rename the file, or leave it out with a .layerignore pattern".to_string(),
                    ),
                )
            })?;
            crate::extract::check_path_limits(archive_path.as_str())
                .map_err(|reason| crate::archive::path_too_long(path, &reason))?;
            let metadata = dir_entry.metadata().map_err(|err| {
                Error::read(
                    path,
                    err.into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("cannot stat")),
                )
            })?;
            let file_type = metadata.file_type();
            let kind = if file_type.is_dir() {
                EntryKind::Dir
            } else if file_type.is_file() {
                EntryKind::File
            } else if file_type.is_symlink() {
                let target = fs::read_link(path).map_err(|err| Error::read(path, err))?;
                let target = target.to_str().ok_or_else(|| {
                    Error::input(
                        format!("symlink {} has a target that is not UTF-8", path.display()),
                        None,
                    )
                })?;
                check_symlink_stays_inside(path, &archive_path, target)?;
                EntryKind::Symlink {
                    target: target.to_string(),
                }
            } else {
                return Err(Error::input(
                    format!(
                        "{} is not a file, folder or symlink (a socket, FIFO or device)",
                        path.display()
                    ),
                    Some("leave it out with a .layerignore pattern".to_string()),
                ));
            };
            let size = match &kind {
                EntryKind::File => metadata.len(),
                EntryKind::Symlink { target } => target.len() as u64,
                EntryKind::Dir => 0,
            };
            let content = match kind {
                EntryKind::Dir => Content::None,
                _ => Content::Disk(path.to_path_buf()),
            };
            // A regular file's, or the target's of a symlink the walk followed (a top-level
            // one): the metadata describes what reading the path gives.
            let signature = match kind {
                EntryKind::File => Some(Signature::of(&metadata)),
                _ => None,
            };
            entries.push(Walked {
                entry: Entry {
                    path: archive_path,
                    kind,
                    mode: Some(metadata.permissions().mode() & 0o7777),
                    size,
                    mtime: Some(metadata.mtime()),
                    content,
                    implied: false,
                },
                signature,
            });
        }
        Ok(WalkedSource {
            entries,
            ignored: ignored.into_inner().unwrap_or_default(),
        })
    }
}

/// True for the name of a temporary file of layerpack's own (`.layerpack-*.tmp`).
pub(crate) fn is_layerpack_temp(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.starts_with(".layerpack-") && name.ends_with(".tmp"))
}

/// `path` relative to `root`, `/`-separated, as UTF-8.
fn relative_text(root: &Path, path: &Path) -> Result<String, Error> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let text = relative.to_str().ok_or_else(|| {
        Error::input(
            format!("{} has a name that is not UTF-8", path.display()),
            Some("rename it; zip names in a layer must be UTF-8".to_string()),
        )
    })?;
    Ok(text.to_string())
}

fn join_archive(into: &str, relative: &str) -> String {
    match (into.is_empty(), relative.is_empty()) {
        (true, _) => relative.to_string(),
        (false, true) => into.to_string(),
        (false, false) => format!("{into}/{relative}"),
    }
}

/// Refuses a symlink whose target, resolved from the link's folder in the layer, lands outside
/// the layer. Absolute targets inside `/opt/` are where the layer is extracted, so they stay.
fn check_symlink_stays_inside(
    link: &Path,
    archive: &ArchivePath,
    target: &str,
) -> Result<(), Error> {
    if symlink_target_in_layer(archive, target).is_none() {
        return Err(Error::input(
            format!(
                "symlink {} points outside the layer (to `{target}`)",
                link.display()
            ),
            Some(
                "replace the link with the file it points to, or leave it out with a .layerignore pattern"
                    .to_string(),
            ),
        ));
    }
    Ok(())
}

/// Two sources put something at the same archive path: fine when identical, else an error.
fn check_same(
    first: &Entry,
    first_source: &SourceConfig,
    second: &Entry,
    second_source: &SourceConfig,
) -> Result<(), Error> {
    let same = match (&first.kind, &second.kind) {
        (EntryKind::Dir, EntryKind::Dir) => true,
        (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) => a == b,
        (EntryKind::File, EntryKind::File) => {
            first.size == second.size && same_bytes(first, second)?
        }
        _ => false,
    };
    if same {
        return Ok(());
    }
    let describe = |entry: &Entry, source: &SourceConfig| match &entry.content {
        Content::Disk(path) => path.display().to_string(),
        _ => source.path.display().to_string(),
    };
    Err(Error::input(
        format!(
            "two sources put different content at `{}`: {} and {}",
            first.path,
            describe(first, first_source),
            describe(second, second_source)
        ),
        Some("leave one of them out with `ignore`, or change a source's `into`".to_string()),
    ))
}

fn same_bytes(first: &Entry, second: &Entry) -> Result<bool, Error> {
    let (Content::Disk(a), Content::Disk(b)) = (&first.content, &second.content) else {
        return Ok(false);
    };
    let a_file = crate::files::open_regular(a).map_err(|err| Error::read(a, err))?;
    let b_file = crate::files::open_regular(b).map_err(|err| Error::read(b, err))?;
    let mut a_bytes = std::io::BufReader::new(a_file).bytes();
    let mut b_bytes = std::io::BufReader::new(b_file).bytes();
    loop {
        match (a_bytes.next(), b_bytes.next()) {
            (None, None) => return Ok(true),
            (Some(Ok(x)), Some(Ok(y))) if x == y => {}
            (Some(Err(err)), _) => return Err(Error::read(a, err)),
            (_, Some(Err(err))) => return Err(Error::read(b, err)),
            _ => return Ok(false),
        }
    }
}

/// An absolute path without touching the file system (no symlink resolution).
fn lexical_absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
