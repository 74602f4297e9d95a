//! The merged view of a function on Lambda: its code at `/var/task` and its layers extracted
//! into `/opt` one after the other.
//!
//! Nothing is extracted: a lookup of an absolute path asks the function's inventory or the
//! layers' inventories, the last attached layer first, because a later layer's file at the same
//! path replaces an earlier one's. Every hit remembers which layer it came from and which layers
//! it replaced, so `why` can say "this file is layer B's; layer A's copy was overwritten".

use std::path::Path;

use crate::config::Config;
use crate::error::Error;
use crate::facts::environment::{LAYER_ROOT, TASK_ROOT};
use crate::inventory::{Entry, EntryKind, Inventory};
use crate::layer::OpenedLayer;

/// Where a file of the merged view comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The function's code, at `/var/task`.
    Function,
    /// The layer at this index of the attachment order, in `/opt`.
    Layer(usize),
}

/// A file (or symlink) found at an absolute path.
#[derive(Clone, Debug)]
pub(crate) struct Hit<'a> {
    pub(crate) source: Source,
    pub(crate) entry: &'a Entry,
    /// Earlier layers whose file at the same path this one replaced, in attachment order.
    pub(crate) replaced: Vec<usize>,
}

/// The function's code and its layers, in attachment order.
pub struct MergedView {
    pub(crate) function: Option<OpenedLayer>,
    pub layers: Vec<OpenedLayer>,
    /// Symlinks met in a loop while looking paths up, as absolute paths.
    loops: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Linux's limit on symlinks followed in one lookup (`ELOOP` beyond it).
const MAX_SYMLINK_HOPS: usize = 40;

/// The root an absolute path falls in, with the path relative to it.
enum Root<'p> {
    Function(&'p str),
    Layers(&'p str),
    /// Outside the function and the layers: the OS or the runtime's own files.
    Elsewhere,
}

fn split(abs: &str) -> Root<'_> {
    let below = |root: &str| -> Option<&str> {
        let rest = abs.strip_prefix(root)?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('/')
                .map(|rest| rest.trim_end_matches('/'))
        }
    };
    if let Some(rest) = below(TASK_ROOT) {
        Root::Function(rest)
    } else if let Some(rest) = below(LAYER_ROOT) {
        Root::Layers(rest)
    } else {
        Root::Elsewhere
    }
}

impl MergedView {
    /// Opens the function's code (a zip or a folder) and each layer (a zip, a folder, or a layer
    /// name of `config`), in attachment order.
    pub fn open(
        function: Option<&Path>,
        layers: &[String],
        config: Option<&Config>,
    ) -> Result<MergedView, Error> {
        let function = function.map(OpenedLayer::open_path).transpose()?;
        let layers = layers
            .iter()
            .map(|spec| OpenedLayer::open(spec, config))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(MergedView::new(function, layers))
    }

    /// A view over already opened code and layers.
    pub(crate) fn new(function: Option<OpenedLayer>, layers: Vec<OpenedLayer>) -> MergedView {
        MergedView {
            function,
            layers,
            loops: Default::default(),
        }
    }

    /// The symlinks met in a loop so far (`ELOOP` on Lambda), sorted.
    pub(crate) fn symlink_loops(&self) -> Vec<String> {
        self.loops
            .lock()
            .map(|loops| loops.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The entry at `abs` itself, without following links: the function's, or the last layer's
    /// that has one (what extraction into `/opt` leaves there).
    fn raw_entry(&self, abs: &str) -> Option<&Entry> {
        match split(abs) {
            Root::Function(rel) => self.function.as_ref()?.inventory.get(rel),
            Root::Layers(rel) => self
                .layers
                .iter()
                .rev()
                .find_map(|layer| layer.inventory.get(rel)),
            Root::Elsewhere => None,
        }
    }

    /// Resolves `abs` through the symlinks of the merged view as the kernel would: every
    /// component that is a link is replaced by its target (relative to the link's folder), up
    /// to 40 links. `None` on a loop, which is remembered for [`MergedView::symlink_loops`].
    pub(crate) fn resolve_links(&self, abs: &str) -> Option<String> {
        let mut pending: std::collections::VecDeque<String> =
            abs.split('/').map(str::to_string).collect();
        let mut current = String::from("/");
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    current = normalize(&join(&current, ".."));
                    continue;
                }
                _ => {}
            }
            let candidate = join(&current, &part);
            let target = match self.raw_entry(&candidate).map(|entry| &entry.kind) {
                Some(EntryKind::Symlink { target }) => target.clone(),
                _ => {
                    current = candidate;
                    continue;
                }
            };
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                if let Ok(mut loops) = self.loops.lock() {
                    loops.insert(normalize(abs));
                }
                return None;
            }
            let target = if target.starts_with('/') {
                target
            } else {
                join(&current, &target)
            };
            for (index, piece) in target.split('/').enumerate() {
                pending.insert(index, piece.to_string());
            }
            current = String::from("/");
        }
        Some(current)
    }

    /// True when `abs` lies in the function's code or in `/opt`: what this view can answer.
    pub(crate) fn models(&self, abs: &str) -> bool {
        !matches!(split(abs), Root::Elsewhere)
    }

    /// The inventory a source's files are in.
    pub(crate) fn inventory(&self, source: Source) -> Option<&Inventory> {
        match source {
            Source::Function => self.function.as_ref().map(|opened| &opened.inventory),
            Source::Layer(index) => self.layers.get(index).map(|opened| &opened.inventory),
        }
    }

    /// A source's name in messages: `function code`, or the layer's name or path.
    pub(crate) fn source_name(&self, source: Source) -> String {
        match source {
            Source::Function => "function code".to_string(),
            Source::Layer(index) => self.layers.get(index).map_or_else(
                || format!("layer {}", index + 1),
                |layer| layer.name.clone(),
            ),
        }
    }

    /// The absolute path of a source's archive path.
    pub fn absolute(source: Source, path: &str) -> String {
        let root = match source {
            Source::Function => TASK_ROOT,
            Source::Layer(_) => LAYER_ROOT,
        };
        if path.is_empty() {
            root.to_string()
        } else {
            format!("{root}/{path}")
        }
    }

    /// The file at `abs` as the runtime would see it (the last layer's wins), symlinks followed.
    pub(crate) fn file(&self, abs: &str) -> Option<Hit<'_>> {
        let resolved = self.resolve_links(abs)?;
        match split(&resolved) {
            Root::Function(rel) => {
                let entry = self.function.as_ref()?.inventory.get(rel)?;
                (!entry.is_dir()).then_some(Hit {
                    source: Source::Function,
                    entry,
                    replaced: Vec::new(),
                })
            }
            Root::Layers(rel) => {
                let mut found: Option<Hit<'_>> = None;
                for (index, layer) in self.layers.iter().enumerate().rev() {
                    let Some(entry) = layer.inventory.get(rel) else {
                        continue;
                    };
                    if entry.is_dir() {
                        continue;
                    }
                    match &mut found {
                        None => {
                            found = Some(Hit {
                                source: Source::Layer(index),
                                entry,
                                replaced: Vec::new(),
                            })
                        }
                        Some(hit) => hit.replaced.insert(0, index),
                    }
                }
                found
            }
            Root::Elsewhere => None,
        }
    }

    /// True when `abs` is a folder of the function's code or of any layer (symlinks followed).
    pub(crate) fn is_dir(&self, abs: &str) -> bool {
        let Some(resolved) = self.resolve_links(abs) else {
            return false;
        };
        match split(&resolved) {
            Root::Function(rel) => self
                .function
                .as_ref()
                .is_some_and(|function| function.inventory.is_dir(rel)),
            Root::Layers(rel) => self.layers.iter().any(|layer| layer.inventory.is_dir(rel)),
            Root::Elsewhere => false,
        }
    }

    /// The names directly in folder `abs`, over every source, sorted and unique.
    pub(crate) fn children(&self, abs: &str) -> Vec<String> {
        let Some(resolved) = self.resolve_links(abs) else {
            return Vec::new();
        };
        let inventories: Vec<(&Inventory, &str)> = match split(&resolved) {
            Root::Function(rel) => self
                .function
                .iter()
                .map(|function| (&function.inventory, rel))
                .collect(),
            Root::Layers(rel) => self
                .layers
                .iter()
                .map(|layer| (&layer.inventory, rel))
                .collect(),
            Root::Elsewhere => Vec::new(),
        };
        let mut names: Vec<String> = inventories
            .into_iter()
            .flat_map(|(inventory, rel)| {
                inventory
                    .children(rel)
                    .map(|entry| entry.path.file_name().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The files directly in folder `abs` whose names start with `prefix`, from every source
    /// (a later layer's copy listed after an earlier one's), found by binary search.
    pub(crate) fn files_starting(&self, abs: &str, prefix: &str) -> Vec<(Source, &Entry)> {
        let Some(resolved) = self.resolve_links(abs) else {
            return Vec::new();
        };
        let (sources, rel): (Vec<(Source, &Inventory)>, &str) = match split(&resolved) {
            Root::Function(rel) => (
                self.sources()
                    .into_iter()
                    .filter(|(source, _)| *source == Source::Function)
                    .collect(),
                rel,
            ),
            Root::Layers(rel) => (
                self.sources()
                    .into_iter()
                    .filter(|(source, _)| *source != Source::Function)
                    .collect(),
                rel,
            ),
            Root::Elsewhere => return Vec::new(),
        };
        let start = if rel.is_empty() {
            prefix.to_string()
        } else {
            format!("{rel}/{prefix}")
        };
        let mut found = Vec::new();
        for (source, inventory) in sources {
            let entries = inventory.entries();
            let first = entries.partition_point(|entry| entry.path.as_str() < start.as_str());
            for entry in &entries[first..] {
                let path = entry.path.as_str();
                if !path.starts_with(start.as_str()) {
                    break;
                }
                if !path[start.len()..].contains('/') && !entry.is_dir() {
                    found.push((source, entry));
                }
            }
        }
        found
    }

    /// Reads a hit's bytes when it holds at most `limit` bytes (a larger file, or one that
    /// cannot be read, gives `None`: a lookup never inflates a hostile entry whole).
    pub(crate) fn read(&self, hit: &Hit<'_>, limit: usize) -> Option<Vec<u8>> {
        self.inventory(hit.source)?
            .read_capped(hit.entry, limit)
            .ok()
    }

    /// Every source with its inventory: the function first, then the layers in order.
    pub(crate) fn sources(&self) -> Vec<(Source, &Inventory)> {
        let mut sources = Vec::new();
        if let Some(function) = &self.function {
            sources.push((Source::Function, &function.inventory));
        }
        for (index, layer) in self.layers.iter().enumerate() {
            sources.push((Source::Layer(index), &layer.inventory));
        }
        sources
    }
}

/// Joins an absolute folder and a relative path.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        dir.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolves `.` and `..` in an absolute `/`-separated path, lexically.
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}
