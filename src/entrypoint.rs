//! Entry points: the files Lambda starts by itself, before any import — the custom runtime's
//! `bootstrap`, every external extension in `/opt/extensions/`, and the exec wrapper script named
//! by `AWS_LAMBDA_EXEC_WRAPPER`.
//!
//! An import goes through a search path; an entry point goes through `execve`. So what decides
//! whether it starts is different: an execute bit, a first line the kernel understands (an ELF
//! header, or `#!` and an interpreter that exists on that runtime), and, for a script, the
//! commands it hands over to with `exec`. This module finds the entry points of a layer (for the
//! `EXT` rules and the exemptions of `LAY001`) and reads what the kernel reads: the shebang
//! line, and the `/opt/...` paths and `exec` commands in a script's text. Which paths Lambda
//! starts is in [`crate::runtime::entry_points`]; nothing here hard-codes it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::inventory::symlink_target_in_layer;
use crate::inventory::{Entry, EntryKind, Inventory};
use crate::runtime::entry_points::{BOOTSTRAP, EXTENSIONS_DIR};
use crate::runtime::{Arch, Runtime};

/// What Lambda starts a file as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Role {
    /// The custom runtime of an OS-only runtime (`/var/task/bootstrap`, else `/opt/bootstrap`).
    Bootstrap,
    /// An external extension: a file directly in `/opt/extensions/`.
    Extension,
    /// The script named by `AWS_LAMBDA_EXEC_WRAPPER`.
    ExecWrapper,
}

impl Role {
    /// The role in words, for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Role::Bootstrap => "the custom runtime's bootstrap",
            Role::Extension => "an external extension",
            Role::ExecWrapper => "the exec wrapper (AWS_LAMBDA_EXEC_WRAPPER)",
        }
    }

    /// The error Lambda reports when the file cannot be started, followed by the `execve`
    /// error text (`permission denied`, `no such file or directory`, `exec format error`).
    pub(crate) fn launch_error(self, absolute: &str, errno_text: &str) -> String {
        match self {
            Role::Bootstrap => {
                format!("Runtime.InvalidEntrypoint: fork/exec {absolute}: {errno_text}")
            }
            Role::Extension => format!("Extension.LaunchError: fork/exec {absolute}: {errno_text}"),
            Role::ExecWrapper => format!("{absolute}: {errno_text}, then Runtime.ExitError"),
        }
    }

    /// What Lambda reports when the file started but exited at once because `message` (its
    /// interpreter, or a program it hands over to, failed).
    pub(crate) fn exit_error(self, absolute: &str, message: &str) -> String {
        match self {
            Role::Bootstrap | Role::ExecWrapper => {
                format!("{message}, so {absolute} exits: Runtime.ExitError")
            }
            Role::Extension => {
                format!("{message}, so {absolute} exits before it registers: Extension.ExitError")
            }
        }
    }
}

/// One file of a layer (or of the function's code) that Lambda starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryPoint<'a> {
    pub(crate) role: Role,
    /// The entry at the path Lambda starts (a file, or a symlink).
    pub(crate) entry: &'a Entry,
    /// What `execve` opens: the entry itself, or the file its symlink leads to in the same
    /// inventory; `None` when a link leads outside it (or in a loop) and nothing can be said.
    pub(crate) target: Option<&'a Entry>,
}

impl EntryPoint<'_> {
    /// The absolute path Lambda starts, with the layer extracted to `root` (`/opt`, `/var/task`).
    pub(crate) fn absolute(&self, root: &str) -> String {
        format!("{root}/{}", self.entry.path)
    }
}

/// Follows symlinks inside `inventory` (at most 16 hops) to the file they lead to.
pub(crate) fn resolve_link<'a>(inventory: &'a Inventory, entry: &'a Entry) -> Option<&'a Entry> {
    let mut current = entry;
    for _ in 0..16 {
        match &current.kind {
            EntryKind::Symlink { target } => {
                let path = symlink_target_in_layer(&current.path, target)?;
                current = inventory.get(&path)?;
            }
            _ => return Some(current),
        }
    }
    None
}

/// `/opt/otel-instrument` → `otel-instrument`: the archive path of a layer file named by its
/// absolute path, when the path lies in `/opt`.
pub(crate) fn layer_path_of(absolute: &str) -> Option<&str> {
    let rest = absolute.strip_prefix("/opt/")?;
    let rest = rest.trim_end_matches('/');
    (!rest.is_empty()).then_some(rest)
}

/// The entry points of one layer, as Lambda starts them on any of `runtimes`, sorted by path:
/// `bootstrap` when one of the runtimes is OS-only, every file directly in `extensions/`, and
/// the file `exec_wrapper` names (an absolute `/opt/...` path) when one of the runtimes is managed.
pub(crate) fn layer_entry_points<'a>(
    inventory: &'a Inventory,
    runtimes: &[&'static Runtime],
    exec_wrapper: Option<&str>,
) -> Vec<EntryPoint<'a>> {
    let mut found = Vec::new();
    let mut add = |role: Role, entry: &'a Entry| {
        found.push(EntryPoint {
            role,
            entry,
            target: resolve_link(inventory, entry),
        });
    };
    if runtimes.iter().any(|runtime| runtime.runs_bootstrap())
        && let Some(entry) = inventory.get(BOOTSTRAP).filter(|entry| !entry.is_dir())
    {
        add(Role::Bootstrap, entry);
    }
    for entry in inventory.children(EXTENSIONS_DIR) {
        if !entry.is_dir() {
            add(Role::Extension, entry);
        }
    }
    if runtimes.iter().any(|runtime| runtime.runs_exec_wrapper())
        && let Some(path) = exec_wrapper.and_then(layer_path_of)
        && let Some(entry) = inventory.get(path).filter(|entry| !entry.is_dir())
    {
        add(Role::ExecWrapper, entry);
    }
    found.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
    found.dedup_by(|later, earlier| later.entry.path == earlier.entry.path);
    found
}

/// Top-level files that are executable scripts (`#!` first): what `AWS_LAMBDA_EXEC_WRAPPER`
/// names in real layers (`/opt/otel-instrument`), even when the check was not told the variable.
pub(crate) fn wrapper_candidates(inventory: &Inventory) -> Vec<&Entry> {
    inventory
        .children("")
        .filter(|entry| entry.path.as_str() != BOOTSTRAP)
        .filter_map(|entry| {
            let target = resolve_link(inventory, entry)?;
            (target.is_file() && target.is_executable()).then_some((entry, target))
        })
        .filter(|(_, target)| {
            inventory
                .read_prefix(target, 2)
                .is_ok_and(|bytes| bytes == b"#!")
        })
        .map(|(entry, _)| entry)
        .collect()
}

/// The most of a script that is read for its `/opt/...` paths and `exec` commands.
pub(crate) const SCRIPT_READ_LIMIT: usize = 1 << 20;

/// How the kernel would start a file, judged from its first bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Launch {
    /// Machine code (ELF, or Mach-O/PE, which the `BIN` rules judge).
    Binary,
    /// `#!` and an interpreter.
    Script(Shebang),
    /// A UTF-8 byte order mark before `#!`: the kernel does not see the `#!`.
    ByteOrderMark,
    /// Neither machine code nor `#!`: `execve` fails with "exec format error".
    Unknown,
}

/// A parsed `#!` line, as the kernel splits it: the interpreter up to the first space or tab,
/// then at most one argument (the rest of the line, outer blanks removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shebang {
    pub(crate) interpreter: String,
    pub(crate) argument: Option<String>,
    /// The line ends in `\r\n`: the `\r` is part of the interpreter's name (or its argument).
    pub(crate) carriage_return: bool,
}

impl Shebang {
    /// The program the shebang runs: the interpreter, or for `/usr/bin/env NAME` (also
    /// `env -S NAME args`) the command `NAME`, which `env` looks up on `PATH`.
    pub(crate) fn program(&self) -> Program {
        let interpreter = self.interpreter.trim_end_matches('\r');
        let is_env = interpreter.rsplit('/').next() == Some("env");
        if is_env && let Some(argument) = &self.argument {
            let name = argument
                .trim_end_matches('\r')
                .split([' ', '\t'])
                .find(|word| !word.is_empty() && !word.starts_with('-') && !word.contains('='));
            if let Some(name) = name {
                return if name.starts_with('/') {
                    Program::Path(name.to_string())
                } else {
                    Program::OnPath(name.to_string())
                };
            }
        }
        if interpreter.starts_with('/') {
            Program::Path(interpreter.to_string())
        } else {
            Program::Relative(interpreter.to_string())
        }
    }

    /// What `env` prints when this line runs it and `name` is on no folder of `PATH`.
    pub(crate) fn env_not_found(&self, name: &str) -> String {
        format!("{}: '{name}': No such file or directory", self.interpreter)
    }

    /// The line as written, without `#!` and with `\r` shown as `\r`.
    pub(crate) fn shown(&self) -> String {
        let mut text = self.interpreter.clone();
        if let Some(argument) = &self.argument {
            text.push(' ');
            text.push_str(argument);
        }
        text.replace('\r', "\\r")
    }
}

/// What a shebang asks the kernel (or `env`) to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// An absolute path: `/bin/bash`.
    Path(String),
    /// A name `env` searches on `PATH`: `python3` of `#!/usr/bin/env python3`.
    OnPath(String),
    /// A relative interpreter path, resolved against the working directory (never reliable).
    Relative(String),
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The kernel reads no more of a `#!` line than this.
pub(crate) const SHEBANG_BYTES: usize = 256;

/// How the kernel would start `file` of `inventory`, read from its first [`SHEBANG_BYTES`];
/// `None` when its bytes cannot be read.
pub(crate) fn launch_of(inventory: &Inventory, file: &Entry) -> Option<Launch> {
    let prefix = inventory.read_prefix(file, SHEBANG_BYTES).ok()?;
    Some(launch(&prefix))
}

/// Reads how the kernel starts a file from its first bytes ([`SHEBANG_BYTES`] are enough).
pub(crate) fn launch(prefix: &[u8]) -> Launch {
    if crate::inspect::sniff(prefix).is_ok_and(|magic| magic.is_some()) {
        return Launch::Binary;
    }
    if prefix.starts_with(BYTE_ORDER_MARK) && prefix[BYTE_ORDER_MARK.len()..].starts_with(b"#!") {
        return Launch::ByteOrderMark;
    }
    let Some(line) = prefix.strip_prefix(b"#!") else {
        return Launch::Unknown;
    };
    let line = line.split(|&byte| byte == b'\n').next().unwrap_or(line);
    let carriage_return = line.ends_with(b"\r");
    let text = String::from_utf8_lossy(line);
    let text = text.trim_start_matches([' ', '\t']);
    let (interpreter, rest) = match text.find([' ', '\t']) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    };
    let argument = rest.trim_matches([' ', '\t']);
    Launch::Script(Shebang {
        interpreter: interpreter.to_string(),
        argument: (!argument.is_empty()).then(|| argument.to_string()),
        carriage_return,
    })
}

/// The names `NAME` of every `/opt/NAME` the text mentions (`NAME` up to the next `/`, quote,
/// blank or other character no path name of a layer's top level uses). `/opt/$VAR` and
/// `/opt/${VAR}` are returned as `$`.
pub(crate) fn opt_references(bytes: &[u8]) -> BTreeSet<String> {
    const PREFIX: &[u8] = b"/opt/";
    let mut names = BTreeSet::new();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&byte| byte == b'/') {
        let start = at + offset;
        at = start + 1;
        if !bytes[start..].starts_with(PREFIX) {
            continue;
        }
        // `/opt/` inside a longer path (`/usr/opt/`) is someone else's folder.
        if start > 0 && is_name_byte(bytes[start - 1]) {
            continue;
        }
        let rest = &bytes[start + PREFIX.len()..];
        if rest.first() == Some(&b'$') {
            names.insert("$".to_string());
            continue;
        }
        let length = rest
            .iter()
            .position(|&byte| !is_name_byte(byte))
            .unwrap_or(rest.len());
        if length > 0 {
            names.insert(String::from_utf8_lossy(&rest[..length]).into_owned());
        }
    }
    names
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'+' | b'@')
}

/// The commands a shell script hands over to with `exec` (`exec /opt/bin/agent "$@"`,
/// `exec my-runtime`), as written, in order. A command given through a variable cannot be
/// followed and is left out.
pub(crate) fn exec_commands(script: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(script);
    let mut commands = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("exec") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let mut words = rest.split_whitespace();
        let mut command = None;
        while let Some(word) = words.next() {
            match word {
                // `exec -a NAME cmd` sets argv[0]; `-c` and `-l` take no argument.
                "-a" => {
                    words.next();
                }
                "-c" | "-l" | "-cl" | "-lc" => {}
                _ => {
                    command = Some(word);
                    break;
                }
            }
        }
        let Some(command) = command else {
            continue;
        };
        let command = command.trim_matches(['"', '\'']);
        // Redirections only (`exec >&2`, `exec 3<file`) replace no program.
        if command.is_empty()
            || command.contains('$')
            || command.contains('`')
            || command.starts_with(['<', '>', '&'])
            || command.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            continue;
        }
        if !commands.iter().any(|known| known == command) {
            commands.push(command.to_string());
        }
    }
    commands
}

/// The top-level names of a layer that its entry points (and the scripts at its root that an
/// exec wrapper would be) name by their full path: folders like `/opt/my-extension/` that an
/// extension reads, which no runtime search path covers but which are used all the same. An
/// extension script that builds the path from a variable (`/opt/${LAMBDA_EXTENSION_NAME}/…`, as
/// AWS's examples do with the extension's own name) names the folder called like itself.
pub(crate) fn referenced_tops(
    inventory: &Inventory,
    runtimes: &[&'static Runtime],
    exec_wrapper: Option<&str>,
) -> BTreeSet<String> {
    let mut starters: Vec<(Role, &Entry)> = layer_entry_points(inventory, runtimes, exec_wrapper)
        .into_iter()
        .filter_map(|point| Some((point.role, point.target?)))
        .collect();
    // A layer's bootstrap names its files by path even when checked for a managed runtime.
    if let Some(entry) = inventory.get(BOOTSTRAP)
        && let Some(target) = resolve_link(inventory, entry)
    {
        starters.push((Role::Bootstrap, target));
    }
    for entry in wrapper_candidates(inventory) {
        if let Some(target) = resolve_link(inventory, entry) {
            starters.push((Role::ExecWrapper, target));
        }
    }
    let mut names = BTreeSet::new();
    for (role, target) in starters {
        if !target.is_file() {
            continue;
        }
        let Ok(bytes) = inventory.read(target) else {
            continue;
        };
        for name in opt_references(&bytes) {
            if name == "$" {
                if role == Role::Extension {
                    names.insert(target.path.file_name().to_string());
                }
            } else {
                names.insert(name);
            }
        }
    }
    names
}

/// What a program path or name is on a runtime, as far as the runtime's and its OS's own
/// folders go (the function and the layers are looked up by the caller).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SystemProgram {
    /// It exists there, at this absolute path.
    Present(String),
    /// The folder is the runtime's or the OS's, and the verified lists have no such name.
    Absent,
    /// A folder the verified lists do not cover: nothing can be said.
    NotModelled,
}

/// Looks an absolute program path up among the runtime's (`/var/lang/bin`) and the OS's
/// (`/usr/bin`, `/bin`, `/usr/sbin`, `/sbin`, `/usr/local/bin`) commands.
pub(crate) fn system_program(runtime: &Runtime, arch: Arch, absolute: &str) -> SystemProgram {
    let Some((dir, name)) = absolute.rsplit_once('/') else {
        return SystemProgram::NotModelled;
    };
    let dirs = runtime.facts().commands(arch);
    // The dumps list /usr/bin, /usr/sbin and /usr/local/bin together (under /usr/bin); /bin and
    // /sbin are links into /usr.
    let listed = match dir {
        "/usr/bin" | "/bin" | "/usr/sbin" | "/sbin" | "/usr/local/bin" => "/usr/bin",
        "/var/lang/bin" => "/var/lang/bin",
        _ => return SystemProgram::NotModelled,
    };
    let present = dirs
        .iter()
        .filter(|command_dir| command_dir.dir == listed)
        .any(|command_dir| command_dir.names.binary_search(&name).is_ok());
    if present {
        SystemProgram::Present(absolute.to_string())
    } else {
        SystemProgram::Absent
    }
}

/// The path `PATH` lookup of `name` finds among the runtime's and the OS's commands (the
/// layers' `/opt/bin`, last on `PATH`, is the caller's to add).
pub(crate) fn system_command(runtime: &Runtime, arch: Arch, name: &str) -> Option<String> {
    runtime.facts().find_command(arch, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(line: &str) -> Shebang {
        match launch(line.as_bytes()) {
            Launch::Script(shebang) => shebang,
            other => panic!("{line:?} is {other:?}"),
        }
    }

    #[test]
    fn shebangs_split_as_the_kernel_does() {
        let bash = script("#!/bin/bash\necho hi\n");
        assert_eq!(bash.interpreter, "/bin/bash");
        assert_eq!(bash.argument, None);
        assert!(!bash.carriage_return);
        assert_eq!(bash.program(), Program::Path("/bin/bash".into()));

        let spaced = script("#! /bin/sh -eu  \n");
        assert_eq!(spaced.interpreter, "/bin/sh");
        assert_eq!(spaced.argument.as_deref(), Some("-eu"));

        let env = script("#!/usr/bin/env python3\nprint()\n");
        assert_eq!(env.program(), Program::OnPath("python3".into()));
        let split = script("#!/usr/bin/env -S node --enable-source-maps\n");
        assert_eq!(split.program(), Program::OnPath("node".into()));
        let env_path = script("#!/usr/bin/env /opt/bin/tool\n");
        assert_eq!(env_path.program(), Program::Path("/opt/bin/tool".into()));
    }

    #[test]
    fn carriage_returns_and_byte_order_marks_are_seen() {
        let crlf = script("#!/bin/bash\r\necho hi\r\n");
        assert!(crlf.carriage_return);
        assert_eq!(crlf.interpreter, "/bin/bash\r");
        assert_eq!(crlf.shown(), "/bin/bash\\r");
        assert_eq!(crlf.program(), Program::Path("/bin/bash".into()));
        assert_eq!(launch(b"\xEF\xBB\xBF#!/bin/sh\n"), Launch::ByteOrderMark);
        assert_eq!(launch(b"echo no shebang\n"), Launch::Unknown);
        assert_eq!(launch(b""), Launch::Unknown);
        assert_eq!(launch(b"\x7fELF\x02\x01\x01\0"), Launch::Binary);
    }

    #[test]
    fn opt_paths_are_found_in_text_and_binaries() {
        let text = b"#!/bin/bash\nexec /opt/my-ext/bin/agent --config \"/opt/conf.d/a.yaml\"\n\
                     X=/usr/opt/nope; exec \"/opt/${LAMBDA_EXTENSION_NAME}/extension.py\"\n\
                     \0\0/opt/collector-config/config.yaml\0";
        let names: Vec<String> = opt_references(text).into_iter().collect();
        assert_eq!(names, ["$", "collector-config", "conf.d", "my-ext"]);
    }

    #[test]
    fn exec_commands_are_read_from_scripts() {
        let text = b"#!/bin/sh\nset -eu\n# exec /opt/bin/commented\nexec 2>&1\n\
                     if [ -x /opt/bin/a ]; then\n  exec /opt/bin/agent \"$@\"\nfi\n\
                     exec -a name tool --flag\nexec \"$@\"\nexecutable=1\n";
        assert_eq!(exec_commands(text), ["/opt/bin/agent", "tool"]);
    }

    #[test]
    fn wrapper_paths_map_to_layer_paths() {
        assert_eq!(
            layer_path_of("/opt/otel-instrument"),
            Some("otel-instrument")
        );
        assert_eq!(layer_path_of("/opt/"), None);
        assert_eq!(layer_path_of("/var/task/wrapper"), None);
    }
}
