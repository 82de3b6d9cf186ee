//! What an image's build context is made of: the shared libraries `ldd`
//! lists for a binary, and a minimal deterministic ustar writer (mtime 0,
//! uid/gid 0) so the same content always gives the same context and tag.
//!
//! It must never write to disk: the archive is built in memory.

use super::*;

/// The libraries `ldd` lists for `bin` (resolved paths, loader included),
/// looking first in the library folders of `root` (an extracted package).
pub fn ldd(bin: &Path, root: Option<&Path>) -> Result<Vec<PathBuf>, ImageError> {
    let err = |reason: String| ImageError::Ldd {
        path: bin.to_path_buf(),
        reason,
    };
    let mut cmd = Command::new("ldd");
    if let Some(root) = root {
        let dirs = crate::tools::lib_dirs(root);
        let mut path = std::env::join_paths(dirs).map_err(|e| err(e.to_string()))?;
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
            path.push(":");
            path.push(old);
        }
        cmd.env("LD_LIBRARY_PATH", path);
    }
    let out = cmd.arg(bin).output().map_err(|e| err(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // A static binary: nothing to add.
        if text.contains("not a dynamic executable") || text.contains("statically linked") {
            return Ok(Vec::new());
        }
        return Err(err(format!("exited with {}", out.status)));
    }
    parse_ldd(&text).map_err(err)
}

/// Parses `ldd`'s output: `name => /path (addr)` and `/path (addr)` lines.
pub fn parse_ldd(text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("=> not found") {
            return Err(format!("a library is missing: {line}"));
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// A minimal ustar writer (deterministic: mtime 0, uid/gid 0).
#[derive(Default)]
pub(super) struct TarWriter {
    buf: Vec<u8>,
}

impl TarWriter {
    pub(super) fn header(
        &mut self,
        path: &str,
        size: u64,
        mode: u32,
        kind: u8,
        link: &str,
    ) -> Result<(), ()> {
        let mut h = [0u8; 512];
        let (prefix, name) = if path.len() <= 100 {
            ("", path)
        } else {
            let cut = path[..path.len().min(155)].rfind('/').ok_or(())?;
            (&path[..cut], &path[cut + 1..])
        };
        if name.len() > 100 || prefix.len() > 155 || link.len() > 100 {
            return Err(());
        }
        h[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
            let s = format!("{v:0w$o}", w = len - 1);
            h[at..at + len - 1].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, mode as u64);
        octal(&mut h, 108, 8, 0);
        octal(&mut h, 116, 8, 0);
        octal(&mut h, 124, 12, size);
        octal(&mut h, 136, 12, 0);
        h[148..156].copy_from_slice(b"        ");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.buf.extend_from_slice(&h);
        Ok(())
    }
    pub(super) fn file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<(), ()> {
        self.header(path, data.len() as u64, mode, b'0', "")?;
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        Ok(())
    }
    pub(super) fn dir(&mut self, path: &str) -> Result<(), ()> {
        let mode = if path.ends_with("tmp") { 0o1777 } else { 0o755 };
        self.header(&format!("{path}/"), 0, mode, b'5', "")
    }
    pub(super) fn symlink(&mut self, path: &str, target: &str) -> Result<(), ()> {
        self.header(path, 0, 0o777, b'2', target)
    }
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buf.extend(std::iter::repeat_n(0u8, 1024));
        self.buf
    }
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
}
