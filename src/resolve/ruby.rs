//! Ruby's `require`, replayed: `$LOAD_PATH` (from `RUBYLIB`: `/var/task`, `/var/runtime/lib`,
//! `/opt/ruby/lib`) first, then RubyGems, which activates the gem whose `lib/` holds the feature,
//! over `GEM_PATH` (`/var/task/vendor/bundle/ruby/X.Y.0`, `/opt/ruby/gems/X.Y.0`, then the
//! runtime's own folders; gems in `gems/NAME-VERSION/lib/FEATURE.rb` or `.so`). Both paths are
//! the in-Lambda dumps' (see [`crate::runtime`]). Gems that set other `require_paths` in their
//! gemspec are read as if they used `lib`.
//!
//! The runtime's own gems (the AWS SDK in `/var/runtime/ruby/X.Y.0/gems`, a few in
//! `/var/runtime/gems`, the interpreter's default and bundled gems in
//! `/var/lang/lib/ruby/gems/X.Y.0/gems`) are outside the function code and the layers: the
//! in-Lambda dumps of [`crate::facts`] name them with their versions. A gem of the first two
//! answers at its `GEM_PATH` entry, after the function's and the layers' (a copy there comes
//! first); the interpreter's answer when no `GEM_PATH` entry does. A feature is matched to the
//! gem named like it (`aws-sdk-s3`, `json/add/core` from `json`, `net/http` from `net-http`).

use crate::facts::{BundledPackage, Ecosystem};
use crate::finding::Code;
use crate::resolve::merged::{MergedView, Source};
use crate::resolve::{Explanation, Request, Trace, misplacement, native_failures};
use crate::runtime::Runtime;

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
    // The runtime's own gem that answered, or that a copy found earlier shadows.
    let mut runtime_gem: Option<&'static BundledPackage> = None;
    let mut in_runtime = false;
    for dir in request.runtime.ruby_gem_path() {
        let gems_dir = format!("{dir}/gems");
        let own = (!view.models(&dir))
            .then(|| bundled_gem(request.runtime, &gems_dir, feature))
            .flatten();
        if location.is_some() {
            let note = match own {
                Some(gem) if runtime_gem.is_none() => {
                    runtime_gem = Some(gem);
                    format!(
                        "shadowed: {} is never activated; entry {} comes first (GEM_PATH)",
                        describe_own(request.runtime, gem),
                        trace
                            .steps
                            .iter()
                            .position(|step| step.found.is_some())
                            .map_or(0, |index| index + 1)
                    )
                }
                _ => "not reached (GEM_PATH)".to_string(),
            };
            trace.step(dir, gem_looked_for.clone(), None, note);
            continue;
        }
        if let Some(gem) = own {
            let folder = gem_folder(&gems_dir, gem);
            trace.step(
                dir,
                gem_looked_for.clone(),
                Some(folder.clone()),
                format!("{} (GEM_PATH)", describe_own(request.runtime, gem)),
            );
            runtime_gem = Some(gem);
            in_runtime = true;
            location = Some(folder);
            continue;
        }
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
    let interpreter_dir = request.runtime.ruby_interpreter_gem_dir();
    let interpreter_gems = format!("{interpreter_dir}/gems");
    if let Some(gem) = bundled_gem(request.runtime, &interpreter_gems, feature) {
        if location.is_some() {
            trace.step(
                interpreter_dir,
                gem_looked_for.clone(),
                None,
                "not reached (the interpreter's own gems)",
            );
        } else {
            let folder = gem_folder(&interpreter_gems, gem);
            trace.step(
                interpreter_dir,
                gem_looked_for.clone(),
                Some(folder.clone()),
                format!(
                    "{} (the interpreter's own gems)",
                    describe_own(request.runtime, gem)
                ),
            );
            runtime_gem = Some(gem);
            in_runtime = true;
            location = Some(folder);
        }
    }
    if location.is_none() {
        near_misses(view, request, feature, &mut trace);
    }
    let verdict = match (&location, runtime_gem) {
        (Some(_), Some(gem)) if in_runtime => format!(
            "`{feature}` is in {}; it is not in the function code or the layers",
            describe_own(request.runtime, gem)
        ),
        (Some(file), Some(gem)) if loads => {
            let whose = if file.starts_with("/var/task/") {
                "the function's"
            } else {
                "the layer's"
            };
            format!(
                "`{feature}` resolves to {file}; {whose} copy is loaded instead of {}",
                describe_own(request.runtime, gem)
            )
        }
        (Some(file), _) if loads => format!("`{feature}` resolves to {file}"),
        (Some(file), _) => format!(
            "`{feature}` resolves to {file}, but loading it would fail: see the near misses"
        ),
        (None, _) => format!("cannot load such file -- {feature} (LoadError)"),
    };
    let loads = loads && location.is_some();
    trace.finish(request, location, loads, verdict)
}

/// The gem the runtime ships in `gems_dir` (a folder the in-Lambda dumps list) that provides
/// `feature`: the gem named like the feature or like one of its leading folders, with `/` read
/// as `-` (`net/http` is the gem `net-http`), the longest name first.
fn bundled_gem(
    runtime: &Runtime,
    gems_dir: &str,
    feature: &str,
) -> Option<&'static BundledPackage> {
    let parts: Vec<&str> = feature.split('/').collect();
    (1..=parts.len()).rev().find_map(|len| {
        let slashed = parts[..len].join("/");
        let dashed = parts[..len].join("-");
        runtime.facts().bundled_packages().iter().find(|package| {
            package.ecosystem == Ecosystem::Ruby
                && package.path == gems_dir
                && (package.name == slashed || package.name == dashed)
        })
    })
}

/// `gems/NAME-VERSION` of a runtime's own gem.
fn gem_folder(gems_dir: &str, gem: &BundledPackage) -> String {
    match gem.version {
        Some(version) => format!("{gems_dir}/{}-{version}", gem.name),
        None => format!("{gems_dir}/{}", gem.name),
    }
}

/// "the ruby3.3 runtime's own gem aws-sdk-s3 1.228.0 (in-Lambda dump)".
fn describe_own(runtime: &Runtime, gem: &BundledPackage) -> String {
    format!(
        "the {} runtime's own gem {} {} (in-Lambda dump)",
        runtime.id,
        gem.name,
        gem.version.unwrap_or("(version not recorded)")
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gem the dumps list for a Ruby runtime sits in a folder this lookup searches: the
    /// `gems/` of a `GEM_PATH` entry or of the interpreter's gem folder.
    #[test]
    fn every_dumped_gem_folder_is_searched() {
        for id in ["ruby3.2", "ruby3.3", "ruby3.4", "ruby4.0"] {
            let runtime = Runtime::find(id).expect("known runtime");
            let searched: Vec<String> = runtime
                .ruby_gem_path()
                .into_iter()
                .chain([runtime.ruby_interpreter_gem_dir()])
                .map(|dir| format!("{dir}/gems"))
                .collect();
            let gems: Vec<&BundledPackage> = runtime
                .facts()
                .bundled_packages()
                .iter()
                .filter(|package| package.ecosystem == Ecosystem::Ruby)
                .collect();
            assert!(!gems.is_empty(), "{id}");
            for gem in gems {
                assert!(
                    searched.iter().any(|dir| dir == gem.path),
                    "{id}: {} in {}",
                    gem.name,
                    gem.path
                );
            }
        }
    }

    #[test]
    fn features_name_their_gems() {
        let runtime = Runtime::find("ruby3.3").expect("known runtime");
        let sdk = "/var/runtime/ruby/3.3.0/gems";
        let own = "/var/lang/lib/ruby/gems/3.3.0/gems";
        let name = |dir, feature| bundled_gem(runtime, dir, feature).map(|gem| gem.name);
        assert_eq!(name(sdk, "aws-sdk-s3"), Some("aws-sdk-s3"));
        assert_eq!(name(sdk, "aws-sdk-core/plugins"), Some("aws-sdk-core"));
        assert_eq!(name(own, "net/http"), Some("net-http"));
        assert_eq!(name(own, "aws-sdk-s3"), None);
        assert_eq!(name(sdk, "httparty"), None);
    }
}
