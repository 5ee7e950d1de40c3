//! Edits of a digital business card (pure): the patch body, who may edit, and the card
//! the patch leaves.

use super::card::{Card, SLUG};
use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Kind, Shape};
use serde_json::Value;

/// `PUT /api/cards/:id` (partial).
pub const PATCH: Shape = Shape::patch(
    "CardPatch",
    &[
        req("slug", Kind::Pattern(&SLUG)),
        req("display_name", Kind::Text(120)),
        opt("title", Kind::Text(120)).blank_is_null(),
        opt("phone", Kind::Phone).blank_is_null(),
        opt("email", Kind::Email).blank_is_null(),
        opt("bio", Kind::Text(1000)).blank_is_null(),
    ],
    &[
        rule(
            &["slug"],
            "A new slug must be free across all tenants (409 when taken).",
        ),
        rule(
            &[],
            "Only the card's owner or an admin edits or deletes it (403).",
        ),
    ],
);

/// Only the card's owner or an admin edits or deletes it.
pub fn may_edit(owner_id: &str, user_id: &str, is_admin: bool) -> ApiResult<()> {
    if is_admin || owner_id == user_id {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the card's owner or an admin edits it",
        ))
    }
}

/// `current` with the patch `body` applied (`updated_at` is left to the caller).
pub fn apply_patch(current: &Card, body: &Value) -> ApiResult<Card> {
    let v = schema::validate(&PATCH, body)?;
    let mut c = current.clone();
    if let Some(x) = v.str("slug") {
        c.slug = x;
    }
    if let Some(x) = v.str("display_name") {
        c.display_name = x;
    }
    for (field, slot) in [
        ("title", &mut c.title),
        ("phone", &mut c.phone),
        ("email", &mut c.email),
        ("bio", &mut c.bio),
    ] {
        if let Some(x) = v.opt_str(field) {
            *slot = x;
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn card() -> Card {
        Card {
            id: "card_1".into(),
            slug: "jane-doe".into(),
            owner_id: "b1".into(),
            display_name: "Jane".into(),
            title: Some("Broker".into()),
            phone: None,
            email: None,
            bio: None,
            scans: 3,
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    #[test]
    fn patch_and_owner_rule() {
        let c = apply_patch(
            &card(),
            &json!({"display_name": "Jane D.", "title": "", "email": "j@x.io"}),
        )
        .unwrap();
        assert_eq!(c.display_name, "Jane D.");
        assert_eq!(c.title, None);
        assert_eq!(c.email.as_deref(), Some("j@x.io"));
        assert_eq!(c.slug, "jane-doe");
        assert_eq!(c.scans, 3);
        for bad in [
            json!({}),
            json!({"slug": "X"}),
            json!({"display_name": null}),
            json!({"scans": 9}),
        ] {
            assert_eq!(apply_patch(&card(), &bad).unwrap_err().status, 422, "{bad}");
        }
        assert!(may_edit("b1", "b1", false).is_ok());
        assert!(may_edit("b1", "a1", true).is_ok());
        assert_eq!(may_edit("b1", "b2", false).unwrap_err().status, 403);
    }
}
