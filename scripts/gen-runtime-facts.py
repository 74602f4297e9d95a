#!/usr/bin/env python3
"""Generate src/facts/generated.rs from the in-Lambda runtime dumps.

The source is the folder of verified runtime facts (its SOURCES.md says where each file comes
from and how sure it is): `--source`, else `LAYERPACK_RUNTIME_FACTS`, else
`shared/reference/runtime-facts` beside the repository (or beside a parent folder of it).

    python3 scripts/gen-runtime-facts.py [--source DIR] [--output FILE]
    python3 scripts/gen-runtime-facts.py --check      # exit 1 when the committed file is stale
    python3 scripts/gen-runtime-facts.py --stdout     # print what would be written

The output is deterministic: rows sorted, no timestamps but the generation date on one header
line, which `--check` ignores. Python 3 standard library only.
"""

import argparse
import datetime
import hashlib
import os
import re
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def default_source():
    """`LAYERPACK_RUNTIME_FACTS`, else the first `shared/reference/runtime-facts` found beside the
    repository or beside one of its parent folders (a git worktree sits deeper than the clone)."""
    if os.environ.get("LAYERPACK_RUNTIME_FACTS"):
        return os.environ["LAYERPACK_RUNTIME_FACTS"]
    folder = REPOSITORY
    while True:
        parent = os.path.dirname(folder)
        candidate = os.path.join(parent, "shared", "reference", "runtime-facts")
        if os.path.isdir(candidate) or parent == folder:
            return candidate if os.path.isdir(candidate) else os.path.join(REPOSITORY, "..", "shared", "reference", "runtime-facts")
        folder = parent


DEFAULT_OUTPUT = os.path.join(REPOSITORY, "src", "facts", "generated.rs")
GENERATED_LINE = "// Generated on "

OSES = ["al2", "al2023"]
ARCHES = ["x86_64", "arm64"]
RUST_OS = {"al2": "Os::Al2", "al2023": "Os::Al2023"}
RUST_ARCH = {"x86_64": "Arch::X86_64", "arm64": "Arch::Arm64"}
ECOSYSTEMS = {"python": "Python", "node": "Node", "ruby": "Ruby", "java": "Java"}

SOURCE_FILES = (
    [f"{os_}-sonames{suffix}.txt" for os_ in OSES for suffix in ("", "-arm64")]
    + [f"{os_}-commands{suffix}.txt" for os_ in OSES for suffix in ("", "-arm64")]
    + [f"{os_}-rpm-packages{suffix}.txt" for os_ in OSES for suffix in ("", "-arm64")]
    + ["runtimes.tsv", "runtime-lib-additions.tsv", "runtime-commands.tsv", "bundled-packages.tsv"]
)


class SourceError(Exception):
    pass


def read(source, name):
    path = os.path.join(source, name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from error
    return data.decode("utf-8"), hashlib.sha256(data).hexdigest()


def names(text):
    """Non-comment, non-empty lines of a list file."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def tsv(text, name):
    """Rows of a TSV file as dicts keyed by its header line (the first non-comment line)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines:
        raise SourceError(f"{name}: no header line")
    header = lines[0].split("\t")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) < len(header):
            cells += [""] * (len(header) - len(cells))
        rows.append(dict(zip(header, cells)))
    return rows


DATE = re.compile(r"\b(20\d\d-\d\d-\d\d)\b")
COMMIT = re.compile(r"(?:commit |@ ?)([0-9a-f]{7,40})\b")


def provenance(text):
    """The dumps a file cites: its distinct commits and the range of its dates."""
    commits = sorted(set(COMMIT.findall(text)))
    dates = sorted(set(DATE.findall(text)))
    if not dates:
        return "no dates cited"
    span = dates[0] if len(dates) == 1 else f"{dates[0]} .. {dates[-1]}"
    shown = ", ".join(commit[:12] for commit in commits[:3])
    more = f" (+{len(commits) - 3} more)" if len(commits) > 3 else ""
    return f"dates cited {span}; commits {shown}{more}" if commits else f"dates cited {span}"


def rust_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_slice(items, indent):
    if not items:
        return "&[]"
    pad = " " * (indent + 4)
    body = "".join(f"{pad}{rust_string(item)},\n" for item in items)
    return "&[\n" + body + " " * indent + "]"


def first_number(cell, pattern, what, runtime):
    match = re.search(pattern, cell)
    if not match:
        raise SourceError(f"runtimes.tsv: {runtime}: cannot read the {what} from {cell!r}")
    return match.group(1)


LANGUAGE_VARIABLE = re.compile(r"^([A-Z_]+)=(\S+)(?: \([^)]*\))?$")
SYS_PATH = re.compile(r"^sys\.path=(\S+)(?: ;|$)")


def language_env(cell, runtime):
    """The search-path variables of the `lang_env` cell (`NODE_PATH=a:b ; RUBYLIB=c`), each with its
    colon-separated entries. The OS-only runtimes' `(none; ...)` sets none, and Java's `CLASSPATH:
    ...` describes the class path in words (no variable is set), so neither yields a variable."""
    if cell.startswith("(none") or cell.startswith("CLASSPATH:"):
        return []
    variables = []
    for part in cell.split(" ; "):
        match = LANGUAGE_VARIABLE.match(part.strip())
        if not match:
            raise SourceError(f"runtimes.tsv: {runtime}: cannot read a NAME=VALUE variable from {part!r}")
        variables.append((match.group(1), match.group(2).split(":")))
    return variables


def python_sys_path(cell, runtime):
    """`sys.path` as the `lang_search_notes` cell of a Python runtime records it
    (`sys.path=/var/task,/opt/python/...,... ; SDK in ...`); empty for other languages."""
    if not cell.startswith("sys.path="):
        return []
    match = SYS_PATH.match(cell)
    if not match:
        raise SourceError(f"runtimes.tsv: {runtime}: cannot read sys.path from {cell!r}")
    return match.group(1).split(",")


def generate(source, today):
    texts = {}
    hashes = {}
    for name in SOURCE_FILES:
        texts[name], hashes[name] = read(source, name)

    out = []
    out.append("// @generated by scripts/gen-runtime-facts.py from the in-Lambda runtime dumps. Do not edit:")
    out.append("// regenerate with `python3 scripts/gen-runtime-facts.py` (tests/it/facts.rs checks it is current).")
    out.append(f"{GENERATED_LINE}{today}.")
    out.append("// Source folder: ../shared/reference/runtime-facts/ (SOURCES.md there says how sure each file is).")
    out.append("// Source files (sha256 of the bytes read, and the dumps each cites):")
    for name in SOURCE_FILES:
        out.append(f"//   {name}")
        out.append(f"//     sha256 {hashes[name]}")
        out.append(f"//     {provenance(texts[name])}")
    out.append("")
    out.append("use super::{AbsentPackage, Arch, BundledPackage, Ecosystem, LibraryDir, Os, OsFacts, RuntimeFacts};")
    out.append("")

    # The base OS per release and architecture.
    out.append("/// The base OS of each Amazon Linux release and architecture, from the in-Lambda dumps.")
    out.append("pub static OS_FACTS: &[OsFacts] = &[")
    for os_ in OSES:
        for arch in ARCHES:
            suffix = "" if arch == "x86_64" else "-arm64"
            sonames_file = f"{os_}-sonames{suffix}.txt"
            sonames = sorted(set(names(texts[sonames_file])))
            commands = sorted(set(names(texts[f"{os_}-commands{suffix}.txt"])))
            packages = sorted(set(names(texts[f"{os_}-rpm-packages{suffix}.txt"])))
            header = texts[sonames_file].splitlines()
            path = next((line.split("path", 1)[1].strip() for line in header if line.startswith("# SOURCE:") and " path " in line), "")
            commit = next((line for line in header if "last changed in commit" in line), "")
            match = re.search(r"commit ([0-9a-f]{12})[0-9a-f]* \((\d{4}-\d\d-\d\d)\)", commit)
            if not path or not match:
                raise SourceError(f"{sonames_file}: no SOURCE path or 'last changed in commit' line in the header")
            source_line = f"shogo82148/docker-lambda {path} @ {match.group(1)} ({match.group(2)})"
            out.append("    OsFacts {")
            out.append(f"        os: {RUST_OS[os_]},")
            out.append(f"        arch: {RUST_ARCH[arch]},")
            out.append(f"        // Dump: {source_line}")
            out.append(f"        sonames: {string_slice(sonames, 8)},")
            out.append(f"        commands: {string_slice(commands, 8)},")
            out.append(f"        rpm_packages: {string_slice(packages, 8)},")
            out.append("    },")
    out.append("];")
    out.append("")

    runtimes = tsv(texts["runtimes.tsv"], "runtimes.tsv")
    libraries = tsv(texts["runtime-lib-additions.tsv"], "runtime-lib-additions.tsv")
    commands = tsv(texts["runtime-commands.tsv"], "runtime-commands.tsv")
    bundled = tsv(texts["bundled-packages.tsv"], "bundled-packages.tsv")

    known_ids = [row["runtime"] for row in runtimes]
    for table, rows in (
        ("runtime-lib-additions.tsv", libraries),
        ("runtime-commands.tsv", commands),
        ("bundled-packages.tsv", bundled),
    ):
        for row in rows:
            if row["runtime"] not in known_ids:
                raise SourceError(f"{table}: runtime {row['runtime']!r} is not in runtimes.tsv")

    out.append("/// Every runtime of the dumps, in the order of runtimes.tsv.")
    out.append("pub static RUNTIME_FACTS: &[RuntimeFacts] = &[")
    for row in runtimes:
        runtime = row["runtime"]
        if row["os"] not in OSES:
            raise SourceError(f"runtimes.tsv: {runtime}: unknown os {row['os']!r}")
        glibc = first_number(row["glibc"], r"^(\d+\.\d+)", "glibc version", runtime)
        language = row["lang_version"].split(" ")[0]
        out.append("    RuntimeFacts {")
        out.append(f"        id: {rust_string(runtime)},")
        out.append(f"        os: {RUST_OS[row['os']]},")
        out.append(f"        glibc: {rust_string(glibc)},")
        out.append(f"        language_version: {rust_string(language)},")
        out.append(f"        // Last dump seen: {row['last_dump_seen']}")
        out.append(f"        path: {string_slice(row['PATH'].split(':'), 8)},")
        out.append(f"        ld_library_path: {string_slice(row['LD_LIBRARY_PATH'].split(':'), 8)},")
        variables = language_env(row["lang_env"], runtime)
        sys_path = python_sys_path(row["lang_search_notes"], runtime)
        if any(name == "PYTHONPATH" for name, _ in variables) and not sys_path:
            raise SourceError(f"runtimes.tsv: {runtime}: a Python runtime without sys.path in lang_search_notes")
        if variables or sys_path:
            out.append(f"        // Language search paths: {row['lang_env_status']}; {row['lang_env_source']}")
        if variables:
            out.append("        language_env: &[")
            for name, entries in variables:
                out.append(f"            ({rust_string(name)}, {string_slice(entries, 12)}),")
            out.append("        ],")
        else:
            out.append("        language_env: &[],")
        out.append(f"        sys_path: {string_slice(sys_path, 8)},")
        dirs = []
        for arch in ARCHES:
            by_dir = {}
            for lib in libraries:
                if lib["runtime"] == runtime and lib["arch"] == arch:
                    by_dir.setdefault(lib["dir"], set()).add(lib["soname"])
            for directory in sorted(by_dir):
                dirs.append((arch, directory, sorted(by_dir[directory])))
        out.append("        libraries: &[")
        for arch, directory, sonames in dirs:
            out.append(f"            ({RUST_ARCH[arch]}, LibraryDir {{")
            out.append(f"                dir: {rust_string(directory)},")
            out.append(f"                sonames: {string_slice(sonames, 16)},")
            out.append("            }),")
        out.append("        ],")
        out.append("        commands: &[")
        for arch in ARCHES:
            names_ = sorted({c["command"] for c in commands if c["runtime"] == runtime and c["arch"] == arch})
            if names_:
                out.append(f"            ({RUST_ARCH[arch]}, {string_slice(names_, 12)}),")
        out.append("        ],")
        packages = []
        absent = []
        for package in bundled:
            if package["runtime"] != runtime:
                continue
            ecosystem = ECOSYSTEMS.get(package["ecosystem"])
            if ecosystem is None:
                raise SourceError(f"bundled-packages.tsv: {runtime}: unknown ecosystem {package['ecosystem']!r}")
            if package["version"] == "ABSENT":
                absent.append((package["package"], package["location"], package["note"]))
                continue
            version = None if package["version"] in ("", "unknown") else package["version"]
            packages.append((package["package"], package["location"], ecosystem, version, package["note"]))
        packages.sort()
        absent.sort()
        sources = sorted({package["source"] for package in bundled if package["runtime"] == runtime})
        if sources:
            out.append(f"        // Bundled packages from: {'; '.join(sources)}")
        out.append("        bundled: &[")
        for name, location, ecosystem, version, note in packages:
            version_text = "None" if version is None else f"Some({rust_string(version)})"
            out.append(
                f"            BundledPackage {{ ecosystem: Ecosystem::{ecosystem}, name: {rust_string(name)}, "
                f"version: {version_text}, path: {rust_string(location)}, note: {rust_string(note)} }},"
            )
        out.append("        ],")
        out.append("        absent: &[")
        for name, location, note in absent:
            out.append("            AbsentPackage {")
            out.append(f"                name: {rust_string(name)},")
            out.append(f"                path: {rust_string(location)},")
            out.append(f"                note: {rust_string(note)},")
            out.append("            },")
        out.append("        ],")
        out.append("    },")
    out.append("];")
    return "\n".join(out) + "\n"


def without_date(text):
    return "\n".join(line for line in text.splitlines() if not line.startswith(GENERATED_LINE))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=default_source(), help="the runtime-facts folder")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="the generated Rust file")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with --output instead of writing")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args()
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    try:
        text = generate(args.source, today)
    except SourceError as error:
        print(f"gen-runtime-facts: {error}", file=sys.stderr)
        return 2
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as handle:
                committed = handle.read()
        except OSError as error:
            print(f"gen-runtime-facts: cannot read {args.output}: {error.strerror}", file=sys.stderr)
            return 2
        if without_date(committed) != without_date(text):
            print(
                f"gen-runtime-facts: {args.output} does not match {args.source}; "
                "run `python3 scripts/gen-runtime-facts.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        return 0
    temporary = args.output + ".tmp"
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(temporary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
