//! `api/openapi.yaml` must be what the code generates, and must describe
//! every path of the endpoint table with every status it can answer.

const CHECKED_IN: &str = include_str!("../api/openapi.yaml");

#[test]
fn checked_in_openapi_is_current() {
    let generated = hc::openapi::yaml();
    assert!(
        generated == CHECKED_IN,
        "apps/hc/api/openapi.yaml is stale; regenerate it with:\n  cargo run --release -p hc -- --print-openapi > apps/hc/api/openapi.yaml"
    );
}

#[test]
fn binary_prints_the_same_document() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hc"))
        .arg("--print-openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), hc::openapi::yaml());
}

#[test]
fn every_endpoint_documents_its_statuses() {
    let doc: serde_yaml::Value = serde_yaml::from_str(CHECKED_IN).unwrap();
    let want: [(&str, &str, &[&str]); 9] = [
        (
            "/health_check.html",
            "get",
            &["200", "304", "404", "405", "503"],
        ),
        ("/health", "get", &["200", "304", "405", "503"]),
        ("/live", "get", &["200", "304", "405", "500"]),
        ("/drain/status", "get", &["200", "405"]),
        ("/drain", "post", &["200", "404", "405", "409"]),
        ("/close-lb", "post", &["200", "404", "405", "409"]),
        ("/close", "post", &["200", "404", "405", "409"]),
        ("/reopen", "post", &["200", "404", "405", "409"]),
        ("/fault", "post", &["200", "404", "405"]),
    ];
    let paths = doc["paths"].as_mapping().unwrap();
    assert_eq!(paths.len(), want.len(), "every path of the table, no more");
    for (path, method, codes) in want {
        assert!(hc::routes::lookup(path).is_some(), "{path} is in the table");
        let responses = doc["paths"][path][method]["responses"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{method} {path} documented"));
        let mut got: Vec<&str> = responses.keys().map(|k| k.as_str().unwrap()).collect();
        got.sort();
        assert_eq!(got, codes, "{method} {path}");
        if method == "get" {
            assert!(
                doc["paths"][path]["head"].is_mapping(),
                "HEAD {path} documented"
            );
        }
    }
}
