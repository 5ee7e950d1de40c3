//! Finance rules (pure): sales, payments and commissions, money as integer minor units
//! with a currency, commission rates and their resolution, and the no-overpay rule.

use super::error::{ApiError, ApiResult};
use super::schema::{self, opt, req, rule, Kind, Shape};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest amount accepted (10^13 minor units: 100 billion in a 2-decimal currency).
pub const MAX_MINOR: i64 = schema::MAX_MINOR;
/// Built-in commission rate when neither the broker nor the tenant has one: 3 %.
pub const DEFAULT_RATE_BPS: i64 = 300;
pub const METHODS: &[&str] = &["cash", "card", "transfer", "check", "other"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sale {
    pub id: String,
    pub customer_id: String,
    pub property_id: Option<String>,
    pub broker_id: String,
    pub total_minor: i64,
    pub paid_minor: i64,
    pub balance_minor: i64,
    pub currency: String,
    pub commission_rate_bps: i64,
    pub status: super::status::SaleStatus,
    pub sold_at: String,
    pub notes: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    pub sale_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub reference: Option<String>,
    pub received_at: String,
    pub created_by: String,
    pub created_at: String,
    /// What has been refunded of it (`POST /api/finance/payments/:id/refund`).
    #[serde(default)]
    pub refunded_minor: i64,
}

/// A (partial) refund of a payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub sale_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commission {
    pub id: String,
    pub sale_id: String,
    pub broker_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub rate_bps: i64,
    pub status: super::status::CommissionStatus,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    #[serde(default)]
    pub paid_by: Option<String>,
    #[serde(default)]
    pub paid_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// `amount × rate / 10 000`, rounded half up, in i128 so no product overflows.
pub fn commission_minor(amount_minor: i64, rate_bps: i64) -> i64 {
    let p = i128::from(amount_minor) * i128::from(rate_bps);
    ((p + 5_000) / 10_000) as i64
}

/// The rate that applies: the sale's own, else the broker's, else the tenant's, else 3 %.
pub fn resolve_rate(explicit: Option<i64>, broker: Option<i64>, tenant: Option<i64>) -> i64 {
    explicit.or(broker).or(tenant).unwrap_or(DEFAULT_RATE_BPS)
}

/// Who may give a sale its own rate (`commission_rate_bps`): an admin, any rate; a broker
/// only up to the tenant's broker maximum (`broker_max`), and not at all when the tenant
/// has none. Anyone may leave it out (the configured rates then apply).
pub fn check_rate_override(
    explicit: Option<i64>,
    by_admin: bool,
    broker_max: Option<i64>,
) -> ApiResult<()> {
    match (explicit, by_admin, broker_max) {
        (None, ..) | (Some(_), true, _) => Ok(()),
        (Some(_), false, None) => Err(ApiError::forbidden(
            "only admins may set commission_rate_bps in this tenant (no broker maximum is \
             configured); leave it out to use the configured rate",
        )),
        (Some(r), false, Some(max)) if r > max => Err(ApiError::forbidden(format!(
            "commission_rate_bps {r} is above this tenant's broker maximum of {max}"
        ))),
        (Some(_), false, Some(_)) => Ok(()),
    }
}

/// Commission rates: basis points.
const RATE: Kind = Kind::Int(0, 10_000);

/// `PUT /api/finance/settings`.
pub const SETTINGS_INPUT: Shape = Shape::create(
    "FinanceSettingsInput",
    &[req("broker_rate_override_max_bps", RATE).or_null()],
    &[],
);

/// `PUT /api/finance/settings` `{"broker_rate_override_max_bps": 0-10000 | null}` (null:
/// brokers may not set a sale's rate).
pub fn validate_settings(body: &Value) -> ApiResult<Option<i64>> {
    Ok(schema::validate(&SETTINGS_INPUT, body)?.int("broker_rate_override_max_bps"))
}

/// A payment is accepted only in the sale's currency and up to its balance.
pub fn check_payment(
    total: i64,
    paid: i64,
    amount: i64,
    sale_currency: &str,
    currency: &str,
) -> ApiResult<i64> {
    if sale_currency != currency {
        return Err(ApiError::field(
            "currency",
            format!("must be the sale's currency ({sale_currency})"),
        ));
    }
    let balance = total - paid;
    if amount > balance {
        return Err(ApiError::new(
            409,
            "conflict",
            format!("the payment exceeds the sale's balance of {balance} minor units"),
        ));
    }
    Ok(balance - amount)
}

pub fn sale_status(total: i64, paid: i64) -> super::status::SaleStatus {
    if paid >= total {
        super::status::SaleStatus::Paid
    } else {
        super::status::SaleStatus::Open
    }
}

/// `POST /api/finance/sales`.
pub const SALE_INPUT: Shape = Shape::create(
    "SaleInput",
    &[
        req("customer_id", Kind::Ref("customers")),
        opt("property_id", Kind::Ref("properties")),
        opt("broker_id", Kind::Ref("users")),
        req("total_minor", Kind::Money),
        req("currency", Kind::Currency),
        opt("commission_rate_bps", RATE),
        opt("sold_at", Kind::DateTime),
        opt("notes", Kind::Text(2000)).blank_is_null(),
    ],
    &[
        rule(
            &["customer_id", "property_id", "broker_id"],
            "customer_id and property_id must name rows of the tenant; broker_id (default: the \
         caller) a broker or admin of the tenant, and only admins name another one (403).",
        ),
        rule(
            &["commission_rate_bps"],
            "commission_rate_bps: admins may set any rate; brokers only up to the tenant's \
         broker_rate_override_max_bps, and not at all while it is null (403).",
        ),
    ],
);

/// `POST /api/finance/payments`.
pub const PAYMENT_INPUT: Shape = Shape::create(
    "PaymentInput",
    &[
        req("sale_id", Kind::Ref("sales")),
        req("amount_minor", Kind::Money),
        req("currency", Kind::Currency),
        req("method", Kind::Enum(METHODS)),
        opt("reference", Kind::Text(200)).blank_is_null(),
        opt("received_at", Kind::DateTime),
    ],
    &[
        rule(
            &["sale_id"],
            "sale_id must name a sale of the tenant that the caller may read.",
        ),
        rule(&["currency"], "currency must be the sale's currency."),
        rule(
            &["amount_minor"],
            "amount_minor must not exceed the sale's balance (409).",
        ),
    ],
);

/// `PUT /api/finance/commission-rates`.
pub const RATE_INPUT: Shape = Shape::create(
    "CommissionRateInput",
    &[opt("broker_id", Kind::Ref("users")), req("rate_bps", RATE)],
    &[rule(
        &[],
        "Without broker_id the rate is the tenant's default.",
    )],
);

#[derive(Debug, PartialEq)]
pub struct NewSale {
    pub customer_id: String,
    pub property_id: Option<String>,
    pub broker_id: Option<String>,
    pub total_minor: i64,
    pub currency: String,
    pub commission_rate_bps: Option<i64>,
    pub sold_at: Option<String>,
    pub notes: Option<String>,
}

pub fn validate_sale(body: &Value) -> ApiResult<NewSale> {
    let v = schema::validate(&SALE_INPUT, body)?;
    match (
        v.str("customer_id"),
        v.int("total_minor"),
        v.str("currency"),
    ) {
        (Some(customer_id), Some(total_minor), Some(currency)) => Ok(NewSale {
            customer_id,
            property_id: v.str("property_id"),
            broker_id: v.str("broker_id"),
            total_minor,
            currency,
            commission_rate_bps: v.int("commission_rate_bps"),
            sold_at: v.str("sold_at"),
            notes: v.str("notes"),
        }),
        _ => Err(ApiError::internal()),
    }
}

/// `POST /api/finance/payments/:id/refund`.
pub const REFUND_INPUT: Shape = Shape::create(
    "RefundInput",
    &[
        req("amount_minor", Kind::Money),
        req("reason", Kind::Text(500)),
    ],
    &[rule(
        &["amount_minor"],
        "amount_minor must not exceed what is left of the payment after earlier refunds (409 otherwise).",
    )],
);

/// A refund body: (amount, reason).
pub fn validate_refund(body: &Value) -> ApiResult<(i64, String)> {
    let v = schema::validate(&REFUND_INPUT, body)?;
    match (v.int("amount_minor"), v.str("reason")) {
        (Some(a), Some(r)) => Ok((a, r)),
        _ => Err(ApiError::internal()),
    }
}

#[derive(Debug, PartialEq)]
pub struct NewPayment {
    pub sale_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub reference: Option<String>,
    pub received_at: Option<String>,
}

pub fn validate_payment(body: &Value) -> ApiResult<NewPayment> {
    let v = schema::validate(&PAYMENT_INPUT, body)?;
    match (
        v.str("sale_id"),
        v.int("amount_minor"),
        v.str("currency"),
        v.str("method"),
    ) {
        (Some(sale_id), Some(amount_minor), Some(currency), Some(method)) => Ok(NewPayment {
            sale_id,
            amount_minor,
            currency,
            method,
            reference: v.str("reference"),
            received_at: v.str("received_at"),
        }),
        _ => Err(ApiError::internal()),
    }
}

/// `PUT /api/finance/commission-rates` `{broker_id?, rate_bps}` (absent broker = tenant default).
pub fn validate_rate(body: &Value) -> ApiResult<(Option<String>, i64)> {
    let v = schema::validate(&RATE_INPUT, body)?;
    Ok((
        v.str("broker_id"),
        v.int("rate_bps").ok_or_else(ApiError::internal)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::SaleStatus;
    use serde_json::json;

    #[test]
    fn commission_rounds_half_up_without_overflow() {
        assert_eq!(commission_minor(100_000, 300), 3_000);
        assert_eq!(commission_minor(1_001, 250), 25); // 25.025 → 25
        assert_eq!(commission_minor(1_018, 250), 25); // 25.45 → 25
        assert_eq!(commission_minor(1_020, 250), 26); // 25.5 → 26
        assert_eq!(commission_minor(MAX_MINOR, 10_000), MAX_MINOR);
        assert_eq!(commission_minor(12_345, 0), 0);
    }

    #[test]
    fn rate_resolution_order() {
        assert_eq!(resolve_rate(Some(100), Some(200), Some(400)), 100);
        assert_eq!(resolve_rate(None, Some(200), Some(400)), 200);
        assert_eq!(resolve_rate(None, None, Some(400)), 400);
        assert_eq!(resolve_rate(None, None, None), DEFAULT_RATE_BPS);
        assert_eq!(resolve_rate(Some(0), Some(200), None), 0);
    }

    #[test]
    fn only_admins_or_capped_brokers_set_a_sales_rate() {
        assert!(check_rate_override(None, false, None).is_ok());
        assert!(check_rate_override(Some(9_000), true, None).is_ok());
        assert!(check_rate_override(Some(9_000), true, Some(100)).is_ok());
        let e = check_rate_override(Some(100), false, None).unwrap_err();
        assert_eq!((e.status, e.code), (403, "forbidden"));
        assert!(e.message.contains("only admins"));
        let e = check_rate_override(Some(501), false, Some(500)).unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.contains("500"));
        assert!(check_rate_override(Some(500), false, Some(500)).is_ok());
        assert!(check_rate_override(Some(0), false, Some(0)).is_ok());
        assert_eq!(
            validate_settings(&json!({"broker_rate_override_max_bps": 450})).unwrap(),
            Some(450)
        );
        assert_eq!(
            validate_settings(&json!({"broker_rate_override_max_bps": null})).unwrap(),
            None
        );
        for bad in [
            json!({}),
            json!({"broker_rate_override_max_bps": 10_001}),
            json!({"broker_rate_override_max_bps": "5"}),
            json!({"broker_rate_override_max_bps": 5, "x": 1}),
            json!([]),
        ] {
            assert_eq!(validate_settings(&bad).unwrap_err().status, 422, "{bad}");
        }
    }

    #[test]
    fn payments_cannot_overpay() {
        assert_eq!(check_payment(1000, 0, 400, "EUR", "EUR").unwrap(), 600);
        assert_eq!(check_payment(1000, 600, 400, "EUR", "EUR").unwrap(), 0);
        assert_eq!(
            check_payment(1000, 600, 401, "EUR", "EUR")
                .unwrap_err()
                .status,
            409
        );
        assert_eq!(
            check_payment(1000, 0, 10, "EUR", "USD").unwrap_err().status,
            422
        );
        assert_eq!(sale_status(1000, 1000), SaleStatus::Paid);
        assert_eq!(sale_status(1000, 999), SaleStatus::Open);
    }

    #[test]
    fn validation() {
        let s =
            validate_sale(&json!({"customer_id": "c_1", "total_minor": 500, "currency": "EUR"}))
                .unwrap();
        assert_eq!(s.commission_rate_bps, None);
        let e = validate_sale(
            &json!({"total_minor": 1.5, "currency": "eur", "commission_rate_bps": 20000, "x": 1}),
        )
        .unwrap_err();
        let f = &e.details.unwrap()["fields"];
        for k in [
            "customer_id",
            "total_minor",
            "currency",
            "commission_rate_bps",
            "x",
        ] {
            assert!(f[k].is_string(), "{k}");
        }
        assert!(
            validate_sale(&json!({"customer_id": "c", "total_minor": 0, "currency": "EUR"}))
                .is_err()
        );
        let p = validate_payment(&json!({"sale_id": "s_1", "amount_minor": 5, "currency": "EUR", "method": "card", "received_at": "2026-11-24T10:00:00+01:00"})).unwrap();
        assert_eq!(p.received_at.as_deref(), Some("2026-11-24T09:00:00.000Z"));
        assert!(validate_payment(
            &json!({"sale_id": "s_1", "amount_minor": 5, "currency": "EUR", "method": "bitcoin"})
        )
        .is_err());
        assert_eq!(
            validate_rate(&json!({"rate_bps": 250})).unwrap(),
            (None, 250)
        );
        assert!(validate_rate(&json!({"broker_id": "b1"})).is_err());
    }
}
