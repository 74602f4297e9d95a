//! `LAY005` ruby-gem-abi-mismatch: `ruby/gems/X.Y.0` that is not the gem ABI of any runtime.
//!
//! The rule, its explanation (printed by `layerpack rule LAY005`) and its check.

use super::{VersionFolders, first_of, runtime_ids};
use crate::finding::{Code, Severity};
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};
use crate::runtime::Family;

pub(crate) static LAY005: Rule = Rule {
    code: Code::LAY005,
    name: "ruby-gem-abi-mismatch",
    severity: Severity::Error,
    summary: "`ruby/gems/X.Y.0` that is not the gem ABI of any runtime",
    explanation: r#"## What it does

Finds `ruby/gems/X.Y.0/` folders that are not the gem folder of any Ruby runtime of the layer.

## Why this breaks at run time

Lambda sets `GEM_PATH` to `/opt/ruby/gems/X.Y.0` with the runtime's own ABI version (`3.3.0` for
`ruby3.3`). Gems installed by another Ruby are in another folder and are not found:

```
cannot load such file -- httparty (LoadError)
```

## Example

A layer for `ruby3.3` holding `ruby/gems/3.2.0/gems/httparty-0.21.0/`, installed with Ruby 3.2.

## Fix

Run `bundle install` with the runtime's Ruby (for example in the `public.ecr.aws/sam/build-ruby3.3`
image) so the gems land in `ruby/gems/3.3.0`, or add the matching runtime to the layer's runtimes.
"#,
    check: Check::Layer(check_ruby_gem_abi_mismatch),
};

fn check_ruby_gem_abi_mismatch(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let runtimes = context.runtimes;
    let Some(runtime) = first_of(runtimes, Family::Ruby) else {
        return;
    };
    let read = RUBY_VERSIONS.read_by(runtimes);
    for unread in RUBY_VERSIONS.unread(context.inventory, &read) {
        let (entry, name) = (unread.entry, unread.name);
        let gem = unread
            .first_package
            .map(|gem| gem.rsplit_once('-').map_or(gem, |(name, _)| name))
            .unwrap_or("…");
        report.report(
            entry.path.as_str(),
            format!(
                "`{}/` is the gem folder of Ruby {name}, but {} sets GEM_PATH to /opt/{}: its \
                 gems fail with \"cannot load such file -- {gem} (LoadError)\"",
                entry.path,
                runtime_ids(runtimes),
                read.join(" and /opt/")
            ),
            format!(
                "run `bundle install` with the runtime's Ruby so the gems land in `{}`, or add \
                 the matching runtime to the layer's runtimes",
                runtime.ruby_gem_dir()
            ),
        );
    }
}

/// `ruby/gems/X.Y.0` (the gem ABI), which the runtime of Ruby X.Y puts on `GEM_PATH`; the gems
/// are in its `gems/` folder.
const RUBY_VERSIONS: VersionFolders = VersionFolders {
    family: Family::Ruby,
    parent: "ruby/gems",
    is_version: |name| {
        name.split('.').count() == 3 && name.split('.').all(|part| part.parse::<u32>().is_ok())
    },
    read: "",
    packages: "gems",
};
