//! The end-to-end test list, by capability.

mod auth;
mod browser;
mod crm;
mod crud;
mod finance;
mod hardening_auth;
mod hardening_conc;
mod hardening_jobs;
mod hardening_realtime;
mod hub;
mod identity;
mod jobs;
pub mod jobs_v2;
mod observability;
mod owners;
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
        ("crm_interactions", crm::interactions),
        ("crm_followups_and_due_cron", crm::followups_and_due_cron),
        ("calendar_appointments_and_reminders", crm::calendar),
        ("cards_public_flow", crm::cards_public_flow),
        ("reports_stats_and_analytics", crm::stats_and_analytics),
        ("http_cors", crud::cors),
        ("http_idempotent_retry", crud::idempotent_retry),
        ("http_rate_limit_per_caller", crud::rate_limit_per_caller),
        ("http_ip_blocklist", crud::ip_blocklist),
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
        (
            "hub_channels_filters_and_audiences",
            hub::channels_filters_and_audiences,
        ),
        (
            "hub_reauthorization_at_replay",
            hub::reauthorization_at_replay,
        ),
        (
            "hub_presence_join_leave_list",
            hub::presence_join_leave_list,
        ),
        (
            "hub_limits_close_the_offender_only",
            hub::limits_close_the_offender_only,
        ),
        ("hub_sse_stream_and_resume", hub::sse_stream_and_resume),
        (
            "hub_publish_and_stats_are_admin_only",
            hub::publish_and_stats_are_admin_only,
        ),
        ("hub_snapshot_channels", hub::snapshot_channels),
        (
            "browser_eventsource_and_cors",
            browser::eventsource_in_a_real_browser,
        ),
        (
            "hub_rooms_with_public_visitors",
            hub::rooms_with_public_visitors,
        ),
        (
            "hub_replay_after_gap_of_1000",
            hub::replay_after_gap_of_1000,
        ),
        ("hub_retention_and_restart", hub::retention_and_restart),
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
        (
            "jobs_sms_reaches_the_provider",
            jobs_v2::sms_reaches_the_provider,
        ),
        (
            "jobs_dead_and_admin_retry",
            jobs_v2::dead_jobs_and_admin_retry,
        ),
        (
            "jobs_poison_and_duplicates",
            jobs_v2::poison_and_duplicate_messages,
        ),
        ("jobs_list", jobs_v2::jobs_list),
        (
            "jobs_report_pipeline",
            jobs_v2::pipeline_report_matches_rows,
        ),
        (
            "jobs_reminder_email_via_cron",
            jobs_v2::reminder_email_via_cron,
        ),
        (
            "finance_sales_payments_and_events",
            finance::sales_payments_and_events,
        ),
        (
            "finance_roles_rates_approval_and_dashboard",
            finance::roles_rates_approval_and_dashboard,
        ),
        (
            "finance_sales_report_matches_rows",
            finance::sales_report_matches_rows,
        ),
        (
            "owners_crud_filters_roles_and_events",
            owners::crud_filters_roles_and_events,
        ),
        (
            "owners_matching_finds_each_match_once",
            owners::matching_finds_each_match_once,
        ),
        (
            "jobs_publishing_retries_then_succeeds",
            jobs_v2::publishing_retries_then_succeeds,
        ),
        (
            "jobs_scheduled_publishing_via_cron",
            jobs_v2::scheduled_publishing_via_cron,
        ),
        (
            "sec_user_channel_follows_rest",
            hardening_realtime::user_channel_follows_rest,
        ),
        (
            "sec_finance_channels_follow_rest",
            hardening_realtime::finance_channels_follow_rest,
        ),
        (
            "sec_money_and_reports_follow_rest",
            hardening_realtime::money_and_reports_follow_rest,
        ),
        (
            "sec_history_and_sse_channel_limit",
            hardening_realtime::history_and_sse_channel_limit,
        ),
        (
            "sec_sse_stalled_reader_is_dropped",
            hardening_realtime::sse_stalled_reader_is_dropped,
        ),
        (
            "conc_payments_report_their_own_balance",
            hardening_conc::payments_report_their_own_balance,
        ),
        (
            "conc_customer_partial_updates_never_drop_fields",
            hardening_conc::customer_partial_updates_never_drop_fields,
        ),
        (
            "conc_users_and_followups_are_versioned",
            hardening_conc::users_and_followups_are_versioned,
        ),
        (
            "conc_broker_cannot_set_commission_rate",
            hardening_conc::broker_cannot_set_commission_rate,
        ),
        (
            "sec_idempotency_replay_runs_the_role_check",
            hardening_auth::idempotency_replay_runs_the_role_check,
        ),
        (
            "sec_bearer_reader_and_blocklist_cover_everything",
            hardening_auth::bearer_reader_and_blocklist_cover_everything,
        ),
        (
            "sec_login_lockout_is_atomic",
            hardening_auth::login_lockout_is_atomic,
        ),
        (
            "sec_jwt_nbf_and_partial_jwks",
            hardening_auth::jwt_nbf_and_partial_jwks,
        ),
        (
            "sec_chunked_body_is_limited_while_streaming",
            hardening_auth::chunked_body_is_limited_while_streaming,
        ),
        (
            "sec_public_visitor_id_hides_the_ip",
            hardening_auth::public_visitor_id_hides_the_ip,
        ),
        (
            "sec_dead_pending_idempotency_key_is_freed",
            hardening_auth::dead_pending_idempotency_key_is_freed,
        ),
        (
            "rel_job_survives_a_crash_mid_run",
            hardening_jobs::job_survives_a_crash_mid_run,
        ),
        (
            "rel_duplicate_messages_end_dead_not_failed",
            hardening_jobs::duplicate_messages_end_dead_not_failed,
        ),
        (
            "rel_matching_retry_announces_nothing_old",
            hardening_jobs::matching_retry_announces_nothing_old,
        ),
        (
            "rel_card_scans_are_coalesced",
            hardening_jobs::card_scans_are_coalesced,
        ),
        (
            "rel_cron_prunes_old_rows",
            hardening_jobs::cron_prunes_old_rows,
        ),
        (
            "obs_request_id_on_every_answer",
            observability::request_id_on_every_answer,
        ),
        (
            "obs_one_json_log_line_per_request",
            observability::one_json_log_line_per_request,
        ),
        (
            "obs_tokens_are_never_logged",
            observability::tokens_are_never_logged,
        ),
    ]
}
