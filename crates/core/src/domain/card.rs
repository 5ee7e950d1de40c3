//! Digital business cards: the resource, its public view and validation (pure).

use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Field, Kind, Pattern, Rule, Shape};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub id: String,
    pub slug: String,
    pub owner_id: String,
    pub display_name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub bio: Option<String>,
    pub scans: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// What anyone may see: the card's own contact details, nothing else of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicCard {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub bio: Option<String>,
    pub scans: i64,
}

impl From<Card> for PublicCard {
    fn from(c: Card) -> PublicCard {
        PublicCard {
            id: c.id,
            slug: c.slug,
            display_name: c.display_name,
            title: c.title,
            phone: c.phone,
            email: c.email,
            bio: c.bio,
            scans: c.scans,
        }
    }
}

#[derive(Debug)]
pub struct NewCard {
    pub slug: String,
    pub display_name: String,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub bio: Option<String>,
}

pub fn valid_slug(s: &str) -> bool {
    (3..=48).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A card's slug (global, in its public URL).
pub const SLUG: Pattern = Pattern {
    test: valid_slug,
    regex: "^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$",
    max_len: None,
    problem: "3-48 of a-z, 0-9 and inner '-'",
    example: "jane-doe",
};

pub const SCAN_SOURCES: &[&str] = &["qr", "nfc", "link"];

/// A card's fields, shared by its create and its edit.
const FIELDS: &[Field] = &[
    req("slug", Kind::Pattern(&SLUG)),
    req("display_name", Kind::Text(120)),
    opt("title", Kind::Text(120)).blank_is_null(),
    opt("phone", Kind::Phone).blank_is_null(),
    opt("email", Kind::Email).blank_is_null(),
    opt("bio", Kind::Text(1000)).blank_is_null(),
];

const RULES: &[Rule] = &[rule(
    &["slug"],
    "slug must be free across all tenants (409 when taken).",
)];

/// `POST /api/cards`.
pub const INPUT: Shape = Shape::create("CardInput", FIELDS, RULES);

/// `PUT /api/cards/:id`: a partial edit (the slug too, if free).
pub const PATCH: Shape = Shape::patch("CardPatch", FIELDS, RULES);

/// The fields an edit may change, in the order `changes` lists them.
const EDITABLE: &[&str] = &["slug", "display_name", "title", "phone", "email", "bio"];

/// `current` edited by `body`, and what changed (`{field: {from, to}}`).
pub fn validate_patch(
    current: &Card,
    body: &Value,
) -> ApiResult<(Card, serde_json::Map<String, Value>)> {
    let v = schema::validate(&PATCH, body)?;
    let mut c = current.clone();
    if let Some(s) = v.str("slug") {
        c.slug = s;
    }
    if let Some(d) = v.str("display_name") {
        c.display_name = d;
    }
    for (name, slot) in [
        ("title", &mut c.title),
        ("phone", &mut c.phone),
        ("email", &mut c.email),
        ("bio", &mut c.bio),
    ] {
        if let Some(x) = v.opt_str(name) {
            *slot = x;
        }
    }
    let changes = super::event::changes(
        &serde_json::to_value(current)?,
        &serde_json::to_value(&c)?,
        EDITABLE,
    );
    Ok((c, changes))
}

/// `POST /api/cards/:id/scan` (public; the body may be empty).
pub const SCAN: Shape = Shape::create(
    "CardScanInput",
    &[opt("source", Kind::Enum(SCAN_SOURCES))],
    &[],
)
.open();

pub fn validate(body: &Value) -> ApiResult<NewCard> {
    let v = schema::validate(&INPUT, body)?;
    match (v.str("slug"), v.str("display_name")) {
        (Some(slug), Some(display_name)) => Ok(NewCard {
            slug,
            display_name,
            title: v.str("title"),
            phone: v.str("phone"),
            email: v.str("email"),
            bio: v.str("bio"),
        }),
        _ => Err(ApiError::internal()),
    }
}

/// A scan's body `{"source"?: "qr"|"nfc"|"link"}`: the source, if given.
pub fn validate_scan(body: &Value) -> ApiResult<Option<String>> {
    Ok(schema::validate(&SCAN, body)?.str("source"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slugs_and_fields() {
        assert!(valid_slug("jane-doe"));
        assert!(!valid_slug("-x-") && !valid_slug("ab") && !valid_slug("Jane"));
        assert!(validate(
            &json!({"slug": "jane-doe", "display_name": "Jane Doe", "email": "jane@example.com"})
        )
        .is_ok());
        let e =
            validate(&json!({"slug": "J", "display_name": "", "email": "nope", "tenant_id": "x"}))
                .unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert!(
            f["slug"].is_string()
                && f["display_name"].is_string()
                && f["email"].is_string()
                && f["tenant_id"].is_string()
        );
    }
}
