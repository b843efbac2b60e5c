//! The module boundaries of `src/`, checked on the source: which top-level
//! module may import which (`crate::x` paths, in `use` lines and inline),
//! and that the imports between modules form no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules it imports (itself excluded).
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The code of a file without its comments (line and doc comments), so a
/// link in a doc comment is not taken for an import.
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named by `crate::` paths in `code`, including the
/// names inside a `use crate::{a::x, b, c::{..}}` group.
fn imported_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the group's first level names modules.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            names.insert(ident(item.trim()));
        } else {
            names.insert(ident(rest));
        }
    }
    names.retain(|name| !name.is_empty() && name != "self");
    names
}

/// The import graph of the crate's top-level modules.
fn source_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).expect("under src");
            let first = relative
                .components()
                .next()
                .expect("a file")
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            if first == "lib" || first == "bin" {
                continue;
            }
            let code = without_comments(&std::fs::read_to_string(&path).expect("read"));
            let imports = graph.entry(first.clone()).or_default();
            imports.extend(imported_modules(&code));
            imports.remove(&first);
        }
    }
    graph
}

/// The modules on some circle of imports.
fn modules_on_a_circle(graph: &Graph) -> BTreeSet<String> {
    let reaches = |from: &str, to: &str| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(module) = stack.pop() {
            for next in graph.get(&module).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    graph
        .keys()
        .filter(|module| reaches(module, module))
        .cloned()
        .collect()
}

#[test]
fn the_checker_finds_group_imports_and_circles() {
    let code = "use crate::{domain::x, error::{Error, Result}, clock};\nlet a = crate::store::y;";
    let found: Vec<_> = imported_modules(code).into_iter().collect();
    assert_eq!(found, ["clock", "domain", "error", "store"]);
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    graph.insert("d".into(), ["a".into()].into());
    let circle: Vec<_> = modules_on_a_circle(&graph).into_iter().collect();
    assert_eq!(circle, ["a", "b", "c"]);
}

#[test]
fn no_module_imports_in_a_circle() {
    let graph = source_graph();
    assert!(
        graph.contains_key("grpc") && graph.contains_key("store"),
        "{graph:?}"
    );
    assert_eq!(modules_on_a_circle(&graph), BTreeSet::new(), "{graph:#?}");
}

#[test]
fn each_module_imports_only_what_its_layer_allows() {
    let graph = source_graph();
    let imports = |module: &str| graph.get(module).cloned().unwrap_or_default();
    let only = |module: &str, allowed: &[&str]| {
        let extra: Vec<_> = imports(module)
            .into_iter()
            .filter(|name| !allowed.contains(&name.as_str()))
            .collect();
        assert!(extra.is_empty(), "{module} imports {extra:?}");
    };
    let none_of = |module: &str, forbidden: &[&str]| {
        let found: Vec<_> = imports(module)
            .into_iter()
            .filter(|name| forbidden.contains(&name.as_str()))
            .collect();
        assert!(found.is_empty(), "{module} imports {found:?}");
    };
    only("domain", &["error", "clock"]);
    none_of("store", &["grpc", "cli", "server", "telemetry", "daemon"]);
    none_of("client", &["grpc", "server", "daemon", "store"]);
    none_of("cli", &["grpc", "server", "daemon", "store"]);
    none_of("telemetry", &["store", "cli", "grpc", "daemon"]);
    none_of("pb", &["grpc", "cli", "client", "store", "server"]);
}
