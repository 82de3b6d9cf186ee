//! JUnit XML of run verdicts, so CI systems show scenario expectations as
//! tests: `junit.xml` in every run folder (one testcase per expectation) and
//! `junit-<scenario>-<UTC>.xml` in the artifacts folder for a multi-mode
//! `scenario` invocation (one testsuite per mode).
//!
//! It only writes XML from summaries; it never judges a run itself.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::report::esc;
use super::rundir::{check_name, STAMP};
use super::{write_atomic, ArtifactsError, Summary, Verdict};

/// The file name inside a run folder.
pub const RUN_JUNIT: &str = "junit.xml";

struct Case {
    name: String,
    /// `(failure|error, message, body)`.
    problem: Option<(&'static str, String, String)>,
}

fn cases_of(s: &Summary) -> Vec<Case> {
    let mut cases: Vec<Case> = s
        .expectations
        .iter()
        .map(|e| Case {
            name: e.name.clone(),
            problem: (!e.ok).then(|| ("failure", e.detail.clone(), e.detail.clone())),
        })
        .collect();
    if s.interrupted || s.verdict == Verdict::Interrupted {
        cases.push(Case {
            name: "run completed".into(),
            problem: Some((
                "error",
                "the run was interrupted".into(),
                s.notes.join("\n"),
            )),
        });
    } else if s.verdict == Verdict::Invalid {
        cases.push(Case {
            name: "run is valid".into(),
            problem: Some((
                "error",
                format!("the run is invalid: {}", s.invalid.join("; ")),
                s.invalid.join("\n"),
            )),
        });
    } else if cases.is_empty() {
        cases.push(Case {
            name: "verdict".into(),
            problem: (s.verdict != Verdict::Pass).then(|| {
                (
                    "failure",
                    format!("verdict {}", s.verdict.as_str()),
                    String::new(),
                )
            }),
        });
    }
    cases
}

/// One run's testsuite: its properties, a testcase per [`Case`], the
/// verdict and every disruption's cause as its output.
fn suite_xml(o: &mut String, s: &Summary, run_dir: Option<&Path>) {
    let cases = cases_of(s);
    let count = |kind: &str| {
        cases
            .iter()
            .filter(|c| c.problem.as_ref().is_some_and(|p| p.0 == kind))
            .count()
    };
    let (failures, errors) = (count("failure"), count("error"));
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
        esc(&format!("{}/{}", s.scenario, s.mode)),
        cases.len(),
        s.wall_s.unwrap_or(0.0),
        s.started_at.format("%Y-%m-%dT%H:%M:%S"),
    );
    write_properties(o, s, run_dir);
    let classname = format!("{}.{}", s.scenario, s.mode);
    for c in &cases {
        write_case(o, &classname, c);
    }
    let mut out = format!(
        "verdict {}: {} requests, {} disruptions\n",
        s.verdict.as_str(),
        s.requests,
        s.disruptions
    );
    for a in &s.attributions {
        let _ = writeln!(out, "{}", a.one_line(3));
    }
    let _ = writeln!(o, "    <system-out>{}</system-out>", esc(&out));
    o.push_str("  </testsuite>\n");
}

/// The run's id, folder, verdict, runtime, naming and counts.
fn write_properties(o: &mut String, s: &Summary, run_dir: Option<&Path>) {
    o.push_str("    <properties>\n");
    let dir = run_dir.map(|d| d.display().to_string()).unwrap_or_default();
    for (k, v) in [
        ("run_id", s.run_id.clone()),
        ("run_dir", dir),
        ("verdict", s.verdict.as_str().to_string()),
        ("runtime", s.runtime_name().to_string()),
        ("naming", s.naming.to_string()),
        ("requests", s.requests.to_string()),
        ("disruptions", s.disruptions.to_string()),
    ] {
        let _ = writeln!(
            o,
            "      <property name=\"{}\" value=\"{}\"/>",
            esc(k),
            esc(&v)
        );
    }
    o.push_str("    </properties>\n");
}

fn write_case(o: &mut String, classname: &str, c: &Case) {
    let _ = write!(
        o,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
        esc(classname),
        esc(&c.name)
    );
    match &c.problem {
        None => o.push_str("/>\n"),
        Some((kind, msg, body)) => {
            let _ = writeln!(
                o,
                ">\n      <{kind} message=\"{}\" type=\"{}\">{}</{kind}>\n    </testcase>",
                esc(msg),
                if *kind == "failure" {
                    "expectation"
                } else {
                    "interrupted"
                },
                esc(body)
            );
        }
    }
}

/// The JUnit document of one run.
pub fn run_xml(s: &Summary, run_dir: Option<&Path>) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    suite_xml(&mut o, s, run_dir);
    o.push_str("</testsuites>\n");
    o
}

/// Writes `<run_dir>/junit.xml` atomically; returns its path.
pub fn write_run(run_dir: &Path, s: &Summary) -> Result<PathBuf, ArtifactsError> {
    let path = run_dir.join(RUN_JUNIT);
    write_atomic(&path, run_xml(s, Some(run_dir)).as_bytes())?;
    Ok(path)
}

/// One mode's result of a `scenario` invocation: its summary and folder, or
/// the error that stopped it before it had one.
pub enum ModeResult<'a> {
    Ran(&'a Summary, &'a Path),
    Failed(String),
}

/// The JUnit document of a multi-mode invocation: one testsuite per mode.
pub fn scenario_xml(scenario: &str, results: &[(String, ModeResult<'_>)]) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(o, "<testsuites name=\"{}\">", esc(scenario));
    for (mode, r) in results {
        match r {
            ModeResult::Ran(s, dir) => suite_xml(&mut o, s, Some(dir)),
            ModeResult::Failed(e) => {
                let name = esc(&format!("{scenario}/{mode}"));
                let _ = writeln!(
                    o,
                    "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <testcase classname=\"{}\" name=\"run\" time=\"0\">\n      <error message=\"{}\" type=\"error\"/>\n    </testcase>\n  </testsuite>",
                    esc(&format!("{scenario}.{mode}")),
                    esc(e)
                );
            }
        }
    }
    o.push_str("</testsuites>\n");
    o
}

/// Writes `<root>/junit-<scenario>-<UTC>.xml` (a `-N` suffix when taken).
pub fn write_scenario_at(
    root: &Path,
    scenario: &str,
    results: &[(String, ModeResult<'_>)],
    now: DateTime<Utc>,
) -> Result<PathBuf, ArtifactsError> {
    check_name("scenario id", scenario)?;
    let base = format!("junit-{scenario}-{}", now.format(STAMP));
    let mut path = root.join(format!("{base}.xml"));
    let mut n = 2;
    while path.exists() {
        path = root.join(format!("{base}-{n}.xml"));
        n += 1;
    }
    write_atomic(&path, scenario_xml(scenario, results).as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ExpectationResult;

    #[test]
    fn counts_failures_and_escapes() {
        let mut s = Summary::new("s1", "current", "x", Utc::now());
        s.interrupted = false;
        s.expectations.push(ExpectationResult {
            name: "disruptions <= 0 & \"none\"".into(),
            ok: false,
            detail: "2 disruptions <long-0>\u{1}".into(),
        });
        s.expectations.push(ExpectationResult {
            name: "ok one".into(),
            ok: true,
            detail: String::new(),
        });
        s.decide_verdict();
        let x = run_xml(&s, None);
        assert!(x.contains("tests=\"2\" failures=\"1\" errors=\"0\""), "{x}");
        assert!(
            x.contains("name=\"disruptions &lt;= 0 &amp; &quot;none&quot;\""),
            "{x}"
        );
        assert!(x.contains("2 disruptions &lt;long-0&gt;?"), "{x}");
    }

    #[test]
    fn interrupted_run_is_an_error_case() {
        let s = Summary::new("s1", "graceful", "x", Utc::now());
        let x = run_xml(&s, None);
        assert!(x.contains("errors=\"1\""), "{x}");
        assert!(x.contains("name=\"run completed\""), "{x}");
    }
}
