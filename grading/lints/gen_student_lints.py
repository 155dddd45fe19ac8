#!/usr/bin/env python3
"""Generates the student crates' clippy.toml files (raft, kvraft, shardctrler, shardkv; identical): the workspace's determinism lints
(copied verbatim from the root clippy.toml) plus the student gate, which bans every item of the
std modules graded code may not use. Clippy takes no module paths, so the items (free functions,
types, traits, and the inherent and trait methods of those types and traits, so that a value
obtained indirectly is caught too) are enumerated from the toolchain's std HTML docs.

Run from the workspace root after a toolchain update:  python3 grading/lints/gen_student_lints.py [TOOLCHAIN]
"""
import json, os, re, sys

TOOLCHAIN = sys.argv[1] if len(sys.argv) > 1 else "1.95.0-x86_64-unknown-linux-gnu"
DOC = os.path.expanduser(f"~/.rustup/toolchains/{TOOLCHAIN}/share/doc/rust/html/std")

R_FS = "graded code may not touch the file system: keep state in memory and persist through Persister"
R_ENV = "graded code may not read or change the environment (variables, arguments, working directory)"
R_PROC = "graded code may not start, signal or end processes"
R_NET = "graded code may not use the real network: peers talk only through labrpc"
R_OS = "graded code may not use OS handles (files, sockets, processes, descriptors)"
R_THREAD = "threads escape the simulation: use labrpc::sim::spawn, and tokio::time::sleep to wait"
R_HOOK = "the panic hook belongs to the harness: graded code may not set or take it"
R_STDIN = "standard input is the grader's channel: graded code may not read it"
R_ALLOC = "the allocator belongs to the harness: graded code may not replace or bypass it"
R_HARNESS = "the harness is the tester's, not yours: graded code may not start runs or act as the tester"

# (module under std, reason, submodules to skip: other targets' code, which cannot compile here)
MODULES = [
    ("env", R_ENV, ()), ("fs", R_FS, ()), ("process", R_PROC, ()), ("net", R_NET, ()),
    ("os", R_OS, ("darwin", "wasi", "wasip2", "windows")), ("thread", R_THREAD, ()),
]
# Single items of otherwise allowed modules: (path, kind, reason); kind "fn" or "type" (a type's
# inherent methods, or a trait's methods, are added as well).
EXTRA = [
    ("std::panic::set_hook", "fn", R_HOOK), ("std::panic::take_hook", "fn", R_HOOK),
    ("std::panic::update_hook", "fn", R_HOOK),
    ("std::io::stdin", "fn", R_STDIN), ("std::io::Stdin", "type", R_STDIN),
    ("std::io::StdinLock", "type", R_STDIN),
    ("std::alloc::System", "type", R_ALLOC), ("std::alloc::GlobalAlloc", "type", R_ALLOC),
] + [(f"std::alloc::{f}", "fn", R_ALLOC) for f in
     ("alloc", "alloc_zeroed", "dealloc", "realloc", "set_alloc_error_hook", "take_alloc_error_hook")
] + [(f"std::path::Path::{m}", "fn", R_FS) for m in
     ("exists", "try_exists", "is_file", "is_dir", "is_symlink", "metadata", "symlink_metadata",
      "canonicalize", "read_link", "read_dir")
] + [("std::path::absolute", "fn", R_ENV)]
# The tester's side of labrpc: everything in labrpc::harness that starts or describes a run, and the
# two escape hatches of labrpc::sim that only the tester may use (making nodes, acting as the tester).
# labrpc::sim::student_call{,_sync} are the tester's too, but left allowed: they only rename the
# student's method in the watchdog's and the panic report's messages, never change a run.
HARNESS = ["labrpc::harness::run", "labrpc::harness::TestRun::new", "labrpc::harness::TestRun::run",
           "labrpc::harness::TestRun::run_then", "labrpc::harness::test_seed",
           "labrpc::harness::test_name", "labrpc::harness::replay_command",
           "labrpc::harness::init_logging",
           "labrpc::sim::Node::new", "labrpc::sim::Node::tester"]
MACROS = [("include", "graded code may not read files at compile time"),
          ("include_str", "graded code may not read files at compile time"),
          ("include_bytes", "graded code may not read files at compile time"),
          ("env", "graded code may not read the build environment"),
          ("option_env", "graded code may not read the build environment")]
# Left out on purpose: thread_local! expands to LocalKey, and a thread-local is no more than a static
# here (the whole simulation runs on one thread).
EXCLUDE = {"std::thread::LocalKey"}
TYPE_KINDS = ("struct", "enum", "union", "trait", "type", "foreigntype")


def sidebar(mod_dir):
    (name,) = [f for f in os.listdir(mod_dir) if f.startswith("sidebar-items")]
    text = open(os.path.join(mod_dir, name)).read()
    return json.loads(text[text.index("{"): text.rindex("}") + 1])


def methods(page):
    """Inherent methods of a type (not Deref's, not trait impls'); all methods of a trait."""
    html = open(page).read()
    if "/trait." in page:
        sec = html[: min(i for i in (html.find('<h2 id="implementors"'),
                                     html.find('<h2 id="foreign-impls"'), len(html)) if i >= 0)]
        pat = r'id="(?:ty)?method\.([A-Za-z0-9_]+)"'
    else:
        start = html.find('<h2 id="implementations"')
        if start < 0:
            return []
        end = html.find("<h2 id=", start + 1)
        sec = html[start: end if end >= 0 else len(html)]
        pat = r'id="method\.([A-Za-z0-9_]+)"'
    return list(dict.fromkeys(re.findall(pat, sec)))


def page_of(path):
    parts = path.split("::")[1:]
    d = os.path.join(DOC, *parts[:-1])
    for kind in TYPE_KINDS:
        p = os.path.join(d, f"{kind}.{parts[-1]}.html")
        if os.path.exists(p):
            return p
    raise SystemExit(f"no doc page for {path}")


def walk(mod, reason, skip, fns, types, label=None):
    label = label or mod
    items = sidebar(os.path.join(DOC, *mod.split("::")[1:]))
    for f in items.get("fn", []):
        fns.append((f"{mod}::{f}", reason, label))
    for kind in TYPE_KINDS:
        for t in items.get(kind, []):
            if f"{mod}::{t}" in EXCLUDE:
                continue
            types.append((f"{mod}::{t}", reason, label))
            if kind != "type":
                page = os.path.join(DOC, *mod.split("::")[1:], f"{kind}.{t}.html")
                fns.extend((f"{mod}::{t}::{m}", reason, label) for m in methods(page))
    for sub in items.get("mod", []):
        if sub not in skip:
            walk(f"{mod}::{sub}", reason, (), fns, types, label)


def split_root(text):
    """The root clippy.toml as (leading comment, {key: [entry lines]})."""
    head, arrays, key = [], {}, None
    for line in text.splitlines():
        m = re.match(r"^([a-z-]+) = \[$", line)
        if m:
            key = m.group(1); arrays[key] = []
        elif line == "]":
            key = None
        elif key:
            arrays[key].append(line)
        else:
            head.append(line)
    return head, arrays


def main():
    fns, types = [], []
    for mod, reason, skip in MODULES:
        walk(f"std::{mod}", reason, skip, fns, types,
             f"std::{mod} (all of it: " + ", ".join(m for m in sidebar(os.path.join(DOC, mod)).get("mod", []) if m not in skip) + ")" if skip else None)
    for path, kind, reason in EXTRA:
        label = {R_HOOK: "setting the panic hook", R_STDIN: "standard input", R_ALLOC: "the global allocator",
                 R_FS: "Path's file-system queries", R_ENV: "the working directory"}[reason]
        if kind == "fn":
            fns.append((path, reason, label))
        else:
            types.append((path, reason, label))
            fns.extend((f"{path}::{m}", reason, label) for m in methods(page_of(path)))
    fns += [(p, R_HARNESS, "the harness's entry points") for p in HARNESS]
    head, arrays = split_root(open("clippy.toml").read())
    out = ["# The clippy configuration of this crate's student files (clippy reads the clippy.toml nearest",
           "# the crate, so this file replaces the workspace root's for it). The crate's lib.rs forbids these",
           "# lints, so `cargo clippy` shows every use as an error, whatever `#[allow]` the code carries, and",
           "# the grader's lint gate gives a submission with one 0 points. Generated, with the determinism",
           "# lints of the root clippy.toml first and verbatim, by grading/lints/gen_student_lints.py from the std docs",
           f"# of {TOOLCHAIN}: the clippy.toml files of raft, kvraft, shardctrler and shardkv are identical.", "#"] + head
    counts = {}
    for key, new in (("disallowed-methods", fns), ("disallowed-types", types), ("disallowed-macros", None)):
        lines = arrays.get(key, [])
        seen = set(re.findall(r'path = "([^"]+)"', "\n".join(lines)))
        out.append(f"{key} = [")
        out.extend(lines)
        if key == "disallowed-macros":
            out.append("    # The student gate: compile-time reads of files and of the build environment.")
            for name, reason in MACROS:
                out.append(f'    {{ path = "std::{name}", reason = "{reason}" }},')
                counts[(key, "macros")] = counts.get((key, "macros"), 0) + 1
        else:
            out.append("    # The student gate: every item of std::{env, fs, process, net, os, thread} but LocalKey")
            out.append("    # (thread_local! needs it), with the types' inherent methods and the traits' methods; and")
            out.append("    # " + ("the panic hook, stdin, the allocator, Path's file-system queries, the harness's entry points."
                              if key == "disallowed-methods" else "standard input and the allocator."))
            group = None
            for path, reason, label in new:
                if path in seen:
                    continue
                seen.add(path)
                if label != group:
                    group = label
                    out.append(f"    # {label}")
                counts[(key, label)] = counts.get((key, label), 0) + 1
                out.append(f'    {{ path = "{path}", reason = "{reason}" }},')
        out.append("]")
    text = "\n".join(out) + "\n"
    for crate in ("raft", "kvraft", "shardctrler", "shardkv"):
        open(os.path.join(crate, "clippy.toml"), "w").write(text)
    for (key, label), n in counts.items():
        print(f"{key:20} {n:4}  {label}")


main()
