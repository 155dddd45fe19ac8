#!/usr/bin/env python3
"""Writes a class of 30 submissions for grading/bench/class.sh: the reference (a nested folder and a
.tar.gz), the skeleton (a .zip), a submission that does not compile, three hostile ones (two the
lint gate stops, one whose raft/src is a link to the grader's reference) and 23 buggy variants (the
raft mutants of grading/mutants/, planted in the reference's raft.rs).
Usage: make-class.py REPO OUT_DIR"""
import io, os, sys, tarfile, zipfile

repo, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
STUDENT = ["raft/src/raft.rs"] + [f"{c}/src/{f}.rs" for c in ("kvraft", "shardctrler", "shardkv")
                                   for f in ("client", "server", "common")]

def read(p):
    with open(os.path.join(repo, p), encoding="utf-8") as f:
        return f.read()

def reference():
    files = {}
    for f in STUDENT:
        d, name = os.path.split(f)
        r = os.path.join(d, "reference", name)
        files[f] = read(r) if os.path.exists(os.path.join(repo, r)) else read(f)
    return files

def skeleton():
    return {f: read(f) for f in STUDENT}

def folder(name, files, prefix=""):
    for f, text in files.items():
        p = os.path.join(out, name, prefix, f)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text)

def tgz(name, files, prefix=""):
    with tarfile.open(os.path.join(out, name + ".tar.gz"), "w:gz") as t:
        for f, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + f)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))

def zipped(name, files, prefix=""):
    with zipfile.ZipFile(os.path.join(out, name + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for f, text in files.items():
            z.writestr(prefix + f, text)

def mutant(path):
    text = open(path, encoding="utf-8").read()
    head, body = text.split("<<<<<<<\n", 1)
    meta = dict(l.split(": ", 1) for l in head.strip().splitlines())
    old, rest = body.split("=======\n", 1)
    new = rest.split(">>>>>>>", 1)[0]
    return meta, old, new

def attack(case):
    src = read("raft/src/raft.rs")
    body = read(f"grading/tests/hostile/{case}/attack.rs")
    stmt = body.splitlines()[0].removeprefix("// In Raft::new: ")
    marker = "let saved = persister.read_raft_state();"
    return src.replace(marker, stmt + "\n        " + marker, 1) + "\n" + body

ref = reference()
folder("ref-folder", ref, "raftlab-main/")
tgz("ref-archive", ref, "handout/")
zipped("skeleton", skeleton())
folder("broken-build", dict(ref, **{"raft/src/raft.rs": ref["raft/src/raft.rs"] + "\nfn oops( {}\n"}))
for case in ("read_others", "daemon"):
    folder("hostile-" + case.replace("_", "-"), dict(skeleton(), **{"raft/src/raft.rs": attack(case)}))
link = os.path.join(out, "hostile-link")
folder("hostile-link", skeleton())
os.remove(os.path.join(link, "raft/src/raft.rs"))
os.rmdir(os.path.join(link, "raft/src"))
os.symlink(os.path.join(repo, "raft/src/reference"), os.path.join(link, "raft/src"))
mdir = os.path.join(repo, "grading/mutants")
n = 0
for m in sorted(os.listdir(mdir)):
    if not m.endswith(".mutant") or n == 23:
        continue
    meta, old, new = mutant(os.path.join(mdir, m))
    if meta["file"] != "raft/src/reference/raft.rs":
        continue
    text = ref["raft/src/raft.rs"]
    assert text.count(old) == 1, m
    folder("bug-" + m.removesuffix(".mutant"), dict(ref, **{"raft/src/raft.rs": text.replace(old, new)}))
    n += 1
print(len(os.listdir(out)), "submissions in", out)
