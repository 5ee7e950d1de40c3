//! Listing publishing rules (pure): the listing, publication and schedule resources, the
//! platform configuration, request validation, and a listing's overall status.

use super::error::{ApiError, ApiResult, FieldErrors};
use super::schema::{self, opt, req, rule, Kind, Pattern, Shape};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A property's listing as it is sent to the platforms (a snapshot taken when the
/// listing is created, so later edits of the property do not leak into live adverts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub id: String,
    pub property_id: String,
    pub title: String,
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub city: Option<String>,
    pub kind: Option<String>,
    pub bedrooms: Option<i64>,
    pub platforms: Vec<String>,
    pub status: super::status::ListingStatus,
    pub publications: Vec<Publication>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

/// Where one listing stands on one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    pub platform: String,
    pub status: super::status::PublicationStatus,
    pub job_id: Option<String>,
    pub external_id: Option<String>,
    pub url: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub published_at: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: String,
    pub listing_id: String,
    pub platforms: Vec<String>,
    pub run_at: String,
    pub status: super::status::ScheduleStatus,
    pub job_ids: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
}

/// `PUBLISHING_PLATFORMS`: `name=target,name=target`, where the target is `record` (keep
/// the message in D1) or the platform's webhook URL. Names are `[a-z0-9-]{1,32}`.
pub fn parse_platforms(config: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in config.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, target) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not name=target"))?;
        let (name, target) = (name.trim(), target.trim());
        if !valid_platform(name) {
            return Err(format!("bad platform name '{name}'"));
        }
        if target != "record" && !(target.starts_with("https://") || target.starts_with("http://"))
        {
            return Err(format!(
                "platform {name}: target must be 'record' or an http(s) URL"
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("platform {name} is listed twice"));
        }
        out.push((name.to_string(), target.to_string()));
    }
    Ok(out)
}

pub fn valid_platform(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A platform's name.
pub const PLATFORM: Pattern = Pattern {
    test: valid_platform,
    regex: "^[a-z0-9-]{1,32}$",
    max_len: None,
    problem: "must be a platform name (1-32 of a-z, 0-9, '-')",
    example: "idealista",
};
const PLATFORMS: Kind = Kind::List(&Kind::Pattern(&PLATFORM), 1, 20);

/// `POST /api/publishing/listings`.
pub const LISTING_INPUT: Shape = Shape::create(
    "ListingInput",
    &[
        req("property_id", Kind::Ref("properties")),
        req("platforms", PLATFORMS),
        opt("title", Kind::Text(200)),
        opt("description", Kind::Text(5000)),
        opt("price_minor", Kind::Money),
    ],
    &[
        rule(
            &["property_id"],
            "property_id must name a property of the tenant.",
        ),
        rule(
            &["platforms"],
            "Each of platforms must be a configured platform (PUBLISHING_PLATFORMS).",
        ),
    ],
);

/// `POST /api/publishing/listings/:id/publish` (the body may be empty).
pub const PUBLISH_INPUT: Shape = Shape::create(
    "ListingPublishInput",
    &[opt("platforms", PLATFORMS)],
    &[rule(
        &["platforms"],
        "Each of platforms must be one of the listing's platforms (default: all of them).",
    )],
);

/// `PUT /api/publishing/listings/:id`: the advert's own text and price (its snapshot of
/// the property); a live advert shows the change after the next publish.
pub const LISTING_PATCH: Shape = Shape::patch(
    "ListingPatch",
    &[
        req("title", Kind::Text(200)),
        opt("description", Kind::Text(5000)).blank_is_null(),
        req("price_minor", Kind::Money),
    ],
    &[],
);

/// `POST /api/publishing/listings/:id/unpublish` (the body may be empty).
pub const UNPUBLISH_INPUT: Shape = Shape::create(
    "ListingUnpublishInput",
    &[opt("platforms", PLATFORMS)],
    &[rule(
        &["platforms"],
        "Each of platforms must be one where the listing is published (default: all of them); \
         none published is a 409.",
    )],
);

/// The fields a listing edit may change, in the order `changes` lists them.
const LISTING_EDITABLE: &[&str] = &["title", "description", "price_minor"];

/// `current` edited by `body`, and what changed.
pub fn validate_listing_patch(
    current: &Listing,
    body: &Value,
) -> ApiResult<(Listing, serde_json::Map<String, Value>)> {
    let v = schema::validate(&LISTING_PATCH, body)?;
    let mut l = current.clone();
    if let Some(t) = v.str("title") {
        l.title = t;
    }
    if let Some(d) = v.opt_str("description") {
        l.description = d;
    }
    if let Some(p) = v.int("price_minor") {
        l.price_minor = p;
    }
    let changes = super::event::changes(
        &serde_json::to_value(current)?,
        &serde_json::to_value(&l)?,
        LISTING_EDITABLE,
    );
    Ok((l, changes))
}

/// `{platforms?}` to withdraw: each must be published now (default: every published one).
/// `Ok(empty)` never: nothing to withdraw is a 409.
pub fn validate_unpublish(body: &Value, listing: &Listing) -> ApiResult<Vec<String>> {
    use super::status::PublicationStatus as P;
    let (v, mut errs) = schema::check(&UNPUBLISH_INPUT, body);
    let live: Vec<String> = listing
        .publications
        .iter()
        .filter(|p| p.status == P::Published)
        .map(|p| p.platform.clone())
        .collect();
    let chosen = v.strings("platforms");
    let none = chosen.is_none();
    let picked = among(chosen, &listing.platforms, &mut errs);
    errs.into_result()?;
    let picked = if none { live.clone() } else { picked };
    let not_live: Vec<&str> = picked
        .iter()
        .filter(|p| !live.contains(p))
        .map(String::as_str)
        .collect();
    if !not_live.is_empty() {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("not published on: {}", not_live.join(", ")),
        ));
    }
    if picked.is_empty() {
        return Err(ApiError::new(
            409,
            "conflict",
            "the listing is not published anywhere",
        ));
    }
    Ok(picked)
}

/// `POST /api/publishing/schedules`.
pub const SCHEDULE_INPUT: Shape = Shape::create(
    "ScheduleInput",
    &[
        req("listing_id", Kind::Ref("listings")),
        req("run_at", Kind::DateTime),
        opt("platforms", PLATFORMS),
    ],
    &[
        rule(
            &["run_at"],
            "run_at must be at most a minute in the past and at most a year ahead.",
        ),
        rule(
            &["listing_id", "platforms"],
            "listing_id must name a listing of the tenant; each of platforms must be one of its \
         platforms (default: all of them).",
        ),
    ],
);

/// Every platform of a checked list must be among `allowed`.
fn among(list: Option<Vec<String>>, allowed: &[String], errs: &mut FieldErrors) -> Vec<String> {
    let list = list.unwrap_or_default();
    if list.iter().any(|p| !allowed.contains(p)) {
        errs.add(
            "platforms",
            format!("each must be one of: {}", allowed.join(", ")),
        );
    }
    list
}

#[derive(Debug, PartialEq)]
pub struct NewListing {
    pub property_id: String,
    pub platforms: Vec<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub price_minor: Option<i64>,
}

/// `POST /api/publishing/listings` `{property_id, platforms, title?, description?, price_minor?}`.
pub fn validate_listing(body: &Value, configured: &[String]) -> ApiResult<NewListing> {
    let (v, mut errs) = schema::check(&LISTING_INPUT, body);
    let platforms = among(v.strings("platforms"), configured, &mut errs);
    errs.into_result()?;
    Ok(NewListing {
        property_id: v.str("property_id").ok_or_else(ApiError::internal)?,
        platforms,
        title: v.str("title"),
        description: v.str("description"),
        price_minor: v.int("price_minor"),
    })
}

/// `POST /api/publishing/listings/:id/publish` `{platforms?}` (absent = all of the listing's).
pub fn validate_publish(body: &Value, listing_platforms: &[String]) -> ApiResult<Vec<String>> {
    let (v, mut errs) = schema::check(&PUBLISH_INPUT, body);
    let chosen = v.strings("platforms");
    let none = chosen.is_none();
    let p = among(chosen, listing_platforms, &mut errs);
    errs.into_result()?;
    Ok(if none { listing_platforms.to_vec() } else { p })
}

#[derive(Debug, PartialEq)]
pub struct NewSchedule {
    pub listing_id: String,
    pub run_at: String,
    pub platforms: Option<Vec<String>>,
}

/// Schedules reach at most this far ahead.
const MAX_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;

/// `POST /api/publishing/schedules` `{listing_id, run_at, platforms?}`: `run_at` in the
/// future (within a minute of the past is accepted: the next cron run picks it up).
pub fn validate_schedule(
    body: &Value,
    now_ms: i64,
    configured: &[String],
) -> ApiResult<NewSchedule> {
    let (v, mut errs) = schema::check(&SCHEDULE_INPUT, body);
    match v.ms("run_at") {
        Some(ms) if ms < now_ms - 60_000 => errs.add("run_at", "must not be in the past"),
        Some(ms) if ms > now_ms + MAX_AHEAD_MS => errs.add("run_at", "must be within a year"),
        _ => {}
    }
    let platforms = v
        .strings("platforms")
        .map(|p| among(Some(p), configured, &mut errs));
    errs.into_result()?;
    match (v.str("listing_id"), v.str("run_at")) {
        (Some(listing_id), Some(run_at)) => Ok(NewSchedule {
            listing_id,
            run_at,
            platforms,
        }),
        _ => Err(ApiError::internal()),
    }
}

/// A listing's status from its publications' statuses.
pub fn listing_status(
    publications: &[super::status::PublicationStatus],
) -> super::status::ListingStatus {
    use super::status::{ListingStatus as L, PublicationStatus as P};
    // Withdrawn publications count as none; one being withdrawn is still live.
    let live: Vec<P> = publications
        .iter()
        .filter(|p| **p != P::Unpublished)
        .map(|p| {
            if *p == P::Unpublishing {
                P::Published
            } else {
                *p
            }
        })
        .collect();
    let any = |s: P| live.contains(&s);
    if live.is_empty() {
        L::Draft
    } else if any(P::Queued) || any(P::Publishing) {
        L::Publishing
    } else if live.iter().all(|p| *p == P::Published) {
        L::Published
    } else if any(P::Published) {
        L::PartiallyPublished
    } else {
        L::Failed
    }
}

/// The same rule in SQL, for the UPDATE that follows a publication change: it uses
/// `:tenant`, `:listing` and the statuses of `LISTING_STATUS_ARGS`.
pub const LISTING_STATUS_SQL: &str = "CASE
    WHEN NOT EXISTS (SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
                     AND listing_id = :listing AND status <> :p_unpublished) THEN :l_draft
    WHEN EXISTS (SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
                   AND listing_id = :listing AND status IN (:p_queued, :p_publishing))
      THEN :l_publishing
    WHEN NOT EXISTS (SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
                       AND listing_id = :listing
                       AND status NOT IN (:p_published, :p_unpublishing, :p_unpublished))
      THEN :l_published
    WHEN EXISTS (SELECT 1 FROM listing_publications WHERE tenant_id = :tenant
                   AND listing_id = :listing AND status IN (:p_published, :p_unpublishing))
      THEN :l_partially_published
    ELSE :l_failed END";

/// The statuses `LISTING_STATUS_SQL` names, each with its value.
pub const LISTING_STATUS_ARGS: [(&str, &str); 10] = {
    use super::status::{ListingStatus as L, PublicationStatus as P};
    [
        ("l_draft", L::Draft.as_str()),
        ("l_publishing", L::Publishing.as_str()),
        ("l_published", L::Published.as_str()),
        ("l_partially_published", L::PartiallyPublished.as_str()),
        ("l_failed", L::Failed.as_str()),
        ("p_queued", P::Queued.as_str()),
        ("p_publishing", P::Publishing.as_str()),
        ("p_published", P::Published.as_str()),
        ("p_unpublishing", P::Unpublishing.as_str()),
        ("p_unpublished", P::Unpublished.as_str()),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configured() -> Vec<String> {
        vec!["idealista".into(), "fotocasa".into()]
    }

    #[test]
    fn platforms_config() {
        let p = parse_platforms("idealista=record, fotocasa=http://127.0.0.1:9/hook").unwrap();
        assert_eq!(p[1], ("fotocasa".into(), "http://127.0.0.1:9/hook".into()));
        assert!(parse_platforms("").unwrap().is_empty());
        assert!(parse_platforms("Bad=record").is_err());
        assert!(parse_platforms("a=ftp://x").is_err());
        assert!(parse_platforms("a=record,a=record").is_err());
        assert!(parse_platforms("a").is_err());
    }

    #[test]
    fn listing_validation() {
        let l = validate_listing(
            &json!({"property_id": "prp_1", "platforms": ["fotocasa", "fotocasa"]}),
            &configured(),
        )
        .unwrap();
        assert_eq!(l.platforms, vec!["fotocasa".to_string()]);
        let e = validate_listing(
            &json!({"platforms": ["nope"], "price_minor": -1, "x": 1}),
            &configured(),
        )
        .unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(f["property_id"].is_string() && f["platforms"].is_string());
        assert!(f["price_minor"].is_string() && f["x"].is_string());
        assert!(
            validate_listing(&json!({"property_id": "p", "platforms": []}), &configured()).is_err()
        );
    }

    #[test]
    fn publish_defaults_to_the_listings_platforms() {
        let lp = configured();
        assert_eq!(validate_publish(&json!({}), &lp).unwrap(), lp);
        assert_eq!(
            validate_publish(&json!({"platforms": ["idealista"]}), &lp).unwrap(),
            vec!["idealista".to_string()]
        );
        assert!(validate_publish(&json!({"platforms": ["other"]}), &lp).is_err());
    }

    #[test]
    fn schedule_validation() {
        let now = crate::domain::time::parse_rfc3339("2026-11-24T10:00:00Z").unwrap();
        let s = validate_schedule(
            &json!({"listing_id": "lst_1", "run_at": "2026-11-24T12:00:00+01:00"}),
            now,
            &configured(),
        )
        .unwrap();
        assert_eq!(s.run_at, "2026-11-24T11:00:00.000Z");
        assert!(s.platforms.is_none());
        assert!(validate_schedule(
            &json!({"listing_id": "l", "run_at": "2026-11-23T10:00:00Z"}),
            now,
            &configured()
        )
        .is_err());
        assert!(validate_schedule(
            &json!({"listing_id": "l", "run_at": "2028-11-23T10:00:00Z"}),
            now,
            &configured()
        )
        .is_err());
        assert!(validate_schedule(
            &json!({"listing_id": "l", "run_at": "soon"}),
            now,
            &configured()
        )
        .is_err());
    }

    #[test]
    fn status_rollup() {
        use crate::domain::status::{ListingStatus as L, PublicationStatus as P};
        assert_eq!(listing_status(&[]), L::Draft);
        assert_eq!(listing_status(&[P::Published, P::Queued]), L::Publishing);
        assert_eq!(listing_status(&[P::Published, P::Published]), L::Published);
        assert_eq!(
            listing_status(&[P::Published, P::Failed]),
            L::PartiallyPublished
        );
        assert_eq!(listing_status(&[P::Failed]), L::Failed);
        // Withdrawn counts as none; being withdrawn is still live.
        assert_eq!(listing_status(&[P::Unpublished, P::Unpublished]), L::Draft);
        assert_eq!(
            listing_status(&[P::Published, P::Unpublished]),
            L::Published
        );
        assert_eq!(listing_status(&[P::Unpublishing]), L::Published);
        assert_eq!(
            listing_status(&[P::Unpublishing, P::Failed]),
            L::PartiallyPublished
        );
    }
}
