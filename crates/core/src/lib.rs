//! Pulse's pure core: the domain (rules, validation, money, matching, reports, the read
//! policy), the realtime protocol and the typed settings. It has no `worker` dependency:
//! everything here runs and is tested natively with plain `cargo test`.

pub mod config;
pub mod domain;
pub mod protocol;
pub mod socketio;

/// The check behind every committed generated document (the OpenAPI document, the event
/// catalog): the files under `root` are `doc`, minified at `served` and indented at
/// `readable`; with the environment variable `write` set they are rewritten instead.
/// `rewrite` is the command that does so, named in the failure.
#[cfg(any(test, feature = "fixtures"))]
pub fn assert_generated_files(
    root: &std::path::Path,
    doc: &serde_json::Value,
    (served, readable): (&str, &str),
    write: &str,
    rewrite: &str,
) {
    let served_text = serde_json::to_string(doc).unwrap() + "\n";
    let readable_text = serde_json::to_string_pretty(doc).unwrap() + "\n";
    if std::env::var_os(write).is_some() {
        std::fs::write(root.join(served), &served_text).unwrap();
        std::fs::write(root.join(readable), &readable_text).unwrap();
    }
    for (file, want) in [(served, &served_text), (readable, &readable_text)] {
        let have = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(
            have == *want,
            "{file} is not the generated document: rewrite it with `{rewrite}` and commit it"
        );
    }
}

/// Inside the core, the domain depends on nothing else here: the protocol and the settings
/// build on the domain, never the other way round.
#[cfg(test)]
mod layering {
    #[test]
    fn the_domain_imports_only_the_domain() {
        fn walk(dir: &std::path::Path, hits: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, hits);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let code = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in code.lines().enumerate() {
                        if line.contains("crate::protocol") || line.contains("crate::config") {
                            hits.push(format!("{}:{}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        let mut hits = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"),
            &mut hits,
        );
        assert!(hits.is_empty(), "the domain imports upwards: {hits:?}");
    }
}
