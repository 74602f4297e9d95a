//! The gather stage: walks each source folder and maps its files to archive paths.
//!
//! This is where files on disk become an [`Inventory`]: ignore patterns are applied while walking
//! (an ignored folder is never entered), symlinks are kept only when they stay inside the layer,
//! and two sources that put different bytes at one archive path are refused instead of letting
//! one silently win. Every folder is read once and its entries are stat'ed relative to it (no
//! path lookup from the root per file); subfolders are walked in parallel, and the inventory
//! sorts the result, so file-system order and thread timing never reach the output. The stat
//! signature of each file is kept for the build cache, so a build stats every input once.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
    let mut walked: Vec<(Walked, usize)> = Vec::new();
    let mut ignored = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let part = walk_source(source, layer_matchers, excluded)?;
        ignored.extend(part.ignored);
        walked.extend(part.entries.into_iter().map(|file| (file, index)));
    }
    // By path; a stable sort keeps the first source's entry of a path first.
    walked.sort_by(|(a, _), (b, _)| a.entry.path.cmp(&b.entry.path));
    let mut entries: Vec<Entry> = Vec::with_capacity(walked.len());
    let mut walked_signatures: Vec<Option<Signature>> = Vec::with_capacity(walked.len());
    let mut first_source = 0;
    for (file, index) in walked {
        if let Some(existing) = entries.last()
            && existing.path == file.entry.path
        {
            check_same(
                existing,
                &sources[first_source],
                &file.entry,
                &sources[index],
            )?;
            continue;
        }
        entries.push(file.entry);
        walked_signatures.push(file.signature);
        first_source = index;
    }
    ignored.sort_by(|a: &Ignored, b: &Ignored| a.path.cmp(&b.path));
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

/// Walks one source: every folder is read once, its entries stat'ed relative to it, and its
/// subfolders walked in parallel.
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
    let parts = walker.walk_folder(root, "")?;
    let mut walked = WalkedSource {
        entries: Vec::with_capacity(parts.iter().map(|part| part.entries.len()).sum()),
        ignored: Vec::new(),
    };
    for part in parts {
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

/// A folder the walk goes into: its path on disk and relative to the source root.
type Folder = (PathBuf, String);

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

    /// Walks the folder `dir` (at `relative` in the source, `""` for its root): its entries in
    /// name order (so that the first problem reported does not depend on the file system's
    /// order), then its subfolders in parallel. Each folder's findings come back as one part,
    /// so that nothing is copied on the way up.
    fn walk_folder(&self, dir: &Path, relative: &str) -> Result<Vec<WalkedSource>, Error> {
        let mut children: Vec<(std::ffi::OsString, fs::DirEntry)> = fs::read_dir(dir)
            .and_then(|children| {
                children
                    .map(|child| child.map(|child| (child.file_name(), child)))
                    .collect()
            })
            .map_err(|err| Error::read(dir, err))?;
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut own = WalkedSource {
            entries: Vec::with_capacity(children.len()),
            ignored: Vec::new(),
        };
        let mut folders = Vec::new();
        for (name, child) in &children {
            if let Some(folder) = self.visit(name, child, relative, &mut own)? {
                folders.push(folder);
            }
        }
        drop(children);
        let below: Vec<Result<Vec<WalkedSource>, Error>> = folders
            .par_iter()
            .map(|(path, relative)| self.walk_folder(path, relative))
            .collect();
        let mut parts = vec![own];
        for part in below {
            parts.extend(part?);
        }
        Ok(parts)
    }

    /// Looks at one entry of a folder at `relative`: leaves it out, or adds it to `walked`.
    /// Returns the folder to walk into, if it is one (symlinks are never followed).
    fn visit(
        &self,
        name: &std::ffi::OsStr,
        child: &fs::DirEntry,
        relative: &str,
        walked: &mut WalkedSource,
    ) -> Result<Option<Folder>, Error> {
        let path = child.path();
        let file_type = child.file_type().map_err(|err| Error::read(&path, err))?;
        let is_dir = file_type.is_dir();
        let texts = name.to_str().map(|name| {
            let relative = match relative.is_empty() {
                true => name.to_string(),
                false => format!("{relative}/{name}"),
            };
            let archive = join_archive(&self.source.into, &relative);
            (relative, archive)
        });
        if let Some((relative, archive)) = &texts
            && let Some(left_out) = self.decide(relative, archive, is_dir)
        {
            walked.ignored.push(left_out);
            return Ok(None);
        }
        let excluded = !self.excluded.is_empty()
            && path
                .strip_prefix(&self.source.path)
                .is_ok_and(|relative| self.excluded.iter().any(|excluded| excluded == relative));
        // A build's temporary output (possibly left by a killed build) is never packed; like an
        // excluded path, it is left out, but a folder of that name is still walked.
        if excluded || is_layerpack_temp(name) {
            return Ok(match (is_dir, texts) {
                (true, Some((relative, _))) => Some((path, relative)),
                _ => None,
            });
        }
        let Some((relative, archive_text)) = texts else {
            return Err(Error::input(
                format!("{} has a name that is not UTF-8", path.display()),
                Some("rename it; zip names in a layer must be UTF-8".to_string()),
            ));
        };
        let archive_path = ArchivePath::new(&archive_text).map_err(|reason| {
            Error::input(
                format!(
                    "{} cannot go into a layer: {}",
                    path.display(),
                    reason.describe()
                ),
                Some("rename the file, or leave it out with a .layerignore pattern".to_string()),
            )
        })?;
        crate::extract::check_path_limits(archive_path.as_str())
            .map_err(|reason| crate::archive::path_too_long(&path, &reason))?;
        // Without following a symlink, and relative to the open folder (no path lookup).
        let metadata = child.metadata().map_err(|err| Error::read(&path, err))?;
        let file_type = metadata.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            EntryKind::File
        } else if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(|err| Error::read(&path, err))?;
            let target = target.to_str().ok_or_else(|| {
                Error::input(
                    format!("symlink {} has a target that is not UTF-8", path.display()),
                    None,
                )
            })?;
            check_symlink_stays_inside(&path, &archive_path, target)?;
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
        // A regular file's: what reading the path gives, as the build cache records it.
        let signature = match kind {
            EntryKind::File => Some(Signature::of(&metadata)),
            _ => None,
        };
        let (content, folder) = match (&kind, is_dir) {
            (EntryKind::Dir, true) => (Content::None, Some((path, relative))),
            (EntryKind::Dir, false) => (Content::None, None),
            _ => (Content::Disk(path), None),
        };
        walked.entries.push(Walked {
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
        Ok(folder)
    }
}

/// True for the name of a temporary file of layerpack's own (`.layerpack-*.tmp`).
pub(crate) fn is_layerpack_temp(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.starts_with(".layerpack-") && name.ends_with(".tmp"))
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
