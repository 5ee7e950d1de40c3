//! Rooms: realtime hubs of their own (`<tenant>:room:<name>`, own seq and history, same
//! protocol) for audiences that outgrow the tenant hub or include anonymous visitors.
//! Public rooms admit token-less visitors, who can read the `public` channel only.

use super::{hub_client, outbox};
use crate::domain::auth::{Principal, Role};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::inputs;
use crate::store::{self, i, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Env, Request, Response};

#[derive(Debug, Serialize, Deserialize)]
struct Room {
    name: String,
    public: bool,
    created_by: String,
    created_at: String,
}

#[derive(Deserialize)]
struct RoomRow {
    name: String,
    /// 0 or 1.
    public: i64,
    created_by: String,
    created_at: String,
}

impl From<RoomRow> for Room {
    fn from(r: RoomRow) -> Room {
        Room {
            name: r.name,
            public: r.public != 0,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

fn valid_name(n: &str) -> bool {
    inputs::valid_room_name(n)
}

async fn load(env: &Env, tenant: &str, name: &str) -> ApiResult<Option<Room>> {
    if !valid_name(name) {
        return Ok(None);
    }
    let db = store::db(env)?;
    let row: Option<RoomRow> = store::first(store::query(
        &db,
        "SELECT name, public, created_by, created_at FROM rooms
         WHERE tenant_id = :tenant AND name = :name",
        &[("tenant", t(tenant)), ("name", t(name))],
    )?)
    .await?;
    Ok(row.map(Room::from))
}

/// `POST /api/realtime/rooms` (admin): `{"name", "public"}`.
pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let (name, public) = inputs::validate_room(&input)?;
    let room = Room {
        name,
        public,
        created_by: who.user_id.clone(),
        created_at: cx.now_iso(),
    };
    let db = cx.db()?;
    let r = store::run(store::insert_then(
        &db,
        "rooms",
        &[
            ("tenant_id", t(&who.tenant_id)),
            ("name", t(&room.name)),
            ("public", i(i64::from(room.public))),
            ("created_by", t(&room.created_by)),
            ("created_at", t(&room.created_at)),
        ],
        "ON CONFLICT (tenant_id, name) DO NOTHING",
        &[],
    )?)
    .await?;
    if store::changes(&r) == 0 {
        return Err(ApiError::new(
            409,
            "conflict",
            "a room with this name exists",
        ));
    }
    json(201, &room)
}

/// `GET /api/realtime/rooms`: the tenant's rooms, by name.
pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    let rows: Vec<RoomRow> = store::all(store::query(
        &db,
        "SELECT name, public, created_by, created_at FROM rooms
         WHERE tenant_id = :tenant ORDER BY name LIMIT 100",
        &[("tenant", t(&who.tenant_id))],
    )?)
    .await?;
    let data: Vec<Room> = rows.into_iter().map(Room::from).collect();
    json(200, &json!({"data": data, "next_cursor": null}))
}

/// WebSocket routes answer a JSON 426 to plain requests.
pub fn require_upgrade(req: &Request) -> ApiResult<()> {
    let upgrade = req
        .headers()
        .get("upgrade")
        .ok()
        .flatten()
        .unwrap_or_default();
    if upgrade.eq_ignore_ascii_case("websocket") {
        Ok(())
    } else {
        Err(ApiError::new(
            426,
            "upgrade_required",
            "expected a WebSocket upgrade",
        ))
    }
}

/// `GET /api/realtime/rooms/:name/ws`: members of the tenant join with their token.
pub async fn websocket(cx: Ctx) -> ApiResult<Response> {
    let name = cx.param(0);
    require_upgrade(&cx.req)?;
    let who = cx.who()?;
    load(&cx.env, &who.tenant_id, name)
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    Ok(hub_client::get(
        &cx.env,
        &who,
        name,
        "/ws",
        &[("upgrade", "websocket".into())],
    )
    .await?)
}

/// A public visitor's id: a keyed tag of their address (stable, so the per-user socket limit
/// applies to visitors too), which other visitors cannot turn back into the address.
fn visitor_id(req: &Request, env: &Env) -> String {
    format!(
        "anon-{}",
        crate::web::guard::ip_tag(req, env, "room-visitor")
    )
}

/// `GET /api/public/rooms/:tenant/:name/ws`: token-less join, public rooms only.
pub async fn public_websocket(cx: Ctx) -> ApiResult<Response> {
    let tenant = cx.param(0);
    let name = cx.param(1);
    require_upgrade(&cx.req)?;
    if !crate::domain::auth::valid_tenant_id(tenant) {
        return Err(ApiError::not_found("room"));
    }
    match load(&cx.env, tenant, name).await? {
        Some(room) if room.public => {}
        _ => return Err(ApiError::not_found("room")), // private rooms do not exist publicly
    }
    let visitor = Principal {
        user_id: visitor_id(&cx.req, &cx.env),
        tenant_id: tenant.to_string(),
        role: Role::Viewer,
        exp: 0,
    };
    Ok(hub_client::get(
        &cx.env,
        &visitor,
        name,
        "/ws",
        &[
            ("upgrade", "websocket".into()),
            (super::hub::H_ANON, "1".into()),
        ],
    )
    .await?)
}

/// `POST /api/realtime/rooms/:name/publish` (broker, admin): `{"type", "channels"?, "data"}`;
/// channels default to `["public"]`. Through the outbox, into the room's own history.
pub async fn publish(mut cx: Ctx) -> ApiResult<Response> {
    let name = cx.param(0).to_string();
    let who = cx.who()?;
    load(&cx.env, &who.tenant_id, &name)
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    let input = cx.json().await?;
    let inputs::Publication {
        kind,
        channels,
        data,
    } = inputs::validate_room_publish(&input)?;
    let draft = outbox::draft(&kind, channels, data);
    let db = cx.db()?;
    store::run(outbox::insert_to(&db, &who.tenant_id, &name, &draft)?).await?;
    outbox::deliver_after_write(&cx.env, &who.tenant_id).await;
    json(
        202,
        &json!({"id": draft.id, "type": draft.kind, "channels": draft.channels}),
    )
}

#[cfg(test)]
mod tests {
    use crate::domain::inputs::{valid_channel, valid_event_type, valid_room_channel};
    use crate::realtime::protocol::{check_types, parse_channel, Channel};

    /// The declared body grammars (domain) are the protocol's.
    #[test]
    fn body_grammars_are_the_protocols() {
        let parts = [
            "",
            "tenant",
            "public",
            "dashboard",
            "analytics",
            "notifications",
            "user:",
            "role:",
            "entity:",
            "admin",
            "owner",
            "a",
            "x.y@z",
            "-",
            ":",
            "*",
            " ",
            "é",
            "card:scanned",
            "A_1",
        ];
        let mut n = 0;
        for a in parts {
            for b in parts {
                for c in ["", ":", "a", "*"] {
                    let s = format!("{a}{b}{c}");
                    let p = parse_channel(&s);
                    assert_eq!(valid_channel(&s), p.is_some(), "{s:?}");
                    let room = matches!(p, Some(ref c) if !matches!(c, Channel::Snapshot(_)));
                    assert_eq!(valid_room_channel(&s), room, "{s:?}");
                    let ty = !s.is_empty()
                        && !s.ends_with('*')
                        && check_types(std::slice::from_ref(&s)).is_ok();
                    assert_eq!(valid_event_type(&s), ty, "{s:?}");
                    n += 1;
                }
            }
        }
        let long = format!("user:{}", "a".repeat(91));
        assert!(valid_channel(&long) && parse_channel(&long).is_some());
        let long = format!("{long}a");
        assert!(!valid_channel(&long) && parse_channel(&long).is_none());
        let t = "a".repeat(64);
        assert!(valid_event_type(&t) && check_types(std::slice::from_ref(&t)).is_ok());
        let t = format!("{t}a");
        assert!(!valid_event_type(&t) && check_types(&[t]).is_err());
        assert!(n > 1000);
    }
}
