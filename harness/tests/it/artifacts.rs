//! The artifacts module end to end on a synthetic run: writers, `.part`
//! survival and readers (plots, report, hgrm and summary of the same run:
//! `artifacts_render`).

use std::fs;
use std::path::Path;

use harness::artifacts::csv::{REQUESTS_HEADER, SAMPLES_HEADER, TIMELINE_HEADER};
use harness::artifacts::{
    read_requests, read_samples, read_timeline, RequestsWriter, SamplesWriter, TimelineWriter,
};
use harness::model::{
    Event, EventKind, Origin, Outcome, Phase, RequestKind, RequestRecord, Sample, Source,
};

pub(crate) fn request(
    i: u64,
    kind: RequestKind,
    pod: &str,
    t: f64,
    dur: f64,
    outcome: Outcome,
) -> RequestRecord {
    RequestRecord {
        id: format!("r{i}"),
        kind,
        method: "GET".into(),
        path: match kind {
            RequestKind::Long => "/sleep?seconds=60".into(),
            RequestKind::Stream => "/stream?seconds=30".into(),
            RequestKind::Steady => "/".into(),
        },
        pod: Some(pod.into()),
        conn_id: i % 7,
        reused: !i.is_multiple_of(5),
        intended_ms: t,
        sent_ms: t + 0.25,
        ttfb_ms: (outcome != Outcome::Reset).then_some(t + dur * 0.8),
        end_ms: t + dur,
        status: match outcome {
            Outcome::Ok | Outcome::Truncated => Some(200),
            Outcome::Http5xx => Some(502),
            _ => None,
        },
        bytes: 2,
        chunks: (kind == RequestKind::Stream).then_some(12),
        outcome,
        phase: match outcome {
            Outcome::Reset => Some(Phase::Head),
            Outcome::Truncated => Some(Phase::Body),
            _ => None,
        },
        origin: (outcome == Outcome::Http5xx).then_some(Origin::Haproxy),
        haproxy_term: None,
        envoy_flags: None,
        error: (outcome == Outcome::Reset).then(|| "connection reset, \"EOF\"\nline 2".into()),
    }
}

/// An event as a `timeline.csv` row names it.
fn ev(t_ms: f64, source: &str, pod: Option<&str>, event: &str, detail: &str) -> Event {
    let source = Source::parse(source);
    let kind = EventKind::parse(&source, event, detail);
    Event::new(t_ms, source, pod, kind, detail)
}

/// An s1-like run: steady load on two pods, a 60 s request on pod-a, pod-a
/// terminated at 5 s, HAProxy marks it DOWN at 9.9 s and kills 3 requests.
pub(crate) fn synthetic_run(dir: &Path) -> (Vec<RequestRecord>, Vec<Event>, Vec<Sample>) {
    let mut reqs = vec![request(
        0,
        RequestKind::Long,
        "pod-a",
        1000.0,
        8900.0,
        Outcome::Http5xx,
    )];
    reqs.push(request(
        1,
        RequestKind::Stream,
        "pod-b",
        2000.0,
        11_000.0,
        Outcome::Truncated,
    ));
    for i in 0..1500u64 {
        let t = 500.0 + i as f64 * 20.0;
        let pod = if i.is_multiple_of(2) {
            "pod-a"
        } else {
            "pod-b"
        };
        let down = pod == "pod-a" && (9_850.0..9_900.0).contains(&(t + 5.0));
        let outcome = if down {
            Outcome::Http5xx
        } else if i == 700 {
            Outcome::Reset
        } else {
            Outcome::Ok
        };
        let dur = if down {
            9_900.0 - t
        } else {
            1.0 + (i % 13) as f64 * 2.5 + (i % 97) as f64 * 0.4
        };
        reqs.push(request(i + 2, RequestKind::Steady, pod, t, dur, outcome));
    }
    let timeline = vec![
        ev(500.0, "harness", None, "load_start", "steady 50/s"),
        ev(
            5000.0,
            "kubelet",
            Some("pod-a"),
            "terminating",
            "grace 120s",
        ),
        ev(
            5001.0,
            "kubelet",
            Some("pod-a"),
            "prestop_start",
            "sleep 15",
        ),
        ev(5010.0, "drain", Some("pod-a"), "drain", "OPEN -> DRAINING"),
        ev(5020.0, "drain", Some("pod-a"), "drain_listeners", "200"),
        ev(
            5900.0,
            "drain",
            Some("pod-a"),
            "close-lb",
            "DRAINING -> CLOSING",
        ),
        ev(
            9900.0,
            "haproxy",
            Some("pod-a"),
            "server_down",
            "shutdown-sessions, 3 killed",
        ),
        ev(
            15_900.0,
            "drain",
            Some("pod-a"),
            "close",
            "CLOSING -> CLOSED",
        ),
        ev(16_000.0, "kubelet", Some("pod-a"), "prestop_end", "exit 0"),
        ev(
            16_001.0,
            "kubelet",
            Some("pod-a"),
            "sigterm",
            "all containers",
        ),
        ev(16_012.0, "kubelet", Some("pod-a"), "exit", "envoy 0"),
        ev(16_300.0, "kubelet", Some("pod-a"), "exit", "backend 0"),
        ev(20_000.0, "hc", Some("pod-a"), "state", "not marked, banded"),
    ];
    let mut samples = Vec::new();
    for k in 0..130 {
        let t = k as f64 * 250.0;
        for pod in ["pod-a", "pod-b"] {
            let a = pod == "pod-a";
            let hc = match (a, t) {
                (true, t) if t >= 16_001.0 => None,
                (true, t) if t >= 15_900.0 => Some("CLOSED"),
                (true, t) if t >= 5_900.0 => Some("CLOSING"),
                (true, t) if t >= 5_010.0 => Some("DRAINING"),
                _ => Some("OPEN"),
            };
            let lb = if a && t >= 9_900.0 { "DOWN" } else { "UP" };
            let rq = if a && t >= 16_001.0 {
                None
            } else {
                Some(((k * 7) % 4) as i64 + i64::from(a && t < 9_900.0))
            };
            samples.push(Sample {
                t_ms: t,
                pod: pod.into(),
                hc_state: hc.map(Into::into),
                envoy_rq_active: rq,
                envoy_cx_active: rq.map(|v| v + 3),
                haproxy_status: Some(lb.into()),
            });
        }
    }
    let mut rw = RequestsWriter::create(dir).unwrap();
    reqs.iter().for_each(|r| rw.write(r).unwrap());
    rw.finish().unwrap();
    let mut tw = TimelineWriter::create(dir).unwrap();
    timeline.iter().for_each(|e| tw.write(e).unwrap());
    tw.finish().unwrap();
    let mut sw = SamplesWriter::create(dir).unwrap();
    samples.iter().for_each(|s| sw.write(s).unwrap());
    sw.finish().unwrap();
    (reqs, timeline, samples)
}

fn first_line(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn csv_headers_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic_run(tmp.path());
    assert_eq!(
        first_line(&tmp.path().join("requests.csv")),
        "id,kind,method,path,pod,conn_id,reused,intended_ms,sent_ms,ttfb_ms,end_ms,status,bytes,chunks,outcome,phase,origin,haproxy_term,envoy_flags,error"
    );
    assert_eq!(
        first_line(&tmp.path().join("timeline.csv")),
        "t_ms,source,pod,event,detail"
    );
    assert_eq!(
        first_line(&tmp.path().join("samples.csv")),
        "t_ms,pod,hc_state,envoy_rq_active,envoy_cx_active,haproxy_status"
    );
    assert_eq!(
        REQUESTS_HEADER.join(","),
        first_line(&tmp.path().join("requests.csv"))
    );
    assert_eq!(TIMELINE_HEADER.len(), 5);
    assert_eq!(SAMPLES_HEADER.len(), 6);
    let text = fs::read_to_string(tmp.path().join("requests.csv")).unwrap();
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.starts_with("r0,long,GET,/sleep?seconds=60,pod-a,0,false,1000.000,1000.250,"),
        "{row}"
    );
    assert!(
        row.ends_with(",9900.000,502,2,,http_5xx,,haproxy,,,"),
        "{row}"
    );
}

/// A run recorded before `phase` existed still reads (the column reads as
/// empty); a header that is neither is still refused.
#[test]
fn a_requests_csv_without_the_phase_column_still_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let old = "id,kind,method,path,pod,conn_id,reused,intended_ms,sent_ms,ttfb_ms,end_ms,status,bytes,chunks,outcome,origin,error\n\
        steady-0,steady,GET,/,pod-a,1,false,1.000,1.250,2.000,2.500,200,2,,ok,,\n\
        steady-1,steady,GET,/,pod-a,1,true,3.000,3.250,,4.500,,0,,reset,,connection reset\n";
    fs::write(tmp.path().join("requests.csv"), old).unwrap();
    let rows = read_requests(tmp.path()).unwrap();
    let got: Vec<_> = rows.iter().map(|r| (r.outcome, r.phase)).collect();
    assert_eq!(got, [(Outcome::Ok, None), (Outcome::Reset, None)]);

    let swapped = old.replacen("outcome,origin", "origin,outcome", 1);
    fs::write(tmp.path().join("requests.csv"), swapped).unwrap();
    let err = read_requests(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("header"), "{err}");
}

#[test]
fn rows_round_trip_through_the_readers() {
    let tmp = tempfile::tempdir().unwrap();
    let (reqs, timeline, samples) = synthetic_run(tmp.path());
    assert_eq!(read_requests(tmp.path()).unwrap(), reqs);
    assert_eq!(read_timeline(tmp.path()).unwrap(), timeline);
    assert_eq!(read_samples(tmp.path()).unwrap(), samples);
    for n in ["requests.csv.part", "timeline.csv.part", "samples.csv.part"] {
        assert!(!tmp.path().join(n).exists(), "{n} left behind");
    }
}

#[test]
fn an_unfinished_writer_leaves_a_readable_part_file() {
    let tmp = tempfile::tempdir().unwrap();
    let r1 = request(1, RequestKind::Steady, "pod-a", 10.0, 3.0, Outcome::Ok);
    let r2 = request(2, RequestKind::Steady, "pod-b", 20.0, 3.0, Outcome::Reset);
    let mut w = RequestsWriter::create(tmp.path()).unwrap();
    w.write(&r1).unwrap();
    w.write(&r2).unwrap();
    // Rows are on disk once flushed (the records sink flushes every 20 ms),
    // before the writer ends: read while it is still open.
    w.flush().unwrap();
    assert_eq!(
        read_requests(tmp.path()).unwrap(),
        vec![r1.clone(), r2.clone()]
    );
    std::mem::forget(w); // as if the process was killed: no finish, no drop
    let part = tmp.path().join("requests.csv.part");
    assert!(part.is_file());
    assert!(!tmp.path().join("requests.csv").exists());
    // A kill in the middle of a row leaves half a line: it is dropped.
    let mut bytes = fs::read(&part).unwrap();
    bytes.extend_from_slice(b"r3,steady,GET,/,pod-a,1,tr");
    fs::write(&part, bytes).unwrap();
    assert_eq!(read_requests(tmp.path()).unwrap(), vec![r1, r2]);
    // Timeline and samples too.
    let mut tw = TimelineWriter::create(tmp.path()).unwrap();
    let e = ev(
        1.5,
        "kubelet",
        Some("pod-a"),
        "sigkill",
        "grace period over",
    );
    tw.write(&e).unwrap();
    drop(tw);
    assert_eq!(read_timeline(tmp.path()).unwrap(), vec![e]);
    let err = read_samples(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("samples.csv"), "{err}");
}

/// A killed writer's `.part` whose last fragment is longer than the
/// streaming reader's 64 KiB block (no line break in it): the reader looks
/// further back for the last complete row and reads every row up to it.
#[test]
fn a_part_file_with_a_fragment_longer_than_a_block_reads_its_complete_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<RequestRecord> = (0..3000)
        .map(|i| {
            let o = if i % 100 == 7 {
                Outcome::Reset
            } else {
                Outcome::Ok
            };
            request(i, RequestKind::Steady, "pod-a", i as f64, 3.0, o)
        })
        .collect();
    let mut w = RequestsWriter::create(tmp.path()).unwrap();
    for r in &rows {
        w.write(r).unwrap();
    }
    w.flush().unwrap(); // the records sink flushes every 20 ms
    std::mem::forget(w);
    let part = tmp.path().join("requests.csv.part");
    let mut bytes = fs::read(&part).unwrap();
    bytes.extend_from_slice(b"r3000,steady,GET,/,pod-a,1,true,3000.000,");
    bytes.extend(std::iter::repeat_n(b'9', 150_000));
    fs::write(&part, bytes).unwrap();
    let key = |r: &RequestRecord| (r.id.clone(), r.outcome, r.error.clone());
    let got: Vec<_> = read_requests(tmp.path()).unwrap().iter().map(key).collect();
    assert_eq!(got, rows.iter().map(key).collect::<Vec<_>>());
}

#[test]
fn a_final_file_with_a_bad_row_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("timeline.csv"),
        "t_ms,source,pod,event,detail\n1.000,kubelet,pod-a,exit,0\nnot-a-number,x,,y,z\n",
    )
    .unwrap();
    let err = read_timeline(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("timeline.csv") && err.contains("line 3"),
        "{err}"
    );
    fs::write(tmp.path().join("samples.csv"), "t_ms,pod\n").unwrap();
    let err = read_samples(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("header"), "{err}");
}
