//! Hostile scenario files against the real parser and the real `harness
//! check`: proptest-generated and mutated TOML, random bytes, deep nesting,
//! NUL bytes, invalid UTF-8, empty files, ids and mode names that try to
//! leave `artifacts/`. Nothing may panic or overflow the stack, and every
//! rejection is one line that names the file and the line or the key.
//! Starts no pod.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::scenario::{self, ScenarioError};
use proptest::prelude::*;
use rstest::rstest;
use testkit::fixtures::MINIMAL_SCENARIO as BASE;

const SHOWN: &str = "hostile/scenario.toml";

fn catalogue_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v.iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// A rejection must be one line starting with the file, naming a line or a key.
fn assert_good_rejection(e: &ScenarioError, shown: &str) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(!msg.contains('\n'), "more than one line: {msg:?}");
    prop_assert!(
        msg.starts_with(shown),
        "does not start with the file: {msg:?}"
    );
    prop_assert!(
        msg.contains("line ") || msg.contains("key `"),
        "names neither a line nor a key: {msg:?}"
    );
    Ok(())
}

/// Parses in a thread with a 1 MiB stack (a quarter of what the harness's
/// main thread has): a recursion without a limit would overflow here.
fn parse_small_stack(text: String) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            scenario::parse(&text, SHOWN)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .unwrap()
        .join()
        .expect("the parser panicked")
}

fn check_file(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("check")
        .arg(path)
        .output()
        .expect("harness runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn deep(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("table_headers", "[".repeat(n)),
        ("arrays", format!("id = \"x\"\na = {}", "[".repeat(n))),
        (
            "closed_arrays",
            format!("a = {}1{}", "[".repeat(n), "]".repeat(n)),
        ),
        ("inline_tables", format!("a = {}", "{b = ".repeat(n))),
        ("dotted_key", format!("{} = 1", vec!["k"; n].join("."))),
    ]
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    for (what, text) in deep(100_000) {
        let err = parse_small_stack(text).expect_err(what);
        assert!(
            err.starts_with(SHOWN) && !err.contains('\n'),
            "{what}: {err}"
        );
        assert!(err.contains("line "), "{what}: {err}");
    }
}

#[test]
fn harness_check_survives_the_worst_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, Vec<u8>)> = deep(100_000)
        .into_iter()
        .map(|(w, t)| (w.to_string(), t.into_bytes()))
        .collect();
    files.push(("empty".into(), Vec::new()));
    files.push(("nul_bytes".into(), b"id = \"a\0b\"\n\0\0\0".to_vec()));
    files.push((
        "not_utf8".into(),
        b"id = \"s1\"\npurpose = \"\xff\xfe\"\n".to_vec(),
    ));
    files.push((
        "random_bytes".into(),
        (0..64 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    ));
    files.push((
        "huge_string".into(),
        format!("id = \"{}\"", "a".repeat(8 << 20)).into_bytes(),
    ));
    for (what, bytes) in files {
        let p = dir.path().join(format!("{what}.toml"));
        std::fs::write(&p, &bytes).unwrap();
        let (code, text) = check_file(&p);
        assert_eq!(code, Some(2), "{what}: exit {code:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{what}: one line: {text}");
        assert!(
            text.contains(&format!("{what}.toml")),
            "{what}: names the file: {text}"
        );
        assert!(
            text.contains("line ") || text.contains("key `"),
            "{what}: names a line or key: {text}"
        );
        assert!(!text.contains("panicked"), "{what}: {text}");
    }
    // A folder, a missing file: named too.
    let (code, text) = check_file(dir.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}

#[rstest]
#[case::empty("")]
#[case::only_comment("# nothing\n")]
#[case::nul_in_key("i\0d = \"x\"")]
#[case::nul_in_string("id = \"a\0b\"")]
#[case::bare_nul("\0")]
#[case::crlf_garbage("\r\r\r\n[")]
#[case::bom("\u{feff}id = 1")]
#[case::duplicate_key("id = \"a\"\nid = \"b\"")]
#[case::wrong_root_type("id = [1, 2]")]
#[case::huge_integer("id = \"a\"\npurpose = \"p\"\nseed = 99999999999999999999999")]
#[case::unterminated("id = \"a")]
fn small_hostile_files_are_rejected_with_a_line(#[case] text: &str) {
    let e = scenario::parse(text, SHOWN).expect_err("must be rejected");
    assert_good_rejection(&e, SHOWN).unwrap();
}

/// Ids and mode names that could write outside `artifacts/` (or make a
/// folder name the filesystem refuses) are refused by the parser, naming the key.
#[rstest]
#[case::dotdot_id("id = \"t\"", "id = \"../x\"", "key `id`")]
#[case::absolute_id("id = \"t\"", "id = \"/etc/x\"", "key `id`")]
#[case::slash_id("id = \"t\"", "id = \"a/b\"", "key `id`")]
#[case::dot_id("id = \"t\"", "id = \"..\"", "key `id`")]
#[case::space_id("id = \"t\"", "id = \"a b\"", "key `id`")]
#[case::newline_id("id = \"t\"", "id = \"a\\nb\"", "key `id`")]
#[case::nul_id("id = \"t\"", "id = \"a\\u0000b\"", "key `id`")]
#[case::unicode_id("id = \"t\"", "id = \"é\"", "key `id`")]
#[case::empty_id("id = \"t\"", "id = \"\"", "key `id`")]
#[case::long_id("id = \"t\"", &format!("id = \"{}\"", "a".repeat(300)), "key `id`")]
#[case::dotdot_mode("[modes.graceful]", "[modes.\"../x\"]", "key `modes")]
#[case::slash_mode("[modes.graceful]", "[modes.\"/tmp/x\"]", "key `modes")]
#[case::empty_mode("[modes.graceful]", "[modes.\"\"]", "key `modes")]
#[case::newline_mode("[modes.graceful]", "[modes.\"a\\nb\"]", "key `modes")]
#[case::long_mode("[modes.graceful]", &format!("[modes.{}]", "m".repeat(300)), "key `modes")]
fn escaping_ids_and_modes_are_refused(#[case] from: &str, #[case] to: &str, #[case] key: &str) {
    scenario::parse(BASE, SHOWN).expect("the base parses");
    let text = BASE.replacen(from, to, 1);
    assert_ne!(text, BASE);
    let e = scenario::parse(&text, SHOWN).expect_err("must be refused");
    let msg = e.to_string();
    assert!(msg.contains(key), "{msg}");
    assert_good_rejection(&e, SHOWN).unwrap();
}

/// The same ids reach `harness check` and `harness scenario` as one-line
/// refusals, and `harness scenario` writes nothing anywhere.
#[test]
fn harness_scenario_refuses_an_escaping_id_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("artifacts");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        BASE.replacen("id = \"t\"", "id = \"../../escape\"", 1),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["scenario", bad.to_str().unwrap(), "--runtime", "local"])
        .arg("--artifacts")
        .arg(&art)
        .env("LAB_NO_BUILD", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("key `id`"),
        "{err}"
    );
    assert!(!art.exists(), "artifacts folder created");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("bad.toml")]);
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceValue(usize, String),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..8),
        Just(b"[".to_vec()),
        Just(b"]]".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\n[modes.x]\n".to_vec()),
        Just("é\u{202e}".as_bytes().to_vec()),
    ];
    let value = prop_oneof![
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"-5s\"".to_string()),
        Just("\"999999999999h\"".to_string()),
        Just("nan".to_string()),
        Just("\"../x\"".to_string()),
        "[a-z0-9\"]{0,12}".prop_map(|s| s),
    ];
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), junk).prop_map(|(a, j)| Mutation::Insert(a, j)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), value).prop_map(|(a, v)| Mutation::ReplaceValue(a, v)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut b = text.to_vec();
    let len = b.len().max(1);
    let lines =
        |b: &[u8]| -> Vec<Vec<u8>> { b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect() };
    match m {
        Mutation::Delete(at, n) => {
            let at = at % len;
            let end = (at + n).min(b.len());
            b.drain(at.min(end)..end);
        }
        Mutation::Insert(at, j) => {
            let at = at % (b.len() + 1);
            b.splice(at..at, j.iter().copied());
        }
        Mutation::DuplicateLine(i) => {
            let mut ls = lines(&b);
            let i = i % ls.len();
            ls.insert(i, ls[i].clone());
            b = ls.join(&b'\n');
        }
        Mutation::SwapLines(i, j) => {
            let mut ls = lines(&b);
            let n = ls.len();
            ls.swap(i % n, j % n);
            b = ls.join(&b'\n');
        }
        Mutation::ReplaceValue(i, v) => {
            let mut ls = lines(&b);
            let with_eq: Vec<usize> = (0..ls.len()).filter(|k| ls[*k].contains(&b'=')).collect();
            if !with_eq.is_empty() {
                let k = with_eq[i % with_eq.len()];
                let eq = ls[k].iter().position(|c| *c == b'=').unwrap();
                ls[k].truncate(eq + 1);
                ls[k].push(b' ');
                ls[k].extend_from_slice(v.as_bytes());
            }
            b = ls.join(&b'\n');
        }
        Mutation::Truncate(at) => b.truncate(at % len),
    }
    b
}

/// What `load` does with the bytes of a file (UTF-8 check included).
fn load_bytes(dir: &Path, bytes: &[u8]) -> Result<(), ScenarioError> {
    let p = dir.join("mutant.toml");
    std::fs::write(&p, bytes).unwrap();
    scenario::load(&p).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text at all: no panic; a rejection names the file and a line or key.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}|[\\[\\]{}=\". \\n\\\\a-z0-9#]{0,200}") {
        if let Err(e) = scenario::parse(&text, SHOWN) {
            assert_good_rejection(&e, SHOWN)?;
        }
    }

    /// Random bytes through `load` (invalid UTF-8 included).
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        let shown = dir.path().join("mutant.toml").display().to_string();
        if let Err(e) = load_bytes(dir.path(), &bytes) {
            assert_good_rejection(&e, &shown)?;
        }
    }

    /// Every catalogue file, mutated one to four times.
    #[test]
    fn mutated_catalogue_files_never_panic(
        pick in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..5),
    ) {
        let texts = catalogue_texts();
        let mut bytes = texts[pick % texts.len()].clone().into_bytes();
        for m in &muts {
            bytes = apply(&bytes, m);
        }
        let dir = tempfile::tempdir().unwrap();
        let shown = dir.path().join("mutant.toml").display().to_string();
        if let Err(e) = load_bytes(dir.path(), &bytes) {
            assert_good_rejection(&e, &shown)?;
        }
    }

    /// Well-formed TOML with random keys, values and nesting in every table
    /// of a valid file: unknown keys and wrong types are named.
    #[test]
    fn generated_keys_and_values_are_named(
        table in prop_oneof![Just(""), Just("[topology]"), Just("[topology.haproxy]"), Just("[kubelet]"), Just("[modes.graceful]"), Just("[modes.graceful.drain]"), Just("[modes.graceful.expect]"), Just("[[load]]"), Just("[[faults]]")],
        key in "[a-z_]{1,12}",
        value in prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:?}")),
            "[ -~]{0,20}".prop_map(|s| format!("{s:?}")),
            Just("[[[[]]]]".to_string()),
            Just("{ a = { b = { c = 1 } } }".to_string()),
            Just("1979-05-27T07:32:00Z".to_string()),
            Just("true".to_string()),
        ],
    ) {
        let text = if table.is_empty() {
            format!("{key} = {value}\n{BASE}")
        } else {
            format!("{BASE}\n{table}\n{key} = {value}\n")
        };
        if let Err(e) = scenario::parse(&text, SHOWN) {
            assert_good_rejection(&e, SHOWN)?;
        }
    }
}
