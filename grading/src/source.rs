//! Where a submission comes from: a folder, or an archive (.tar.gz, .tgz, .zip) as Gradescope,
//! Canvas or GitHub Classroom export them. Either way only the student files are taken, found at
//! their handout paths under the submission's own root folder (which may sit a few folders deep),
//! never through a symbolic link, and never more than a student file's size.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use labspec::parts::student_files;

use crate::tree::MAX_STUDENT_FILE;

/// One submission of a class.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its row in the class outputs and its output folder's name: the folder's or archive's name
    /// without the extension.
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
}

/// What a submission is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    TarGz,
    Zip,
}

/// Names the class's own outputs take beside the submissions' folders: never a submission's.
const RESERVED: &[&str] = &["class.csv", "class.json", "class-report.txt", "shard.json"];

/// The most bytes read out of one compressed archive: a bomb stops here.
const MAX_UNPACKED: u64 = 1 << 30;
/// The most entries one archive may hold.
const MAX_ENTRIES: usize = 200_000;
/// How deep under a submission's folder its root may sit.
const MAX_DEPTH: usize = 4;

impl Source {
    /// A submission at `path`: a folder, or an archive by its extension.
    pub fn at(path: &Path) -> Result<Source, String> {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a usable name", path.display()))?;
        let meta = std::fs::symlink_metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (name, kind) = if meta.is_dir() {
            (file, Kind::Folder)
        } else if !meta.is_file() {
            return Err(format!(
                "{}: neither a folder nor a regular file (a link?)",
                path.display()
            ));
        } else if let Some(n) = file.strip_suffix(".tar.gz").or(file.strip_suffix(".tgz")) {
            (n, Kind::TarGz)
        } else if let Some(n) = file.strip_suffix(".zip") {
            (n, Kind::Zip)
        } else {
            return Err(format!(
                "{}: neither a folder nor a .tar.gz, .tgz or .zip archive",
                path.display()
            ));
        };
        Ok(Source {
            name: name.to_string(),
            path: path.to_path_buf(),
            kind,
        })
    }

    /// Puts the submission's student files into `staging` (emptied first) at their handout paths.
    /// `Ok(Err(why))` refuses the submission (a score of 0); `Err` is the grader's own trouble.
    pub fn materialize(&self, staging: &Path) -> Result<Result<(), String>, String> {
        let _ = std::fs::remove_dir_all(staging);
        std::fs::create_dir_all(staging)
            .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        let taken = match self.kind {
            Kind::Folder => from_folder(&self.path, staging),
            Kind::TarGz => from_tar_gz(&self.path, staging),
            Kind::Zip => from_zip(&self.path, staging),
        };
        Ok(match taken {
            Ok(0) => Err(format!(
                "none of the student files ({}) is in it, at any folder depth up to {MAX_DEPTH}",
                student_files().collect::<Vec<_>>().join(", ")
            )),
            Ok(_) => Ok(()),
            Err(why) => Err(why),
        })
    }
}

/// The submissions of a class folder, by name: every folder and archive in it (hidden entries
/// and other files are listed apart, for the report). Names must be unique.
pub fn list(dir: &Path) -> Result<(Vec<Source>, Vec<String>), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    let mut sources: Vec<Source> = Vec::new();
    let mut ignored = Vec::new();
    for e in entries {
        let file = e.file_name().to_string_lossy().into_owned();
        if file.starts_with('.') {
            continue;
        }
        match Source::at(&e.path()) {
            Ok(s) if s.name.is_empty() || RESERVED.contains(&s.name.as_str()) => ignored.push(file),
            Ok(s) => {
                if let Some(other) = sources.iter().find(|o| o.name == s.name) {
                    return Err(format!(
                        "two submissions are called {:?}: {} and {}; rename one",
                        s.name,
                        other.path.display(),
                        s.path.display()
                    ));
                }
                sources.push(s);
            }
            Err(_) => ignored.push(file),
        }
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((sources, ignored))
}

/// Where `rel` (a handout path) sits in an entry's path: the folder above it, when the entry is
/// that file under some root.
fn root_of(entry: &Path, rel: &str) -> Option<PathBuf> {
    // `./raft/src/raft.rs` (what `tar czf x.tgz .` writes) is `raft/src/raft.rs`.
    let entry: Vec<Component> = entry
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let rel: Vec<Component> = Path::new(rel).components().collect();
    let plain = entry.iter().all(|c| matches!(c, Component::Normal(_)));
    if !plain || entry.len() < rel.len() || entry.len() - rel.len() > MAX_DEPTH {
        return None;
    }
    let (root, tail) = entry.split_at(entry.len() - rel.len());
    (tail == rel.as_slice()).then(|| root.iter().collect())
}

/// The submission's root, from the paths of its files (see `choose_root`).
fn find_root<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Result<Option<PathBuf>, String> {
    let found: Vec<PathBuf> = paths
        .flat_map(|p| student_files().filter_map(move |rel| root_of(p, rel)))
        .collect();
    choose_root(&found)
}

/// The submission's root among the paths where student files were found: the shallowest, which
/// must be the only one at its depth.
fn choose_root(found: &[PathBuf]) -> Result<Option<PathBuf>, String> {
    let Some(depth) = found.iter().map(|r| r.components().count()).min() else {
        return Ok(None);
    };
    let mut at_depth: Vec<&PathBuf> = found
        .iter()
        .filter(|r| r.components().count() == depth)
        .collect();
    at_depth.sort();
    at_depth.dedup();
    match at_depth.as_slice() {
        [one] => Ok(Some((*one).clone())),
        many => Err(format!(
            "it holds the student files in more than one folder ({}): submit one copy",
            many.iter()
                .map(|p| format!("{:?}", p.display().to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Copies the student files of a submission folder; returns how many it found.
fn from_folder(dir: &Path, staging: &Path) -> Result<usize, String> {
    let mut files = Vec::new();
    walk(dir, Path::new(""), 0, &mut files)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let Some(root) = find_root(files.iter())? else {
        return Ok(0);
    };
    let mut taken = 0;
    for rel in student_files() {
        let path = root.join(rel);
        if !files.contains(&path) {
            linked_on_the_way(dir, &path, rel)?;
            continue;
        }
        // `walk` saw every folder on the way as a real folder, not a link; the file itself:
        let bytes = read_regular(&dir.join(&path), rel)?;
        put(staging, rel, &bytes)?;
        taken += 1;
    }
    Ok(taken)
}

/// A student file's bytes (at most one more than a student file may have), opened without
/// following a link and without blocking, and read only when what was opened is a regular file:
/// a FIFO or a device never blocks the grader, and a link swapped in after the walk is refused.
fn read_regular(path: &Path, rel: &str) -> Result<Vec<u8>, String> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(format!("{rel} is a symbolic link: submit the file itself"));
        }
        Err(e) => return Err(format!("{rel}: {e}")),
    };
    let meta = file.metadata().map_err(|e| format!("{rel}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{rel} is not a regular file"));
    }
    read_capped(file).map_err(|e| format!("{rel}: {e}"))
}

/// Refuses a student file that is missing because a folder on its way is a symbolic link (which
/// could lead anywhere, even to the grader's reference).
fn linked_on_the_way(dir: &Path, path: &Path, rel: &str) -> Result<(), String> {
    let mut at = dir.to_path_buf();
    for c in path.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "the way to {rel} goes through a symbolic link ({}): submit the files themselves",
                    at.strip_prefix(dir).unwrap_or(&at).display()
                ));
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// The paths (relative to the submission) of the files and links under `dir`, not following
/// links, down to the depth a root and a student file can reach.
fn walk(dir: &Path, rel: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH + 3 {
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let kind = e.file_type()?;
        let rel = rel.join(e.file_name());
        if kind.is_dir() {
            walk(&e.path(), &rel, depth + 1, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// Writes one student file into the staging folder.
fn put(staging: &Path, rel: &str, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() as u64 > MAX_STUDENT_FILE {
        return Err(format!(
            "{rel} has more than {MAX_STUDENT_FILE} bytes, the most a student file may have"
        ));
    }
    let to = staging.join(rel);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {rel}: {e}"))?;
    }
    std::fs::write(&to, bytes).map_err(|e| format!("cannot write {}: {e}", to.display()))
}

/// The largest archive a submission may be (checked before it is opened).
const MAX_ARCHIVE: u64 = 256 << 20;

/// An archive's entry: its path and whether it is a regular file.
struct Entry {
    path: PathBuf,
    regular: bool,
}

/// The handout paths to take from an archive, with the entry path each comes from, given the
/// entries' paths (the first pass: nothing is unpacked but the listing).
fn choose_entries(entries: &[Entry]) -> Result<Vec<(&'static str, PathBuf)>, String> {
    let Some(root) = find_root(entries.iter().map(|e| &e.path))? else {
        return Ok(Vec::new());
    };
    let mut chosen = Vec::new();
    for rel in student_files() {
        let path = root.join(rel);
        let Some(e) = entries.iter().rev().find(|e| e.path == path) else {
            continue;
        };
        if !e.regular {
            return Err(format!(
                "{rel} is not a regular file in the archive (a link?): submit the file itself"
            ));
        }
        chosen.push((rel, path));
    }
    Ok(chosen)
}

/// Reads at most `MAX_STUDENT_FILE + 1` bytes of an entry.
fn read_capped(r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    r.take(MAX_STUDENT_FILE + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Opens an archive no larger than `MAX_ARCHIVE`.
fn open_archive(path: &Path) -> Result<std::fs::File, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot open it: {e}"))?
        .len();
    if size > MAX_ARCHIVE {
        return Err(format!(
            "the archive has {size} bytes; a submission may have at most {MAX_ARCHIVE}"
        ));
    }
    Ok(file)
}

/// A tar.gz's entries, one pass over its stream (at most `MAX_UNPACKED` bytes unpacked);
/// `take` says which entries' bytes to keep.
fn tar_pass(
    path: &Path,
    take: &[(&'static str, PathBuf)],
    staging: &Path,
) -> Result<Vec<Entry>, String> {
    let bad = |e: std::io::Error| format!("the archive cannot be read: {e}");
    let file = open_archive(path)?;
    let unpacked = flate2::read::GzDecoder::new(std::io::BufReader::new(file)).take(MAX_UNPACKED);
    let mut archive = tar::Archive::new(unpacked);
    let mut entries = Vec::new();
    for (n, entry) in archive.entries().map_err(bad)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!("the archive has more than {MAX_ENTRIES} entries"));
        }
        let entry = entry.map_err(bad)?;
        let p = without_dots(&entry.path().map_err(bad)?);
        let regular = entry.header().entry_type().is_file();
        // The last entry of a path wins, as when the archive is unpacked.
        if let Some((rel, _)) = take.iter().find(|(_, want)| *want == p) {
            put(staging, rel, &read_capped(entry).map_err(bad)?)?;
        }
        entries.push(Entry { path: p, regular });
    }
    Ok(entries)
}

fn from_tar_gz(path: &Path, staging: &Path) -> Result<usize, String> {
    let entries = tar_pass(path, &[], staging)?;
    let chosen = choose_entries(&entries)?;
    tar_pass(path, &chosen, staging)?;
    Ok(chosen.len())
}

/// A zip entry's path: its name with `\` read as `/` (zips made on Windows), or none when the
/// name climbs out (`..`) or is absolute, which is never a student file.
fn zip_path(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(name.replace('\\', "/"));
    p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| without_dots(&p))
}

/// `p` without its `.` components (`./raft/src/raft.rs` is `raft/src/raft.rs`).
fn without_dots(p: &Path) -> PathBuf {
    p.components().filter(|c| *c != Component::CurDir).collect()
}

fn from_zip(path: &Path, staging: &Path) -> Result<usize, String> {
    let bad = |e: zip::result::ZipError| format!("the archive cannot be read: {e}");
    let file = open_archive(path)?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(bad)?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("the archive has more than {MAX_ENTRIES} entries"));
    }
    // First the listing (the central directory: nothing is unpacked), then the chosen entries.
    let mut entries = Vec::new();
    let mut index = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(bad)?;
        let Some(p) = zip_path(entry.name()) else {
            continue;
        };
        entries.push(Entry {
            path: p,
            regular: entry.is_file() && !entry.is_symlink(),
        });
        index.push(i);
    }
    let chosen = choose_entries(&entries)?;
    for (rel, want) in &chosen {
        let Some(at) = entries.iter().rposition(|e| e.path == *want) else {
            continue;
        };
        let entry = archive.by_index(index[at]).map_err(bad)?;
        let bytes = read_capped(entry).map_err(|e| format!("the archive cannot be read: {e}"))?;
        put(staging, rel, &bytes)?;
    }
    Ok(chosen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_found_at_any_shallow_depth() {
        let at = |p: &str| root_of(Path::new(p), "raft/src/raft.rs");
        assert_eq!(at("raft/src/raft.rs"), Some(PathBuf::new()));
        assert_eq!(
            at("alice/raftlab/raft/src/raft.rs"),
            Some("alice/raftlab".into())
        );
        assert_eq!(at("x/../raft/src/raft.rs"), None);
        assert_eq!(at("/raft/src/raft.rs"), None);
        assert_eq!(at("a/b/c/d/e/raft/src/raft.rs"), None);
        assert_eq!(at("raft/src/raft.rs.orig"), None);
        assert_eq!(at("./raft/src/raft.rs"), Some(PathBuf::new()));
        assert_eq!(
            zip_path("sub\\raft\\src\\raft.rs"),
            Some("sub/raft/src/raft.rs".into())
        );
        assert_eq!(zip_path("../raft/src/raft.rs"), None);
        assert_eq!(zip_path("/raft/src/raft.rs"), None);
        let found = [PathBuf::from("a"), PathBuf::from("b")];
        assert!(choose_root(&found).is_err());
        let found = [PathBuf::from("a/b"), PathBuf::from("c")];
        assert_eq!(choose_root(&found), Ok(Some(PathBuf::from("c"))));
    }

    /// A scratch folder of this test process's own.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("raftlab-source-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn tar_gz(path: &Path, name: &str, bytes: &[u8]) {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes).unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn archives_give_only_student_files_of_bounded_size() {
        let d = scratch("archives");
        let big = d.join("big.tar.gz");
        tar_gz(&big, "sub/raft/src/raft.rs", &vec![b'a'; 3 << 20]);
        let why = Source::at(&big)
            .unwrap()
            .materialize(&d.join("s1"))
            .unwrap();
        assert!(why.unwrap_err().contains("has more than 1048576 bytes"));
        let ok = d.join("ok.tgz");
        tar_gz(&ok, "sub/raft/src/raft.rs", b"fn main() {}");
        let src = Source::at(&ok).unwrap();
        assert_eq!((src.name.as_str(), src.kind), ("ok", Kind::TarGz));
        src.materialize(&d.join("s2")).unwrap().unwrap();
        assert_eq!(
            std::fs::read(d.join("s2/raft/src/raft.rs")).unwrap(),
            b"fn main() {}"
        );
        // `tar czf x.tgz .` names its entries `./...`.
        let dots = d.join("dots.tar.gz");
        tar_gz(&dots, "./raft/src/raft.rs", b"fn dots() {}");
        Source::at(&dots)
            .unwrap()
            .materialize(&d.join("s4"))
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read(d.join("s4/raft/src/raft.rs")).unwrap(),
            b"fn dots() {}"
        );
        // A FIFO where a student file should be is refused, never opened (it would block).
        let fifo = d.join("fifo");
        std::fs::create_dir_all(fifo.join("raft/src")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(fifo.join("raft/src/raft.rs"))
            .status()
            .unwrap();
        assert!(made.success());
        let why = Source::at(&fifo)
            .unwrap()
            .materialize(&d.join("s3"))
            .unwrap();
        assert!(why.unwrap_err().contains("not a regular file"));
        let other = d.join("notes.txt");
        std::fs::write(&other, "x").unwrap();
        assert!(Source::at(&other).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
