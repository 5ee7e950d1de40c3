//! Property owners, properties and seekers (pure): their schemas and rules.

use super::error::FieldErrors;
use super::params::{self, Param};
use super::schema::{dflt, no_check, opt, req, rule, Field, Filter, Kind, Rule, Shape, Spec};
use serde_json::{Map, Value};

pub const PROPERTY_KINDS: &[&str] = &[
    "apartment",
    "house",
    "villa",
    "land",
    "office",
    "commercial",
];
pub const LISTING_TYPES: &[&str] = &["sale", "rent"];
pub const PROPERTY_STATUSES: &[&str] = &["available", "under_offer", "sold", "rented"];

const fn eq(param: &'static str) -> Filter {
    Filter {
        param,
        column: param,
        op: "=",
        int: false,
    }
}

const OWNER_FIELDS: &[Field] = &[
    req("name", Kind::Text(200)),
    opt("email", Kind::Email),
    opt("phone", Kind::Phone),
    opt("notes", Kind::Text(2000)),
];
pub const OWNER_INPUT: Shape = Shape::create("OwnerInput", OWNER_FIELDS, &[]);
pub const OWNER_PATCH: Shape = Shape::patch("OwnerPatch", OWNER_FIELDS, &[]);

pub const OWNER: Spec = Spec {
    name: "owner",
    table: "owners",
    id_prefix: "own",
    events: "owners:owner",
    fields: OWNER_FIELDS,
    input: &OWNER_INPUT,
    patch: &OWNER_PATCH,
    filters: &[],
    check: no_check,
};

const PROPERTY_FIELDS: &[Field] = &[
    opt("owner_id", Kind::Ref("owners")),
    req("title", Kind::Text(200)),
    req("kind", Kind::Enum(PROPERTY_KINDS)),
    dflt("listing", Kind::Enum(LISTING_TYPES), "\"sale\""),
    req("price_minor", Kind::Money),
    req("currency", Kind::Currency),
    dflt("bedrooms", Kind::Int(0, 50), "0"),
    opt("bathrooms", Kind::Int(0, 50)),
    opt("area_sqm", Kind::Int(1, 1_000_000)),
    req("city", Kind::Text(100)),
    opt("district", Kind::Text(100)),
    opt("address", Kind::Text(300)),
    opt("description", Kind::Text(5000)),
    dflt("status", Kind::Enum(PROPERTY_STATUSES), "\"available\""),
];
const PROPERTY_RULES: &[Rule] = &[rule(
    &["owner_id"],
    "owner_id must name an owner of the tenant.",
)];
pub const PROPERTY_INPUT: Shape = Shape::create("PropertyInput", PROPERTY_FIELDS, PROPERTY_RULES);
pub const PROPERTY_PATCH: Shape = Shape::patch("PropertyPatch", PROPERTY_FIELDS, PROPERTY_RULES);

pub const PROPERTY: Spec = Spec {
    name: "property",
    table: "properties",
    id_prefix: "prp",
    events: "owners:property",
    fields: PROPERTY_FIELDS,
    input: &PROPERTY_INPUT,
    patch: &PROPERTY_PATCH,
    filters: &[
        eq("kind"),
        eq("listing"),
        eq("city"),
        eq("status"),
        eq("owner_id"),
        Filter {
            param: "min_price",
            column: "price_minor",
            op: ">=",
            int: true,
        },
        Filter {
            param: "max_price",
            column: "price_minor",
            op: "<=",
            int: true,
        },
        Filter {
            param: "bedrooms_min",
            column: "bedrooms",
            op: ">=",
            int: true,
        },
    ],
    check: no_check,
};

fn seeker_rules(m: &Map<String, Value>, errs: &mut FieldErrors) {
    let min = m.get("budget_min_minor").and_then(Value::as_i64);
    let max = m.get("budget_max_minor").and_then(Value::as_i64);
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            errs.add("budget_min_minor", "must not exceed budget_max_minor");
        }
    }
}

const SEEKER_FIELDS: &[Field] = &[
    req("name", Kind::Text(200)),
    opt("email", Kind::Email),
    opt("phone", Kind::Phone),
    opt("customer_id", Kind::Ref("customers")),
    opt("budget_min_minor", Kind::Money),
    req("budget_max_minor", Kind::Money),
    req("currency", Kind::Currency),
    dflt("cities", Kind::List(&Kind::Text(100), 0, 20), "[]"),
    dflt("kinds", Kind::List(&Kind::Enum(PROPERTY_KINDS), 0, 6), "[]"),
    dflt("listing", Kind::Enum(LISTING_TYPES), "\"sale\""),
    opt("bedrooms_min", Kind::Int(0, 50)),
    opt("notes", Kind::Text(2000)),
    dflt("active", Kind::Bool, "true"),
];
const SEEKER_RULES: &[Rule] = &[
    rule(
        &["budget_min_minor"],
        "budget_min_minor must not exceed budget_max_minor (after a patch, too).",
    ),
    rule(
        &["customer_id"],
        "customer_id must name a customer of the tenant.",
    ),
];
pub const SEEKER_INPUT: Shape = Shape::create("SeekerInput", SEEKER_FIELDS, SEEKER_RULES);
pub const SEEKER_PATCH: Shape = Shape::patch("SeekerPatch", SEEKER_FIELDS, SEEKER_RULES);

pub const SEEKER: Spec = Spec {
    name: "seeker",
    table: "seekers",
    id_prefix: "skr",
    events: "owners:seeker",
    fields: SEEKER_FIELDS,
    input: &SEEKER_INPUT,
    patch: &SEEKER_PATCH,
    filters: &[
        eq("customer_id"),
        eq("listing"),
        Filter {
            param: "active",
            column: "active",
            op: "=",
            int: true,
        },
    ],
    check: seeker_rules,
};

/// The list filters of properties as query parameters (what the router checks and the
/// document states): enums from the fields' kinds, integers within the fields' ranges.
pub const PROPERTY_PARAMS: &[Param] = &[
    params::one_of("kind", PROPERTY_KINDS),
    params::one_of("listing", LISTING_TYPES),
    params::text("city"),
    params::one_of("status", PROPERTY_STATUSES),
    params::text("owner_id"),
    params::int("min_price", 0, super::schema::MAX_MINOR),
    params::int("max_price", 0, super::schema::MAX_MINOR),
    params::int("bedrooms_min", 0, 50),
];

/// The list filters of seekers: `active` is `true` or `false`.
pub const SEEKER_PARAMS: &[Param] = &[
    params::text("customer_id"),
    params::one_of("listing", LISTING_TYPES),
    params::flag("active"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every filter is a declared parameter and the other way round; integer filters are
    /// declared as integers or flags (`true`/`false` read as 1/0).
    #[test]
    fn filters_are_their_parameters() {
        use crate::domain::params::ParamKind;
        for (spec, ps) in [
            (&OWNER, &[][..]),
            (&PROPERTY, PROPERTY_PARAMS),
            (&SEEKER, SEEKER_PARAMS),
        ] {
            assert_eq!(spec.filters.len(), ps.len(), "{}", spec.name);
            for f in spec.filters {
                let p = ps.iter().find(|p| p.name == f.param).expect(f.param);
                let int = matches!(p.kind, ParamKind::Int(..) | ParamKind::Flag);
                assert_eq!(int, f.int, "{}", f.param);
            }
        }
    }
    use crate::domain::schema::validate_create;
    use serde_json::json;

    #[test]
    fn property_and_seeker_rules() {
        let p = validate_create(&PROPERTY, &json!({"title": "Flat", "kind": "apartment", "price_minor": 100, "currency": "EUR", "city": "Madrid"})).unwrap();
        assert_eq!(p["status"], "available");
        assert_eq!(p["listing"], "sale");
        assert_eq!(p["bedrooms"], 0);
        assert!(validate_create(&PROPERTY, &json!({"title": "Flat", "kind": "castle", "price_minor": 100, "currency": "EUR", "city": "M"})).is_err());
        let s = validate_create(
            &SEEKER,
            &json!({"name": "S", "budget_max_minor": 10, "currency": "EUR", "kinds": ["house"]}),
        )
        .unwrap();
        assert_eq!(s["active"], true);
        assert_eq!(s["cities"], json!([]));
        assert!(validate_create(
            &SEEKER,
            &json!({"name": "S", "budget_min_minor": 20, "budget_max_minor": 10, "currency": "EUR"})
        )
        .is_err());
        assert!(validate_create(
            &SEEKER,
            &json!({"name": "S", "budget_max_minor": 10, "currency": "EUR", "kinds": ["castle"]})
        )
        .is_err());
    }
}
