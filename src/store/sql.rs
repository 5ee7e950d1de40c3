//! Named SQL parameters: each value is bound beside its `:name`, never by a far-away `?14`.
//!
//! D1 only binds positional parameters, so `:name` placeholders are rewritten to `?N`
//! (N = the name's position in the argument list) before the statement is prepared. A
//! name without an argument, or an argument the SQL never uses, is a programming error:
//! it fails the statement (500, logged) instead of binding the wrong value, and the unit
//! tests of each resource catch it before a deploy.

use std::fmt::Write;

/// Rewrites `:name` placeholders to `?N` for `names` (in binding order). Quoted text
/// (`'...'`, `"..."`) is left alone. Errors name the offending placeholder.
pub fn positional(sql: &str, names: &[&str]) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut used = vec![false; names.len()];
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            ':' if chars
                .peek()
                .is_some_and(|(_, n)| n.is_ascii_alphabetic() || *n == '_') =>
            {
                let start = i + 1;
                let mut end = start;
                while let Some((j, n)) = chars.peek().copied() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        end = j + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let name = &sql[start..end];
                let Some(pos) = names.iter().position(|n| *n == name) else {
                    return Err(format!("no argument for :{name}"));
                };
                used[pos] = true;
                let _ = write!(out, "?{}", pos + 1);
            }
            _ => out.push(c),
        }
    }
    if let Some(pos) = used.iter().position(|u| !u) {
        return Err(format!("argument :{} is not used", names[pos]));
    }
    Ok(out)
}

/// `INSERT INTO table (a, b) VALUES (:a, :b)`.
pub fn insert_values(table: &str, cols: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        cols.join(", "),
        placeholders(cols)
    )
}

/// `INSERT INTO table (a, b) SELECT :a, :b` (a `WHERE` follows).
pub fn insert_select(table: &str, cols: &[&str]) -> String {
    format!(
        "INSERT INTO {table} ({}) SELECT {}",
        cols.join(", "),
        placeholders(cols)
    )
}

/// `a = :a, b = :b` (an UPDATE's SET list).
pub fn assignments(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{c} = :{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn placeholders(cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!(":{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{assignments, insert_select, insert_values, positional};

    #[test]
    fn column_lists_name_each_value_after_its_column() {
        assert_eq!(
            insert_values("t", &["tenant_id", "id"]),
            "INSERT INTO t (tenant_id, id) VALUES (:tenant_id, :id)"
        );
        assert_eq!(
            insert_select("t", &["a", "b"]),
            "INSERT INTO t (a, b) SELECT :a, :b"
        );
        assert_eq!(assignments(&["a", "b"]), "a = :a, b = :b");
        let sql = format!("{} WHERE :b IS NOT NULL", insert_select("t", &["a", "b"]));
        assert_eq!(
            positional(&sql, &["a", "b"]).unwrap(),
            "INSERT INTO t (a, b) SELECT ?1, ?2 WHERE ?2 IS NOT NULL"
        );
    }

    /// The listing roll-up's SQL uses exactly its documented names.
    #[test]
    fn listing_status_sql_names_its_arguments() {
        use crate::domain::publishing::{LISTING_STATUS_ARGS, LISTING_STATUS_SQL};
        let names: Vec<&str> = ["tenant", "listing"]
            .into_iter()
            .chain(LISTING_STATUS_ARGS.iter().map(|(n, _)| *n))
            .collect();
        let sql = positional(LISTING_STATUS_SQL, &names);
        assert!(sql.is_ok(), "{sql:?}");
    }

    #[test]
    fn names_become_positions_in_argument_order() {
        assert_eq!(
            positional(
                "SELECT * FROM t WHERE tenant_id = :tenant AND (id < :after OR :after IS NULL) LIMIT :limit",
                &["tenant", "after", "limit"]
            )
            .unwrap(),
            "SELECT * FROM t WHERE tenant_id = ?1 AND (id < ?2 OR ?2 IS NULL) LIMIT ?3"
        );
    }

    #[test]
    fn quoted_text_is_left_alone() {
        assert_eq!(
            positional("SELECT ':x', \":y\" FROM t WHERE a = :a", &["a"]).unwrap(),
            "SELECT ':x', \":y\" FROM t WHERE a = ?1"
        );
    }

    #[test]
    fn missing_and_unused_names_are_errors() {
        assert_eq!(
            positional("SELECT :a, :b", &["a"]).unwrap_err(),
            "no argument for :b"
        );
        assert_eq!(
            positional("SELECT :a", &["a", "b"]).unwrap_err(),
            "argument :b is not used"
        );
    }

    #[test]
    fn a_colon_not_followed_by_a_name_is_kept() {
        assert_eq!(
            positional("SELECT time(:t, '+1 day'), a: 1, :_x", &["t", "_x"]).unwrap(),
            "SELECT time(?1, '+1 day'), a: 1, ?2"
        );
    }
}
