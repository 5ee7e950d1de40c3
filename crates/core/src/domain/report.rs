//! Reports (pure): the report resource, request validation, each kind's columns, and the
//! rendering of aggregate rows to CSV (RFC 4180) or JSON with totals.

use super::error::{ApiError, ApiResult};
use super::schema::{self, dflt, req, rule, Kind, Shape};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub kind: String,
    pub format: String,
    pub from: String,
    pub to: String,
    pub status: super::status::ReportStatus,
    pub job_id: String,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
    pub totals: Option<Value>,
    pub error: Option<String>,
    pub download_url: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

pub const KINDS: &[&str] = &[
    "sales_summary",
    "commissions_by_broker",
    "pipeline",
    "appointments",
];

/// The columns of each kind, in output order, and which of them are summed in totals.
pub fn columns(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "sales_summary" => (
            &[
                "day",
                "currency",
                "sales",
                "total_minor",
                "paid_minor",
                "balance_minor",
            ],
            &["sales", "total_minor", "paid_minor", "balance_minor"],
        ),
        "commissions_by_broker" => (
            &[
                "broker_id",
                "broker_name",
                "currency",
                "commissions",
                "amount_minor",
                "approved_minor",
                "pending_minor",
                "paid_minor",
            ],
            &[
                "commissions",
                "amount_minor",
                "approved_minor",
                "pending_minor",
                "paid_minor",
            ],
        ),
        "pipeline" => (&["status", "customers"], &["customers"]),
        "appointments" => (
            &[
                "assigned_to",
                "total",
                "scheduled",
                "completed",
                "cancelled",
            ],
            &["total", "scheduled", "completed", "cancelled"],
        ),
        _ => (&[], &[]),
    }
}

#[derive(Debug, PartialEq)]
pub struct NewReport {
    pub kind: String,
    pub format: String,
    pub from: String,
    pub to: String,
}

/// A report covers at most this long a range.
const MAX_RANGE_MS: i64 = 5 * 366 * 24 * 3600 * 1000;

pub const FORMATS: &[&str] = &["csv", "json"];

/// `POST /api/reports`.
pub const INPUT: Shape = Shape::create(
    "ReportInput",
    &[
        req("kind", Kind::Enum(KINDS)),
        dflt("format", Kind::Enum(FORMATS), "\"csv\""),
        req("from", Kind::DateTime),
        req("to", Kind::DateTime),
    ],
    &[rule(
        &["to"],
        "to must be after from, and at most 5 years after it (the range is [from, to)).",
    )],
);

/// `POST /api/reports` `{kind, format?, from, to}`: `format` csv (default) or json; the range
/// is `[from, to)`.
pub fn validate(body: &Value) -> ApiResult<NewReport> {
    let (v, mut errs) = schema::check(&INPUT, body);
    if let (Some(f), Some(t)) = (v.ms("from"), v.ms("to")) {
        if t <= f {
            errs.add("to", "must be after from");
        } else if t - f > MAX_RANGE_MS {
            errs.add("to", "a report covers at most 5 years");
        }
    }
    errs.into_result()?;
    match (v.str("kind"), v.str("format"), v.str("from"), v.str("to")) {
        (Some(kind), Some(format), Some(from), Some(to)) => Ok(NewReport {
            kind,
            format,
            from,
            to,
        }),
        _ => Err(ApiError::internal()),
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    // Leading = + - @ would be formulas in spreadsheets: quote them with a ' prefix.
    let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// RFC 4180 CSV with a header line and CRLF line ends.
pub fn render_csv(columns: &[&str], rows: &[Map<String, Value>]) -> String {
    let mut out = columns.join(",");
    out.push_str("\r\n");
    for r in rows {
        let line: Vec<String> = columns
            .iter()
            .map(|c| csv_field(&cell(r.get(*c))))
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Sums `summed` columns: per currency when the rows have one, else overall.
pub fn totals(rows: &[Map<String, Value>], summed: &[&str]) -> Value {
    // Aggregates over integer columns (`COUNT`, `SUM`): integers; NULL (no rows) is 0.
    let num = |r: &Map<String, Value>, c: &str| r.get(c).and_then(Value::as_i64).unwrap_or(0);
    let has_currency = rows
        .iter()
        .any(|r| r.get("currency").is_some_and(Value::is_string));
    let sum_of = |rs: &[&Map<String, Value>]| {
        let mut m = Map::new();
        for c in summed {
            m.insert(
                (*c).to_string(),
                json!(rs.iter().map(|r| num(r, c)).sum::<i64>()),
            );
        }
        Value::Object(m)
    };
    if has_currency {
        let mut currencies: Vec<String> = rows
            .iter()
            .filter_map(|r| r.get("currency").and_then(Value::as_str).map(String::from))
            .collect();
        currencies.sort();
        currencies.dedup();
        let mut by = Map::new();
        for cur in currencies {
            let rs: Vec<&Map<String, Value>> = rows
                .iter()
                .filter(|r| r.get("currency").and_then(Value::as_str) == Some(cur.as_str()))
                .collect();
            by.insert(cur, sum_of(&rs));
        }
        json!({ "by_currency": by })
    } else {
        let rs: Vec<&Map<String, Value>> = rows.iter().collect();
        sum_of(&rs)
    }
}

/// The JSON document of a report.
pub fn render_json(r: &NewReport, generated_at: &str, rows: &[Map<String, Value>]) -> String {
    let (cols, summed) = columns(&r.kind);
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut m = Map::new();
            for c in cols {
                m.insert(
                    (*c).to_string(),
                    row.get(*c).cloned().unwrap_or(Value::Null),
                );
            }
            Value::Object(m)
        })
        .collect();
    let doc = json!({
        "kind": r.kind, "from": r.from, "to": r.to, "generated_at": generated_at,
        "columns": cols, "rows": rows,
        "totals": totals(&rows.iter().filter_map(|v| v.as_object().cloned()).collect::<Vec<_>>(), summed),
    });
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn validation() {
        let r = validate(&json!({"kind": "pipeline", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})).unwrap();
        assert_eq!(r.format, "csv");
        assert_eq!(r.from, "2026-01-01T00:00:00.000Z");
        let e = validate(&json!({"kind": "x", "format": "xls", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "y": 1})).unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(
            f["kind"].is_string()
                && f["format"].is_string()
                && f["to"].is_string()
                && f["y"].is_string()
        );
    }

    #[test]
    fn csv_is_rfc4180_and_formula_safe() {
        let rows = vec![
            row(json!({"status": "lead, hot", "customers": 3.0})),
            row(json!({"status": "say \"hi\"", "customers": 2})),
            row(json!({"status": "=cmd()", "customers": null})),
        ];
        let csv = render_csv(&["status", "customers"], &rows);
        assert_eq!(
            csv,
            "status,customers\r\n\"lead, hot\",3\r\n\"say \"\"hi\"\"\",2\r\n'=cmd(),\r\n"
        );
    }

    #[test]
    fn totals_per_currency() {
        let rows = vec![
            row(json!({"currency": "EUR", "sales": 2, "total_minor": 100})),
            row(json!({"currency": "USD", "sales": 1, "total_minor": 7})),
            row(json!({"currency": "EUR", "sales": 1, "total_minor": 50})),
        ];
        let t = totals(&rows, &["sales", "total_minor"]);
        assert_eq!(t["by_currency"]["EUR"]["total_minor"], 150);
        assert_eq!(t["by_currency"]["EUR"]["sales"], 3);
        assert_eq!(t["by_currency"]["USD"]["total_minor"], 7);
        let t = totals(
            &[row(json!({"customers": 2})), row(json!({"customers": 5}))],
            &["customers"],
        );
        assert_eq!(t["customers"], 7);
    }

    #[test]
    fn json_document_has_rows_and_totals() {
        let r = NewReport {
            kind: "pipeline".into(),
            format: "json".into(),
            from: "a".into(),
            to: "b".into(),
        };
        let doc: Value = serde_json::from_str(&render_json(
            &r,
            "now",
            &[row(json!({"status": "lead", "customers": 4}))],
        ))
        .unwrap();
        assert_eq!(doc["rows"][0]["customers"], 4);
        assert_eq!(doc["totals"]["customers"], 4);
        assert_eq!(doc["columns"][0], "status");
    }
}
