//! Matching (pure): how well a property fits a seeker's criteria (budget, location,
//! type, bedrooms), as a 0-100 score with its reasons.

use serde_json::{Map, Value};

/// A pair scores at least this much to be a match.
pub const THRESHOLD: u8 = 60;
/// A property up to this much over budget still matches, with a penalty.
pub const OVER_BUDGET_TOLERANCE_PCT: i64 = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub score: u8,
    pub reasons: Vec<String>,
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn n(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(Value::as_i64)
}

fn list<'a>(m: &'a Map<String, Value>, k: &str) -> Vec<&'a str> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Scores `property` for `seeker` (both as the API returns them), or `None` when a hard
/// rule fails: another currency or listing type, a property not available, a price above
/// the budget by more than 5 %, below `budget_min`, or too few bedrooms.
///
/// Points (100 in all): budget 40 (within budget; 20 when up to 5 % over), location 30
/// (the city is wanted, or no city preference; +0 otherwise), type 20 (the kind is wanted,
/// or no preference), bedrooms 10 (at least the minimum, or no minimum).
pub fn score(seeker: &Map<String, Value>, property: &Map<String, Value>) -> Option<Score> {
    if s(seeker, "currency") != s(property, "currency")
        || s(seeker, "listing") != s(property, "listing")
        || s(property, "status") != Some(super::status::PropertyStatus::Available.as_str())
        || seeker.get("active").and_then(Value::as_bool) == Some(false)
    {
        return None;
    }
    let price = n(property, "price_minor")?;
    let max = n(seeker, "budget_max_minor")?;
    let mut reasons = Vec::new();
    let mut points: i64 = 0;
    if price <= max {
        points += 40;
        reasons.push("within budget".to_string());
    } else if (price - max) * 100 <= max * OVER_BUDGET_TOLERANCE_PCT {
        points += 20;
        reasons.push("slightly over budget".to_string());
    } else {
        return None;
    }
    if n(seeker, "budget_min_minor").is_some_and(|min| price < min) {
        return None;
    }
    let beds = n(property, "bedrooms").unwrap_or(0);
    match n(seeker, "bedrooms_min") {
        Some(min) if beds < min => return None,
        Some(_) => {
            points += 10;
            reasons.push("enough bedrooms".to_string());
        }
        None => points += 10,
    }
    let cities = list(seeker, "cities");
    let city = s(property, "city").unwrap_or("");
    if cities.is_empty() {
        points += 30;
    } else if cities.iter().any(|c| c.eq_ignore_ascii_case(city)) {
        points += 30;
        reasons.push(format!("in {city}"));
    }
    let kinds = list(seeker, "kinds");
    let kind = s(property, "kind").unwrap_or("");
    if kinds.is_empty() {
        points += 20;
    } else if kinds.contains(&kind) {
        points += 20;
        reasons.push(format!("a {kind}"));
    }
    let score = points.clamp(0, 100) as u8;
    (score >= THRESHOLD).then_some(Score { score, reasons })
}

/// `POST /api/matching/run` (the body may be empty).
pub const RUN_INPUT: super::schema::Shape = super::schema::Shape::create(
    "MatchingRunInput",
    &[super::schema::opt(
        "seeker_id",
        super::schema::Kind::Ref("seekers"),
    )],
    &[super::schema::rule(
        &["seeker_id"],
        "seeker_id (default: every active seeker) must name a seeker of the tenant.",
    )],
);

/// `PUT /api/matches/:id`: a broker's decision on a proposed match.
pub const DECISION_INPUT: super::schema::Shape = super::schema::Shape::create(
    "MatchDecisionInput",
    &[super::schema::req(
        "status",
        super::schema::Kind::Enum(&["accepted", "rejected"]),
    )],
    &[],
);

/// The decision body: `accepted` or `rejected`.
pub fn validate_decision(
    body: &serde_json::Value,
) -> super::error::ApiResult<super::status::MatchStatus> {
    let v = super::schema::validate(&DECISION_INPUT, body)?;
    v.str("status")
        .and_then(|s| super::status::MatchStatus::parse(&s))
        .ok_or_else(super::error::ApiError::internal)
}

/// `{seeker_id?}`: one seeker, or every active seeker.
pub fn validate_run(body: &serde_json::Value) -> super::error::ApiResult<Option<String>> {
    Ok(super::schema::validate(&RUN_INPUT, body)?.str("seeker_id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn seeker() -> Map<String, Value> {
        m(
            json!({"currency": "EUR", "listing": "sale", "budget_max_minor": 300_000, "cities": ["Valencia"], "kinds": ["apartment"], "bedrooms_min": 2, "active": true}),
        )
    }

    fn prop(price: i64, city: &str, kind: &str, beds: i64) -> Map<String, Value> {
        m(
            json!({"currency": "EUR", "listing": "sale", "status": "available", "price_minor": price, "city": city, "kind": kind, "bedrooms": beds}),
        )
    }

    #[test]
    fn perfect_and_partial_matches() {
        let sc = score(&seeker(), &prop(250_000, "valencia", "apartment", 3)).unwrap();
        assert_eq!(sc.score, 100);
        assert_eq!(sc.reasons.len(), 4);
        // Another city: 70, still a match; another city and kind: 50, not a match.
        assert_eq!(
            score(&seeker(), &prop(250_000, "Madrid", "apartment", 3))
                .unwrap()
                .score,
            70
        );
        assert!(score(&seeker(), &prop(250_000, "Madrid", "house", 3)).is_none());
        // 5 % over budget is tolerated with a penalty; 6 % is not.
        assert_eq!(
            score(&seeker(), &prop(315_000, "Valencia", "apartment", 2))
                .unwrap()
                .score,
            80
        );
        assert!(score(&seeker(), &prop(318_000, "Valencia", "apartment", 2)).is_none());
    }

    #[test]
    fn hard_rules() {
        assert!(
            score(&seeker(), &prop(250_000, "Valencia", "apartment", 1)).is_none(),
            "bedrooms"
        );
        let mut p = prop(250_000, "Valencia", "apartment", 3);
        p.insert("status".into(), json!("sold"));
        assert!(score(&seeker(), &p).is_none());
        let mut p = prop(250_000, "Valencia", "apartment", 3);
        p.insert("currency".into(), json!("USD"));
        assert!(score(&seeker(), &p).is_none());
        let mut sk = seeker();
        sk.insert("budget_min_minor".into(), json!(260_000));
        assert!(score(&sk, &prop(250_000, "Valencia", "apartment", 3)).is_none());
        sk.insert("active".into(), json!(false));
        assert!(score(&sk, &prop(270_000, "Valencia", "apartment", 3)).is_none());
    }

    #[test]
    fn no_preferences_match_anything_in_budget() {
        let sk = m(json!({"currency": "EUR", "listing": "sale", "budget_max_minor": 100}));
        assert_eq!(
            score(&sk, &prop(90, "Anywhere", "land", 0)).unwrap().score,
            100
        );
    }
}
