//! The helpers of `reports`: fixture runs and copies of them, the
//! `harness` binary's output, summary.json edits, JUnit counts and table rows.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub(super) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A copy of a fixture run inside `root`, under the fixture's own name.
pub(super) fn copy_run(rel: &str, root: &Path) -> PathBuf {
    let src = fixture(rel);
    let dst = root.join(src.file_name().unwrap());
    copy_dir(&src, &dst);
    dst
}

pub(super) fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env_remove("LAB_ARTIFACTS")
        .output()
        .expect("harness binary runs")
}

pub(super) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(super) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(super) fn json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

pub(super) fn edit_summary(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("summary.json");
    let mut v = json(&p);
    f(&mut v);
    fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// (testcases, failures, errors) of a JUnit file, parsed by a real XML
/// parser (Python's minidom); panics when the XML is not well-formed.
pub(super) fn junit_counts(path: &Path) -> (usize, usize, usize) {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m\n\
d = m.parse(sys.argv[1])\n\
print(*[len(d.getElementsByTagName(t)) for t in ('testcase', 'failure', 'error')])",
            s(path),
        ])
        .output()
        .expect("python3 is needed to parse JUnit XML (apt-get install python3)");
    assert!(
        o.status.success(),
        "{} is not well-formed XML: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let n: Vec<usize> = stdout(&o)
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

pub(super) fn row<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{out}"));
    line[label.len()..].split_whitespace().collect()
}
