//! The docker runtime's images, built locally without any registry: a
//! `FROM scratch` context assembled in memory (the host-built binary, exactly
//! the shared libraries `ldd` lists, the dynamic loader, and Debian's
//! `busybox-static` for a shell/sleep), sent to the engine's build API, tagged
//! `graceful-lab/<name>:<hash12>` by content so a second run builds nothing.
//!
//! Where a registry is reachable, `LAB_IMAGE_ENVOY` / `LAB_IMAGE_HAPROXY`
//! name an official image to use instead (pulled only then, and only that).
//!
//! It must never pull an image nobody named, push, write a build context to
//! disk, or remove an image it did not build (`graceful-lab=1` label).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use crate::apps::Apps;
use crate::tools::{Tool, ToolName, Tools};

/// The label every image, container and network of the lab carries.
pub const LAB_LABEL: &str = "graceful-lab";
/// Busybox applets linked in every image (the script needs sh, awk, date, sleep).
const APPLETS: &[&str] = &[
    "sh", "sleep", "awk", "date", "cat", "sed", "grep", "tr", "env", "echo", "printf", "ls",
    "true", "false", "expr", "head", "tail", "wc", "kill", "ps", "wget", "nc",
];

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not an ELF binary (a wrapper script?): the docker runtime needs the real binary"
    )]
    NotElf { path: PathBuf },
    #[error("ldd {path}: {reason}")]
    Ldd { path: PathBuf, reason: String },
    #[error("the images need {0}, which the tools found lack (harness tools --fetch)")]
    NoTool(ToolName),
    #[error("image {tag}: path {path:?} too long for the tar header")]
    PathTooLong { tag: String, path: String },
    #[error("building image {tag}: {reason}")]
    Build { tag: String, reason: String },
    #[error("image {image} (named by {var}): {reason}")]
    Named {
        image: String,
        var: String,
        reason: String,
    },
}

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

mod context;
use context::TarWriter;
pub use context::{ldd, parse_ldd};

/// The images of the lab, by what they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabImages {
    pub pause: String,
    pub backend: String,
    /// hc + drain + graceful-drain.sh + sh + curl.
    pub hc: String,
    pub envoy: String,
    pub haproxy: String,
    /// Images named by `LAB_IMAGE_*` instead of built: their program is
    /// run by its name (found on the image's PATH), not at our path.
    pub official: Vec<String>,
}

/// The images a user may replace with an official one, and the env var
/// naming it.
pub const OFFICIAL: &[(&str, &str)] = &[
    ("envoy", "LAB_IMAGE_ENVOY"),
    ("haproxy", "LAB_IMAGE_HAPROXY"),
];

/// Where each program lives inside its image.
pub mod paths {
    pub const BACKEND: &str = "/usr/local/bin/backend";
    pub const HC: &str = "/usr/local/bin/hc";
    pub const DRAIN: &str = "/usr/local/bin/drain";
    pub const DRAIN_SCRIPT: &str = "/usr/local/bin/graceful-drain.sh";
    pub const CURL: &str = "/usr/bin/curl";
    pub const ENVOY: &str = "/usr/local/bin/envoy";
    pub const HAPROXY: &str = "/usr/sbin/haproxy";
}

/// One image's outcome, for the report.
#[derive(Debug, Clone)]
pub struct ImageReport {
    pub name: String,
    pub tag: String,
    /// false when the tag was already there (cache hit).
    pub built: bool,
    pub size_bytes: u64,
    pub took: Duration,
}

/// The five specs of the lab.
pub fn lab_specs(apps: &Apps, tools: &Tools) -> Result<Vec<ImageSpec>, ImageError> {
    let tool = |n: ToolName| tools.get(n).ok_or(ImageError::NoTool(n));
    let bb = tool(ToolName::Busybox)?;
    Ok(vec![
        ImageSpec::new("pause").busybox(bb)?,
        ImageSpec::new("backend")
            .busybox(bb)?
            .binary(&apps.backend, paths::BACKEND)?,
        ImageSpec::new("hc")
            .busybox(bb)?
            .binary(&apps.hc, paths::HC)?
            .binary(&apps.drain, paths::DRAIN)?
            .tool(tool(ToolName::Curl)?, paths::CURL)?
            .plain(&apps.drain_script, paths::DRAIN_SCRIPT, 0o755),
        ImageSpec::new("envoy")
            .busybox(bb)?
            .tool(tool(ToolName::Envoy)?, paths::ENVOY)?,
        ImageSpec::new("haproxy")
            .busybox(bb)?
            .tool(tool(ToolName::Haproxy)?, paths::HAPROXY)?,
    ])
}

/// Builds (or finds, by content tag) every image of the lab.
pub async fn ensure_lab_images(
    docker: &Docker,
    apps: &Apps,
    tools: &Tools,
) -> Result<(LabImages, Vec<ImageReport>), ImageError> {
    let mut reports = Vec::new();
    let mut official = Vec::new();
    for spec in lab_specs(apps, tools)? {
        let named = OFFICIAL
            .iter()
            .find(|(n, _)| *n == spec.name)
            .and_then(|(_, var)| Some((std::env::var(var).ok()?, *var)))
            .filter(|(v, _)| !v.trim().is_empty());
        match named {
            Some((image, var)) => {
                let mut r = ensure_named(docker, image.trim(), var).await?;
                r.name = spec.name.clone();
                official.push(r.tag.clone());
                reports.push(r);
            }
            None => reports.push(ensure_image(docker, &spec).await?),
        }
    }
    let tag = |n: &str| {
        reports
            .iter()
            .find(|r| r.name == n)
            .map(|r| r.tag.clone())
            .unwrap_or_default()
    };
    let images = LabImages {
        pause: tag("pause"),
        backend: tag("backend"),
        hc: tag("hc"),
        envoy: tag("envoy"),
        haproxy: tag("haproxy"),
        official,
    };
    Ok((images, reports))
}

/// An image named by the user: found locally, else pulled (bounded by 5
/// minutes); the error names the image and the variable that named it.
pub async fn ensure_named(
    docker: &Docker,
    image: &str,
    var: &str,
) -> Result<ImageReport, ImageError> {
    let start = Instant::now();
    let berr = |reason: String| ImageError::Named {
        image: image.to_string(),
        var: var.to_string(),
        reason,
    };
    let found = |img: bollard::models::ImageInspect, built| ImageReport {
        name: image.to_string(),
        tag: image.to_string(),
        built,
        size_bytes: img.size.unwrap_or(0).max(0) as u64,
        took: start.elapsed(),
    };
    if let Ok(img) = docker.inspect_image(image).await {
        return Ok(found(img, false));
    }
    let opts = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_image(image)
        .build();
    let pull = async {
        let mut stream = docker.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| berr(format!("pull failed: {e}")))?;
        }
        Ok::<(), ImageError>(())
    };
    tokio::time::timeout(Duration::from_secs(300), pull)
        .await
        .map_err(|_| berr("pull did not finish within 5 minutes".into()))??;
    let img = docker
        .inspect_image(image)
        .await
        .map_err(|e| berr(format!("not there after the pull: {e}")))?;
    Ok(found(img, true))
}

/// Builds `spec` unless its content tag exists already.
pub async fn ensure_image(docker: &Docker, spec: &ImageSpec) -> Result<ImageReport, ImageError> {
    let start = Instant::now();
    let tag = spec.tag()?;
    let berr = |reason: String| ImageError::Build {
        tag: tag.clone(),
        reason,
    };
    if let Ok(img) = docker.inspect_image(&tag).await {
        return Ok(ImageReport {
            name: spec.name.clone(),
            tag: tag.clone(),
            built: false,
            size_bytes: img.size.unwrap_or(0).max(0) as u64,
            took: start.elapsed(),
        });
    }
    let ctx = spec.context(&tag)?;
    let labels: HashMap<&str, &str> = [(LAB_LABEL, "1"), ("graceful-lab.image", &spec.name)]
        .into_iter()
        .collect();
    let opts = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(ctx.into())));
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| berr(e.to_string()))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message).or(info.error) {
            return Err(berr(e));
        }
        if let Some(s) = info.stream {
            last = s.trim().to_string();
        }
    }
    let img = docker
        .inspect_image(&tag)
        .await
        .map_err(|e| berr(format!("not there after the build ({last}): {e}")))?;
    Ok(ImageReport {
        name: spec.name.clone(),
        tag,
        built: true,
        size_bytes: img.size.unwrap_or(0).max(0) as u64,
        took: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n";
        let libs = parse_ldd(text).unwrap();
        assert_eq!(
            libs,
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("libfoo.so => not found").is_err());
    }

    #[test]
    fn tar_headers_are_valid_ustar() {
        let mut t = TarWriter::default();
        t.file("a/b.txt", b"hello", 0o644).unwrap();
        t.symlink("bin/sh", "/bin/busybox").unwrap();
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(40));
        t.file(&long, b"x", 0o644).unwrap();
        let buf = t.finish();
        assert_eq!(buf.len() % 512, 0);
        assert_eq!(&buf[257..262], b"ustar");
        assert_eq!(&buf[512..517], b"hello");
        // checksum of the first header
        let mut h = buf[..512].to_vec();
        let stored = u32::from_str_radix(
            std::str::from_utf8(&h[148..154])
                .unwrap()
                .trim_matches('\0'),
            8,
        )
        .unwrap();
        h[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, h.iter().map(|b| *b as u32).sum::<u32>());
    }

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
