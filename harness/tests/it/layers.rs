//! The harness's layering, checked on its source: every layer of
//! docs/architecture.md's table imports none of the modules its "never
//! imports" column names, and no two modules (`top` or `top::sub`) import
//! each other round a cycle. The rules are read from the doc itself, so the
//! doc and the code cannot drift apart silently. Comments and `#[cfg(test)]
//! mod tests` blocks do not count. Reads files only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A layer's modules and what they must never import (`None`: any other).
type Rules = Vec<(Vec<String>, Option<Vec<String>>)>;

/// Every backticked word of a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The table rows of architecture.md: `| layers | job | never imports |`.
fn rules_from_doc(doc: &str) -> Rules {
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let never = cells.last()?.trim_end_matches('|').trim();
            let never = if never.starts_with("any other") {
                None
            } else {
                Some(ticked(never))
            };
            Some((ticked(cells[0]), never))
        })
        .collect()
}

/// A module's path (`["run", "stage"]`) and its source without comments
/// and unit-test blocks, for every `.rs` under `src` but main/lib.
fn sources(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut m: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into()).collect();
            if m == ["main"] || m == ["lib"] || p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            if m.last().is_some_and(|l| l == "mod") {
                m.pop();
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            let code: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            out.insert(m, code.join("\n"));
        }
    }
    out
}

/// The paths a source names after `prefix` (`crate::a::b`, `crate::{a, b::c}`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        let head: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let base: Vec<String> = head
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        match rest[head.len()..].strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let mut p = base.clone();
                    p.extend(item.split("::").map(String::from));
                    out.push(p);
                }
            }
            None => out.push(base),
        }
    }
    out
}

/// Module → the modules it imports, at depth `top` or `top::sub`.
fn imports(srcs: &BTreeMap<Vec<String>, String>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let depth2 = |p: &[String]| -> Option<Vec<String>> {
        (1..=p.len().min(2))
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| srcs.contains_key(m))
    };
    let mut g: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, code) in srcs {
        let me = m[..m.len().min(2)].to_vec();
        // `super::` of a/b.rs is `a`; of a/mod.rs (path `a`) the crate root.
        let parent = &m[..m.len() - 1];
        let named = paths_after(code, "crate::").into_iter().chain(
            paths_after(code, "super::")
                .into_iter()
                .map(|p| [parent, &p[..]].concat()),
        );
        for p in named {
            if let Some(t) =
                depth2(&p).filter(|t| *t != me && !me.starts_with(t) && !t.starts_with(&me))
            {
                g.entry(me.clone()).or_default().insert(t);
            }
        }
    }
    g
}

/// "file imports layer" lines that break `rules`.
fn violations(srcs: &BTreeMap<Vec<String>, String>, rules: &Rules) -> Vec<String> {
    let tops: BTreeSet<&String> = srcs.keys().map(|m| &m[0]).collect();
    let mut bad = Vec::new();
    for (m, code) in srcs {
        let Some((_, never)) = rules.iter().find(|(layers, _)| layers.contains(&m[0])) else {
            continue;
        };
        for p in paths_after(code, "crate::") {
            let Some(t) = p.first().filter(|t| tops.contains(t) && **t != m[0]) else {
                continue;
            };
            if never.as_ref().is_none_or(|n| n.contains(t)) {
                bad.push(format!("{} imports {t}", m.join("::")));
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

/// The import cycles (strongly connected groups of two or more modules).
fn cycles(g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<BTreeSet<Vec<String>>> {
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for n in g.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let mut out: Vec<BTreeSet<Vec<String>>> = Vec::new();
    for m in g.keys() {
        let r = reach(m);
        if !r.contains(m) || out.iter().any(|c| c.contains(m)) {
            continue;
        }
        out.push(r.into_iter().filter(|n| reach(n).contains(m)).collect());
    }
    out
}

#[test]
fn the_harness_keeps_the_layers_of_its_architecture_doc_and_has_no_import_cycle() {
    let ws = testkit::workspace();
    let rules = rules_from_doc(&std::fs::read_to_string(ws.join("docs/architecture.md")).unwrap());
    assert!(rules.len() >= 9, "the doc's table: {rules:?}");
    let srcs = sources(&ws.join("harness/src"));
    assert!(srcs.len() > 100, "{} modules", srcs.len());
    assert_eq!(violations(&srcs, &rules), Vec::<String>::new());
    assert_eq!(cycles(&imports(&srcs)), Vec::<BTreeSet<Vec<String>>>::new());
}

#[test]
fn a_lower_layer_importing_a_higher_one_and_a_cycle_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    let put = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(
        "model/mod.rs",
        "// crate::run in a comment\nuse crate::run::Judged;\n",
    );
    put("run/mod.rs", "mod a;\nmod b;\nuse crate::model::X;\n");
    put("run/a.rs", "use super::b::B;\n");
    put("run/b.rs", "use crate::{model::X, run::a::A};\n");
    put(
        "loadgen/mod.rs",
        "use crate::model::X;\n#[cfg(test)]\nmod tests {\n use crate::run::Y;\n}\n",
    );
    let rules = rules_from_doc(
        "| `model` | data | any other harness module |\n| `loadgen` | load | `run` |\n| `run` | pipeline | `commands` |\n",
    );
    let srcs = sources(src);
    assert_eq!(
        violations(&srcs, &rules),
        vec!["model imports run".to_string()]
    );
    let cyc = cycles(&imports(&srcs));
    let names: Vec<Vec<String>> = cyc
        .iter()
        .map(|c| c.iter().map(|m| m.join("::")).collect())
        .collect();
    assert!(
        names.contains(&vec!["run::a".to_string(), "run::b".to_string()]),
        "{names:?}"
    );
    assert!(
        names.iter().any(|c| c.contains(&"model".to_string())),
        "model <-> run: {names:?}"
    );
}
