//! What goes into one image: its root file system (busybox and its
//! applets, binaries with the libraries `ldd` lists, plain files), the
//! content hash its tag is made of, and its build context.
//!
//! It must never write to disk nor talk to the engine.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

use super::context::{ldd, TarWriter};
use super::{ImageError, LAB_LABEL};
use crate::tools::Tool;

/// Busybox applets linked in every image (the script needs sh, awk, date, sleep).
const APPLETS: &[&str] = &[
    "sh", "sleep", "awk", "date", "cat", "sed", "grep", "tr", "env", "echo", "printf", "ls",
    "true", "false", "expr", "head", "tail", "wc", "kill", "ps", "wget", "nc",
];

/// One entry of an image's root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File { host: PathBuf, mode: u32 },
    Symlink { target: String },
    Dir,
}

/// What goes into one image: a name and its root file system.
#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    /// `backend`, `hc`, `envoy`, `haproxy`, `pause`.
    pub name: String,
    /// Image path (absolute, no leading `/` kept) -> entry. Sorted: the
    /// context and so the hash are deterministic.
    entries: BTreeMap<String, Entry>,
}

impl ImageSpec {
    pub fn new(name: &str) -> Self {
        let mut s = ImageSpec {
            name: name.to_string(),
            entries: BTreeMap::new(),
        };
        s.entries.insert("tmp".into(), Entry::Dir);
        s
    }

    fn file(&mut self, host: &Path, at: &str, mode: u32) {
        self.entries.insert(
            at.trim_start_matches('/').to_string(),
            Entry::File {
                host: host.to_path_buf(),
                mode,
            },
        );
    }

    /// Busybox (static) at /bin/busybox plus its applets as symlinks.
    pub fn busybox(mut self, busybox: &Tool) -> Result<Self, ImageError> {
        if !read_head(&busybox.elf)?.starts_with(b"\x7fELF") {
            return Err(ImageError::NotElf {
                path: busybox.elf.clone(),
            });
        }
        self.file(&busybox.elf, "/bin/busybox", 0o755);
        for a in APPLETS {
            self.entries.insert(
                format!("bin/{a}"),
                Entry::Symlink {
                    target: "/bin/busybox".into(),
                },
            );
        }
        Ok(self)
    }

    /// A dynamically linked binary at `at` plus every library `ldd` lists
    /// (each at the path `ldd` resolved, contents dereferenced) and the loader.
    pub fn binary(self, host: &Path, at: &str) -> Result<Self, ImageError> {
        self.elf_from(host, None, at)
    }

    /// A tool's real ELF at `at`: for a fetched one, the binary inside its
    /// extracted root, with the root's libraries at their path in the root.
    pub fn tool(self, tool: &Tool, at: &str) -> Result<Self, ImageError> {
        self.elf_from(&tool.elf, tool.root.as_deref(), at)
    }

    fn elf_from(mut self, host: &Path, root: Option<&Path>, at: &str) -> Result<Self, ImageError> {
        let head = read_head(host)?;
        if !head.starts_with(b"\x7fELF") {
            return Err(ImageError::NotElf {
                path: host.to_path_buf(),
            });
        }
        self.file(host, at, 0o755);
        for lib in ldd(host, root)? {
            let inside = root
                .and_then(|r| lib.strip_prefix(r).ok())
                .map(|rel| Path::new("/").join(rel))
                .unwrap_or_else(|| lib.clone());
            self.file(&lib, &inside.display().to_string(), 0o755);
        }
        Ok(self)
    }

    /// A plain file (a script, a config).
    pub fn plain(mut self, host: &Path, at: &str, mode: u32) -> Self {
        self.file(host, at, mode);
        self
    }

    /// The image paths this spec holds (for tests and the report).
    pub fn paths(&self) -> Vec<String> {
        self.entries.keys().map(|k| format!("/{k}")).collect()
    }

    /// The content hash: every path, mode, link target and file's bytes.
    pub fn content_hash(&self) -> Result<String, ImageError> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write(DOCKERFILE.as_bytes());
        h.write(self.name.as_bytes());
        let mut h2 = std::collections::hash_map::DefaultHasher::new();
        h2.write_u64(0x9e37_79b9_7f4a_7c15);
        for (path, e) in &self.entries {
            for hh in [&mut h, &mut h2] {
                hh.write(path.as_bytes());
            }
            match e {
                Entry::File { host, mode } => {
                    let bytes = read(host)?;
                    for hh in [&mut h, &mut h2] {
                        hh.write_u32(*mode);
                        hh.write(&bytes);
                    }
                }
                Entry::Symlink { target } => {
                    for hh in [&mut h, &mut h2] {
                        hh.write(target.as_bytes());
                    }
                }
                Entry::Dir => {
                    for hh in [&mut h, &mut h2] {
                        hh.write_u8(b'd');
                    }
                }
            }
        }
        Ok(format!("{:016x}{:016x}", h.finish(), h2.finish())[..12].to_string())
    }

    /// The tag this content gets: `graceful-lab/<name>:<hash12>`.
    pub fn tag(&self) -> Result<String, ImageError> {
        Ok(format!(
            "{LAB_LABEL}/{}:{}",
            self.name,
            self.content_hash()?
        ))
    }

    /// The build context: a tar with the Dockerfile and `rootfs/`.
    pub fn context(&self, tag: &str) -> Result<Vec<u8>, ImageError> {
        let mut t = TarWriter::default();
        let too_long = |path: &str| ImageError::PathTooLong {
            tag: tag.to_string(),
            path: path.to_string(),
        };
        t.file("Dockerfile", DOCKERFILE.as_bytes(), 0o644)
            .map_err(|_| too_long("Dockerfile"))?;
        t.dir("rootfs").map_err(|_| too_long("rootfs"))?;
        let mut dirs = std::collections::BTreeSet::new();
        for path in self.entries.keys() {
            let p = Path::new(path);
            for anc in p.ancestors().skip(1) {
                let a = anc.display().to_string();
                if !a.is_empty() {
                    dirs.insert(a);
                }
            }
        }
        for d in &dirs {
            let at = format!("rootfs/{d}");
            t.dir(&at).map_err(|_| too_long(&at))?;
        }
        for (path, e) in &self.entries {
            let at = format!("rootfs/{path}");
            match e {
                Entry::File { host, mode } => t.file(&at, &read(host)?, *mode),
                Entry::Symlink { target } => t.symlink(&at, target),
                Entry::Dir => t.dir(&at),
            }
            .map_err(|_| too_long(&at))?;
        }
        Ok(t.finish())
    }
}

const DOCKERFILE: &str = "FROM scratch\nCOPY rootfs/ /\n";

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_head(path: &Path) -> Result<Vec<u8>, ImageError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut b = [0u8; 4];
    let n = f.read(&mut b).unwrap_or(0);
    Ok(b[..n].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolName;

    #[test]
    fn the_hash_follows_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "one").unwrap();
        let a = ImageSpec::new("t").plain(&f, "/x", 0o644);
        let h1 = a.content_hash().unwrap();
        assert_eq!(h1, a.content_hash().unwrap());
        assert_eq!(h1.len(), 12);
        std::fs::write(&f, "two").unwrap();
        assert_ne!(h1, a.content_hash().unwrap());
    }

    /// A fetched tool's image gets the binary inside its root and the
    /// root's libraries at their path inside the root (never a host path
    /// under tools/): here a copy of curl and of its libcurl.
    #[test]
    fn a_tool_from_an_extracted_root_maps_its_libraries_into_the_image() {
        let curl = crate::tools::find_in_path("curl").expect("curl on PATH");
        let libcurl = ldd(&curl, None)
            .unwrap()
            .into_iter()
            .find(|l| l.to_string_lossy().contains("libcurl.so"))
            .expect("curl links libcurl");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("curl-root");
        let libdir = root.join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&libdir).unwrap();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::copy(&curl, root.join("usr/bin/curl")).unwrap();
        let name = libcurl.file_name().unwrap();
        std::fs::copy(&libcurl, libdir.join(name)).unwrap();
        let tool = Tool {
            name: ToolName::Curl,
            run: dir.path().join("bin/curl"),
            elf: root.join("usr/bin/curl"),
            root: Some(root.clone()),
            version: "curl test".into(),
            source: crate::tools::Source::ToolsDir,
        };
        let paths = ImageSpec::new("t")
            .tool(&tool, "/usr/bin/curl")
            .unwrap()
            .paths();
        let inside = format!("/usr/lib/x86_64-linux-gnu/{}", name.to_string_lossy());
        assert!(paths.contains(&inside), "{inside} not in {paths:?}");
        let host = dir.path().display().to_string();
        assert!(!paths.iter().any(|p| p.contains(&host)), "{paths:?}");
        // The wrapper itself is no binary: the old failure, named.
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/curl"), "#!/bin/sh\n").unwrap();
        let err = ImageSpec::new("t")
            .binary(&tool.run, "/usr/bin/curl")
            .unwrap_err();
        assert!(matches!(err, ImageError::NotElf { .. }), "{err}");
    }
}
