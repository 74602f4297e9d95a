//! Ruby's `require`, replayed: `$LOAD_PATH` (from `RUBYLIB`: `/var/task`, `/var/runtime/lib`,
//! `/opt/ruby/lib`) first, then RubyGems, which activates the gem whose `lib/` holds the feature,
//! over `GEM_PATH` (`/var/task/vendor/bundle/ruby/X.Y.0`, `/opt/ruby/gems/X.Y.0`, then the
//! runtime's own folders; gems in `gems/NAME-VERSION/lib/FEATURE.rb` or `.so`). Both paths are
//! the in-Lambda dumps' (see [`crate::runtime`]). Gems that set other `require_paths` in their
//! gemspec are read as if they used `lib`.

use crate::finding::Code;
use crate::resolve::merged::{MergedView, Source};
use crate::resolve::{Explanation, Request, Trace, misplacement, native_failures};

pub(crate) fn explain(view: &MergedView, request: &Request<'_>) -> Explanation {
    let mut trace = Trace::default();
    let feature = request.name.trim_end_matches(".rb");
    let looked_for = format!("{feature}.rb, {feature}.so");
    let mut location: Option<String> = None;
    let mut loads = true;
    for dir in request.runtime.ruby_load_path() {
        if location.is_some() {
            trace.step(
                dir,
                looked_for.clone(),
                None,
                "not reached ($LOAD_PATH, from RUBYLIB)",
            );
            continue;
        }
        match [".rb", ".so"]
            .iter()
            .map(|suffix| format!("{dir}/{feature}{suffix}"))
            .find(|file| view.file(file).is_some())
        {
            Some(file) => {
                trace.step(
                    dir,
                    looked_for.clone(),
                    Some(file.clone()),
                    "$LOAD_PATH, from RUBYLIB",
                );
                loads &= check(view, request, &file, &mut trace);
                location = Some(file);
            }
            None if !view.models(&dir) => trace.step(
                dir,
                looked_for.clone(),
                None,
                "outside the function code and the layers ($LOAD_PATH, from RUBYLIB)",
            ),
            None => trace.step(
                dir,
                looked_for.clone(),
                None,
                "nothing by that name ($LOAD_PATH, from RUBYLIB)",
            ),
        }
    }
    let gem_looked_for = format!("gems/*/lib/{feature}.rb, gems/*/lib/{feature}.so");
    for dir in request.runtime.ruby_gem_path() {
        if location.is_some() {
            trace.step(dir, gem_looked_for.clone(), None, "not reached (GEM_PATH)");
            continue;
        }
        let gems_dir = format!("{dir}/gems");
        let mut candidates: Vec<(String, String)> = view
            .children(&gems_dir)
            .into_iter()
            .filter_map(|gem| {
                [".rb", ".so"]
                    .iter()
                    .map(|suffix| format!("{gems_dir}/{gem}/lib/{feature}{suffix}"))
                    .find(|file| view.file(file).is_some())
                    .map(|file| (gem, file))
            })
            .collect();
        // RubyGems activates the highest version among the gems that hold the feature.
        candidates.sort_by_key(|(gem, _)| version_key(gem));
        match candidates.pop() {
            Some((gem, file)) => {
                trace.step(
                    dir.clone(),
                    gem_looked_for.clone(),
                    Some(file.clone()),
                    format!("gem {gem} (GEM_PATH)"),
                );
                loads &= check(view, request, &format!("{gems_dir}/{gem}"), &mut trace);
                let extensions = format!("{dir}/extensions");
                if view.is_dir(&extensions) {
                    loads &= check(view, request, &extensions, &mut trace);
                }
                location = Some(file);
            }
            None => {
                let note = if view.models(&dir) && view.is_dir(&gems_dir) {
                    "no gem holds it (GEM_PATH)"
                } else if view.models(&dir) {
                    "no such folder (GEM_PATH)"
                } else {
                    "outside the function code and the layers (GEM_PATH)"
                };
                trace.step(dir, gem_looked_for.clone(), None, note);
            }
        }
    }
    if location.is_none() {
        near_misses(view, request, feature, &mut trace);
    }
    let verdict = match &location {
        Some(file) if loads => format!("`{feature}` resolves to {file}"),
        Some(file) => format!(
            "`{feature}` resolves to {file}, but loading it would fail: see the near misses"
        ),
        None => format!("cannot load such file -- {feature} (LoadError)"),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

/// Orders `nokogiri-1.16.2-x86_64-linux` by its version numbers.
fn version_key(gem: &str) -> Vec<u64> {
    gem.split(['-', '.'])
        .filter_map(|part| part.parse().ok())
        .collect()
}

fn check(view: &MergedView, request: &Request<'_>, abs: &str, trace: &mut Trace) -> bool {
    let (source, rel) = if let Some(rel) = abs.strip_prefix("/var/task/") {
        (Source::Function, rel)
    } else if let Some(rel) = abs.strip_prefix("/opt/") {
        let mut ok = true;
        for index in 0..view.layers.len() {
            for miss in native_failures(view, request, Source::Layer(index), rel) {
                ok = false;
                trace.near_misses.push(miss);
            }
        }
        return ok;
    } else {
        return true;
    };
    let misses = native_failures(view, request, source, rel);
    let ok = misses.is_empty();
    trace.near_misses.extend(misses);
    ok
}

fn near_misses(view: &MergedView, request: &Request<'_>, feature: &str, trace: &mut Trace) {
    let own_gems = request.runtime.ruby_gem_dir();
    for (source, inventory) in view.sources() {
        for entry in inventory.files() {
            let path = entry.path.as_str();
            let Some(stem) = path
                .strip_suffix(".rb")
                .or_else(|| path.strip_suffix(".so"))
            else {
                continue;
            };
            let Some(prefix) = stem
                .strip_suffix(&format!("/lib/{feature}"))
                .or_else(|| (stem == format!("lib/{feature}")).then_some(""))
            else {
                continue;
            };
            let found = MergedView::absolute(source, path);
            if source == Source::Function {
                continue;
            }
            if prefix == "ruby" || prefix.starts_with(&format!("{own_gems}/gems/")) {
                continue;
            }
            if let Some(rest) = prefix.strip_prefix("ruby/gems/") {
                let abi = rest.split('/').next().unwrap_or(rest);
                trace.near_miss(found, format!("`{feature}` is in a gem installed for Ruby ABI {abi} (/opt/ruby/gems/{abi}); {} reads only /opt/{own_gems}", request.runtime.id), Some(Code::LAY005));
                continue;
            }
            let (reason, code) = misplacement(prefix, "ruby").unwrap_or((
                "in a folder that is neither on $LOAD_PATH nor in GEM_PATH",
                Code::LAY001,
            ));
            trace.near_miss(found, format!("`{feature}` is {reason}"), Some(code));
        }
    }
}
