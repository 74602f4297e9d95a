//! `LAY006` jar-below-java-lib: jars in a sub-folder of `java/lib`, which is not on the classpath.
//!
//! The rule, its explanation (printed by `layerpack rule LAY006`) and its check.

use crate::finding::{Code, Severity};
use crate::inventory::Entry;
use crate::lint::{LayerContext, Reporter};
use crate::rules::{Check, Rule};

pub(crate) static LAY006: Rule = Rule {
    code: Code::LAY006,
    name: "jar-below-java-lib",
    severity: Severity::Error,
    summary: "jars in a sub-folder of `java/lib`, which is not on the classpath",
    explanation: r#"## What it does

Finds `.jar` files in sub-folders of `java/lib/`.

## Why this breaks at run time

The Java runtimes put `/opt/java/lib/*` on the classpath. A classpath wildcard matches the jars
directly in that folder only, never those in sub-folders, so their classes are missing:

```
java.lang.NoClassDefFoundError: org/apache/commons/lang3/StringUtils
Caused by: java.lang.ClassNotFoundException: org.apache.commons.lang3.StringUtils
```

## Example

```
java/lib/commons/commons-lang3-3.12.0.jar
```

## Fix

Put every jar directly in `java/lib/` (Maven: `dependency:copy-dependencies
-DoutputDirectory=java/lib`; Gradle: copy `runtimeClasspath` into `java/lib`).
"#,
    check: Check::Layer(check_jar_below_java_lib),
};

fn check_jar_below_java_lib(context: &LayerContext<'_>, report: &mut Reporter<'_>) {
    let inventory = context.inventory;
    for folder in inventory
        .children("java/lib")
        .filter(|entry| entry.is_dir())
    {
        let jars: Vec<&Entry> = inventory
            .below(folder.path.as_str())
            .iter()
            .filter(|entry| entry.is_file() && entry.path.file_name().ends_with(".jar"))
            .collect();
        let Some(first) = jars.first() else {
            continue;
        };
        let count = if jars.len() == 1 {
            "1 jar".to_string()
        } else {
            format!("{} jars", jars.len())
        };
        report.report(
            folder.path.as_str(),
            format!(
                "`{}/` holds {count} (e.g. `{}`), but the classpath wildcard /opt/java/lib/* \
                 does not reach into sub-folders: their classes fail with \
                 \"java.lang.ClassNotFoundException\"",
                folder.path,
                first.path.file_name()
            ),
            "move the jars directly into `java/lib/`",
        );
    }
}
