//! The dependency rule, checked: which layer of the crate may import which. A test reads
//! every source file and fails on an import that breaks the rule (docs/architecture.md).

/// The layer a source file belongs to, by its path under `src/`.
fn layer(path: &str) -> &'static str {
    match path {
        p if p.starts_with("http/") => "http",
        p if p.starts_with("jobs/") => "jobs",
        p if p.starts_with("api/") => "features",
        "realtime/routes.rs" | "realtime/rooms.rs" => "features",
        "realtime/outbox.rs" | "realtime/hub_client.rs" => "outbox",
        p if p.starts_with("realtime/") => "hub",
        p if p.starts_with("web/") => "web",
        p if p.starts_with("store/") => "store",
        p if p.starts_with("domain/") => "domain",
        "platform.rs" => "platform",
        // Typed settings, read once per isolate: every layer may read them.
        "config.rs" => "config",
        // WebCrypto calls map their failures to `ApiError` like the other request helpers.
        "webcrypto.rs" => "web",
        _ => "entry",
    }
}

/// The layer of a `crate::…` path.
fn target(path: &str) -> &'static str {
    let p = path.trim_start_matches("crate::");
    let file = if p.starts_with("realtime::outbox") {
        "realtime/outbox.rs"
    } else if p.starts_with("realtime::hub_client") {
        "realtime/hub_client.rs"
    } else if p.starts_with("realtime::routes") {
        "realtime/routes.rs"
    } else if p.starts_with("realtime::rooms") {
        "realtime/rooms.rs"
    } else if p.starts_with("platform") {
        "platform.rs"
    } else if p.starts_with("webcrypto") {
        "webcrypto.rs"
    } else if p.starts_with("config") {
        "config.rs"
    } else if p.contains("::") {
        return layer(&p.replacen("::", "/", 1));
    } else {
        // A whole module (`crate::store`): its folder.
        return layer(&format!("{p}/"));
    };
    layer(file)
}

/// Who may import whom: http → features → {web, store, outbox, hub protocol, domain};
/// jobs → features; the hub → its storage and the domain; everyone → config, platform and
/// domain; nothing imports upwards.
fn allowed(from: &str, to: &str) -> bool {
    from == to
        || to == "domain"
        || to == "platform"
        || to == "config"
        || match from {
            "entry" => true,
            "http" => matches!(to, "features" | "web" | "hub" | "store"),
            "jobs" => matches!(to, "features" | "web" | "outbox" | "store"),
            "features" => matches!(to, "web" | "outbox" | "hub" | "store"),
            "outbox" => matches!(to, "hub" | "store"),
            "hub" => matches!(to, "store"),
            "web" => matches!(to, "store"),
            _ => false,
        }
}

/// Every line of every `.rs` file under `dir` (relative to the Worker crate's root), as
/// (path relative to `dir`, 1-based line number, line): what the source-reading tests scan.
#[cfg(test)]
pub(crate) fn source_lines(dir: &str) -> Vec<(String, usize, String)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, usize, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    out.push((rel.clone(), n + 1, line.to_string()));
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

#[test]
fn no_layer_imports_upwards() {
    let mut broken = Vec::new();
    for (rel, n, line) in source_lines("src") {
        let from = layer(&rel);
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            let to = target(&tail[..end]);
            if !allowed(from, to) {
                broken.push(format!("{rel}:{n}: {from} → {to} ({})", &tail[..end]));
            }
            rest = &tail[end..];
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the dependency rule:\n{}",
        broken.join("\n")
    );
}

/// Keeps `url::Url` parsing out of the Worker (it cost 63 KiB): a request's URL is read as
/// a string (`req.inner().url()`) and its query with `domain::query::get`.
#[test]
fn the_worker_never_parses_urls() {
    // Built at run time, so this test does not find itself.
    let (call, ty) = ([".url", "()"].concat(), ["Url", "::"].concat());
    let hits: Vec<String> = source_lines("src")
        .into_iter()
        .filter(|(_, _, line)| {
            // `req.inner().url()` is the JS string, not a parse.
            let code = line
                .split("//")
                .next()
                .unwrap_or("")
                .replace(&["inner()", &call].concat(), "");
            code.contains(&call) || code.contains(&ty)
        })
        .map(|(rel, n, _)| format!("{rel}:{n}"))
        .collect();
    assert!(hits.is_empty(), "url::Url parsing in the Worker: {hits:?}");
}

/// Every SQL statement names its parameters (`:name`): a positional `?<digit>` in `src/`
/// or in the core crate fails this test, except in `store/sql.rs`, which rewrites names to
/// positions.
#[test]
fn no_positional_sql_parameters() {
    let positional = |(rel, n, line): (String, usize, String)| {
        let b = line.as_bytes();
        b.windows(2)
            .any(|w| w[0] == b'?' && w[1].is_ascii_digit())
            .then(|| format!("{rel}:{n}: {}", line.trim()))
    };
    let hits: Vec<String> = source_lines("src")
        .into_iter()
        .filter(|(rel, _, _)| rel != "store/sql.rs")
        .chain(source_lines("crates/core/src"))
        .filter_map(positional)
        .collect();
    assert!(
        hits.is_empty(),
        "positional SQL parameters (use :name):\n{}",
        hits.join("\n")
    );
}

/// The API limiter's binding counts tokens of `ratelimit::SHARE` requests: its `limit` in
/// wrangler.toml times the share is the documented budget per caller and minute.
#[test]
fn the_limiter_binding_matches_the_request_budget() {
    use crate::domain::ratelimit::{REQUESTS_PER_MINUTE, SHARE};
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml"))
        .expect("wrangler.toml");
    let block = &toml[toml
        .find("name = \"API_LIMITER\"")
        .expect("API_LIMITER binding")..];
    let simple = &block[block.find("simple = {").expect("simple limit")..];
    let limit: u32 = simple["simple = {".len()..]
        .split(',')
        .next()
        .and_then(|p| p.split('=').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .expect("limit = N");
    assert_eq!(limit * SHARE, REQUESTS_PER_MINUTE, "{simple}");
    assert!(toml.contains("period = 60 }"), "the budget is per minute");
}

/// Comments state the rule itself: a reference to a planning document outside the
/// repository (a planning seed or issue by number) says nothing to a reader of the code.
#[test]
fn comments_name_no_outside_documents() {
    // Built at run time, so this test does not find itself.
    let words = [["se", "ed "].concat(), ["iss", "ue "].concat()];
    let hits: Vec<String> = [
        "src",
        "crates/core/src",
        "crates/testkit/src",
        "tests",
        "bench/src",
    ]
    .into_iter()
    .filter(|dir| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .is_dir()
    })
    .flat_map(source_lines)
    .filter(|(_, _, line)| {
        let Some((_, comment)) = line.split_once("//") else {
            return false;
        };
        let lower = comment.to_lowercase();
        words.iter().any(|w| {
            lower
                .match_indices(w.as_str())
                .any(|(i, _)| lower[i + w.len()..].starts_with(|c: char| c.is_ascii_digit()))
        })
    })
    .map(|(rel, n, line)| format!("{rel}:{n}: {}", line.trim()))
    .collect();
    assert!(
        hits.is_empty(),
        "comments citing outside documents:\n{}",
        hits.join("\n")
    );
}
