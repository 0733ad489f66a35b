//! The layering of `src/` (../shared/ARCHITECTURE.md), read from the source text so a violation
//! fails here naming the file and the line: no import runs back up, the development code stays
//! out of the guardrail, only the adapters name the AWS SDK, and the areas of the crate depend
//! on each other without a loop. Each rule is also shown to bite on a planted violation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`, as (path relative to the crate root, source).
fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate::rust_sources(dir)
        .into_iter()
        .map(|p| {
            let source = std::fs::read_to_string(&p).expect("read source");
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, source)
        })
        .collect()
}

/// The code of a line, without its `//` comment (doc comments may name anything).
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or_default()
}

/// The area of the crate a file belongs to: `src/core/policy/x.rs` → `core`,
/// `src/render.rs` → `render`, `src/bin/…` → `bin`.
fn area(file: &str) -> String {
    let rest = file.strip_prefix("src/").unwrap_or(file);
    let first = rest.split('/').next().unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The areas a line of code names: `crate::x::…` inside the library, `cmkguard::x::…` in the
/// binaries.
fn named_areas(line: &str) -> Vec<String> {
    let c = code(line);
    let mut out = Vec::new();
    for prefix in ["crate::", "cmkguard::"] {
        let mut rest = c;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            // `foo_crate::x` is not `crate::x`.
            if before.is_some_and(|ch| ch.is_alphanumeric() || ch == '_') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// (file, line, offending text) for every line of `files` naming one of `forbidden` areas.
fn naming(files: &[(String, String)], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, source) in files {
        for (n, line) in source.lines().enumerate() {
            for a in named_areas(line) {
                if forbidden.contains(&a.as_str()) {
                    found.push(format!("{file}:{}: names crate::{a}", n + 1));
                }
            }
        }
    }
    found
}

fn files_in(all: &[(String, String)], areas: &[&str]) -> Vec<(String, String)> {
    all.iter()
        .filter(|(f, _)| areas.contains(&area(f).as_str()))
        .cloned()
        .collect()
}

/// The rules of issue 12: per group of areas, the areas its files must not name; the Lambda
/// binary names neither the CLI nor the development code; the core names nothing outside
/// itself; only `src/aws/` and `src/dev/` name the AWS SDK.
fn violations(all: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let rules: [(&[&str], &[&str]); 3] = [
        // Nothing below the command line names it.
        (
            &["aws", "render", "app", "scan", "core", "ports", "config"],
            &["commands"],
        ),
        // The adapters and the renderers do not import what they serve.
        (&["aws", "render"], &["app", "scan"]),
        // The guardrail (and the Lambda binary) never reaches the development code.
        (
            &[
                "aws", "render", "app", "scan", "core", "ports", "config", "bin",
            ],
            &["dev"],
        ),
    ];
    for (areas, forbidden) in rules {
        out.extend(naming(&files_in(all, areas), forbidden));
    }
    for (file, source) in all {
        // The Lambda binary is not the CLI.
        if file == "src/bin/cmkguard-lambda.rs" {
            out.extend(naming(
                &[(file.clone(), source.clone())],
                &["commands", "dev"],
            ));
        }
        // The core is pure: it names nothing of the crate outside itself.
        if area(file) == "core" {
            for (n, line) in source.lines().enumerate() {
                for a in named_areas(line) {
                    if a != "core" {
                        out.push(format!("{file}:{}: the core names crate::{a}", n + 1));
                    }
                }
            }
        }
        // Only the adapters (and the emulator seeding) name the AWS SDK.
        if !file.starts_with("src/aws/") && !file.starts_with("src/dev/") {
            for (n, line) in source.lines().enumerate() {
                if code(line).contains("aws_sdk_") {
                    out.push(format!("{file}:{}: names aws_sdk_*", n + 1));
                }
            }
        }
    }
    out
}

/// The area-level dependency graph: which areas each area names.
fn graph(all: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in all {
        let from = area(file);
        if from == "bin" || from == "lib" {
            continue;
        }
        let entry = g.entry(from.clone()).or_default();
        for line in source.lines() {
            for to in named_areas(line) {
                if to != from {
                    entry.insert(to);
                }
            }
        }
    }
    g
}

/// A cycle in the graph, if any (as the list of areas around it).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_import_runs_back_up_and_only_adapters_name_the_sdk() {
    let all = sources("src");
    // The check covers the tree (a moved directory must not make it vacuous).
    for expected in [
        "src/commands/mod.rs",
        "src/app/mod.rs",
        "src/aws/mod.rs",
        "src/core/mod.rs",
        "src/scan/mod.rs",
        "src/render.rs",
        "src/bin/cmkguard-lambda.rs",
    ] {
        assert!(
            all.iter().any(|(f, _)| f == expected),
            "{expected} not read"
        );
    }
    let v = violations(&all);
    assert!(v.is_empty(), "layering violations:\n{}", v.join("\n"));
}

#[test]
fn the_areas_of_the_crate_depend_on_each_other_without_a_loop() {
    let g = graph(&sources("src"));
    assert!(
        g.contains_key("commands") && g.contains_key("core"),
        "{g:?}"
    );
    if let Some(c) = cycle(&g) {
        panic!("import loop between areas: {}\n{g:#?}", c.join(" → "));
    }
    // The core is the bottom of the house.
    assert!(g["core"].is_empty(), "core names {:?}", g["core"]);
}

/// Each rule bites: a planted import of each kind is found, naming the file and line.
#[test]
fn the_checks_name_a_planted_violation() {
    let plant = |file: &str, line: &str| -> Vec<String> {
        let mut all = sources("src");
        let (_, source) = all
            .iter_mut()
            .find(|(f, _)| f == file)
            .unwrap_or_else(|| panic!("{file} not found"));
        source.push_str(line);
        violations(&all)
    };
    let cases = [
        (
            "src/aws/s3.rs",
            "\nuse crate::app::Outcome;\n",
            "names crate::app",
        ),
        (
            "src/render.rs",
            "\nuse crate::scan::report::ScanReport;\n",
            "names crate::scan",
        ),
        (
            "src/app/mod.rs",
            "\nuse crate::commands::Report;\n",
            "names crate::commands",
        ),
        (
            "src/scan/mod.rs",
            "\nuse crate::dev::emulator::Emulator;\n",
            "names crate::dev",
        ),
        (
            "src/core/json.rs",
            "\nuse crate::ports::Deps;\n",
            "the core names crate::ports",
        ),
        (
            "src/app/read.rs",
            "\nfn x(_: aws_sdk_s3::Client) {}\n",
            "names aws_sdk_*",
        ),
        (
            "src/bin/cmkguard-lambda.rs",
            "\nuse cmkguard::commands::run;\n",
            "names crate::commands",
        ),
    ];
    for (file, line, want) in cases {
        let found = plant(file, line);
        assert!(
            found
                .iter()
                .any(|v| v.starts_with(file) && v.contains(want)),
            "{file}: {found:?}"
        );
    }
    // A comment may name anything.
    assert!(plant("src/aws/s3.rs", "\n// see crate::app::handle\n").is_empty());
    // And a loop is found.
    let mut all = sources("src");
    all.push(("src/ports.rs".into(), "use crate::scan::Progress;".into()));
    let g = graph(&all);
    assert!(cycle(&g).is_some(), "{g:?}");
}

/// The Lambda's build (default features, what `sam build` compiles) leaves `src/dev/` out:
/// the module is declared only under the `dev` feature, and no default feature enables it.
#[test]
fn the_default_build_does_not_compile_the_development_code() {
    let lib = include_str!("../../src/lib.rs");
    let lines: Vec<&str> = lib.lines().map(str::trim).collect();
    let decl = lines
        .iter()
        .position(|l| *l == "pub mod dev;")
        .expect("src/lib.rs declares the dev module");
    assert_eq!(lines[decl - 1], "#[cfg(feature = \"dev\")]");
    let manifest = include_str!("../../Cargo.toml");
    let default = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("default ="))
        .unwrap_or("default = []");
    assert!(!default.contains("dev"), "{default}");
    assert!(manifest.contains("\ndev = []"), "the dev feature exists");
}
