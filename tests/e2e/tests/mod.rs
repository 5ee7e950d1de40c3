//! The end-to-end test list, by capability.

mod auth;
mod crud;
mod identity;
mod jobs;
mod realtime;

pub type Test = fn(&mut crate::Ctx);

pub fn all() -> Vec<(&'static str, Test)> {
    vec![
        ("health_is_public", crud::health_is_public),
        ("auth_rejects_bad_tokens", auth::rejects_bad_tokens),
        (
            "auth_accepts_eddsa_from_jwks",
            auth::accepts_eddsa_from_jwks,
        ),
        ("crud_round_trip", crud::round_trip),
        ("crud_roles", crud::roles),
        (
            "crud_bad_input_changes_nothing",
            crud::bad_input_changes_nothing,
        ),
        ("crud_pagination", crud::pagination),
        ("crud_cross_tenant_isolation", crud::cross_tenant_isolation),
        (
            "ws_rejects_without_valid_token",
            realtime::rejects_without_valid_token,
        ),
        (
            "ws_frames_ping_errors_and_channel_rules",
            realtime::frames_and_channel_rules,
        ),
        (
            "ws_live_events_have_consecutive_seq",
            realtime::live_events_consecutive_seq,
        ),
        (
            "ws_resume_since_replays_exactly_the_missed",
            realtime::resume_since,
        ),
        ("ws_tenant_isolation", realtime::tenant_isolation),
        (
            "outbox_redelivers_after_hub_failure",
            realtime::outbox_redelivers_after_hub_failure,
        ),
        ("job_welcome_email_completes", jobs::welcome_email_completes),
        ("identity_login_seeded_user", identity::login_seeded_user),
        (
            "identity_login_rejects_bad_credentials_and_input",
            identity::login_rejects_bad_credentials_and_input,
        ),
        (
            "identity_login_is_rate_limited",
            identity::login_is_rate_limited,
        ),
        (
            "identity_refresh_rotates_and_detects_reuse",
            identity::refresh_rotates_and_detects_reuse,
        ),
        (
            "identity_logout_ends_the_session",
            identity::logout_ends_the_session,
        ),
        (
            "identity_users_crud_roles_and_isolation",
            identity::users_crud_roles_and_isolation,
        ),
        ("identity_users_pagination", identity::users_pagination),
        (
            "identity_user_events_reach_admins_without_secrets",
            identity::user_events_reach_admins_without_secrets,
        ),
        ("cron_redrive_runs", jobs::cron_runs),
    ]
}
