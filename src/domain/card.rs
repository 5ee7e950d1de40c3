//! Digital business cards: the resource, its public view and validation (pure).

use super::error::{ApiError, ApiResult, FieldErrors};
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

pub fn validate(body: &Value) -> ApiResult<NewCard> {
    let mut errs = FieldErrors::default();
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return Err(ApiError::validation(errs));
    };
    for k in o.keys().filter(|k| {
        !["slug", "display_name", "title", "phone", "email", "bio"].contains(&k.as_str())
    }) {
        errs.add(k, "is not a known field");
    }
    let slug = match o.get("slug").and_then(Value::as_str) {
        Some(s) if valid_slug(s) => Some(s.to_string()),
        _ => {
            errs.add("slug", "3-48 of a-z, 0-9 and inner '-'");
            None
        }
    };
    let name = match o.get("display_name").and_then(Value::as_str).map(str::trim) {
        Some(s) if !s.is_empty() && s.chars().count() <= 120 => Some(s.to_string()),
        _ => {
            errs.add("display_name", "is required (1-120 characters)");
            None
        }
    };
    let mut opt = |f: &str, max: usize| match o.get(f) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= max => {
            Some(s.trim().to_string()).filter(|s| !s.is_empty())
        }
        Some(_) => {
            errs.add(f, format!("must be a string of at most {max} characters"));
            None
        }
    };
    let title = opt("title", 120);
    let phone = opt("phone", 32);
    let email = opt("email", 254);
    let bio = opt("bio", 1000);
    if phone
        .as_deref()
        .is_some_and(|p| !super::customer::valid_phone(p))
    {
        errs.add("phone", "is not a valid phone number");
    }
    if email
        .as_deref()
        .is_some_and(|e| !super::customer::valid_email(e))
    {
        errs.add("email", "is not a valid email address");
    }
    errs.into_result()?;
    match (slug, name) {
        (Some(slug), Some(display_name)) => Ok(NewCard {
            slug,
            display_name,
            title,
            phone,
            email,
            bio,
        }),
        _ => Err(ApiError::internal()),
    }
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
