//! Flags and env vars of the binary: bad values are refused at startup with
//! a message naming them; env vars work like flags; the pod name defaults to
//! the hostname.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{field, get};
use rstest::rstest;

#[rstest]
#[case::bad_timeout(&["--shutdown-timeout", "ten"], "shutdown-timeout")]
#[case::negative_timeout(&["--shutdown-timeout", "-1"], "shutdown-timeout")]
#[case::bad_addr(&["--addr", "nowhere"], "addr")]
#[case::bad_header_timeout(&["--header-read-timeout", "5h"], "header-read-timeout")]
#[case::bad_pod_name(&["--pod-name", "a\u{7f}b"], "pod name")]
fn bad_flags_are_refused(#[case] args: &[&str], #[case] named: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_backend"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "accepted {args:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(named), "{err}");
}

#[test]
fn env_vars_configure_and_pod_name_defaults_to_hostname() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backend"))
        .env("BACKEND_ADDR", "127.0.0.1:0")
        .env("SHUTDOWN_TIMEOUT", "1500ms")
        .env_remove("POD_NAME")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _guard = testkit::ChildGuard(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(line.contains("msg=listening"), "{line}");
    assert_eq!(field(&line, "shutdown_timeout"), Some("1500ms"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let r = get(field(&line, "addr").unwrap().parse().unwrap(), "/", "");
    assert_eq!(r.header("x-served-by"), Some(host.trim()));
}
