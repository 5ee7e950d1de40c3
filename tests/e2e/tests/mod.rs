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
mod routes;
mod validation;

/// A test gets the shared server context.
pub type Test = fn(&mut crate::Ctx);

/// `tests![module::function, ...]`: each test is named by its path (`crud::round_trip`),
/// so a name cannot drift from its function.
macro_rules! tests {
    ($($module:ident :: $function:ident),* $(,)?) => {
        vec![$((concat!(stringify!($module), "::", stringify!($function)), $module::$function as Test)),*]
    };
}

/// Every test, in the order they run. One line per test; add new ones at the end.
pub fn all() -> Vec<(&'static str, Test)> {
    tests![
        crud::health_is_public,
        auth::rejects_bad_tokens,
        auth::accepts_eddsa_from_jwks,
        crud::round_trip,
        crud::roles,
        crud::bad_input_changes_nothing,
        crud::pagination,
        crud::cross_tenant_isolation,
        crm::interactions,
        crm::followups_and_due_cron,
        crm::calendar,
        crm::cards_public_flow,
        crm::stats_and_analytics,
        crud::cors,
        crud::idempotent_retry,
        crud::rate_limit_per_caller,
        crud::ip_blocklist,
        realtime::rejects_without_valid_token,
        realtime::frames_and_channel_rules,
        realtime::live_events_consecutive_seq,
        realtime::resume_since,
        realtime::tenant_isolation,
        realtime::outbox_redelivers_after_hub_failure,
        hub::channels_filters_and_audiences,
        hub::reauthorization_at_replay,
        hub::presence_join_leave_list,
        hub::limits_close_the_offender_only,
        hub::sse_stream_and_resume,
        hub::publish_and_stats_are_admin_only,
        hub::snapshot_channels,
        browser::eventsource_in_a_real_browser,
        hub::rooms_with_public_visitors,
        hub::replay_after_gap_of_1000,
        hub::retention_and_restart,
        jobs::welcome_email_completes,
        identity::login_seeded_user,
        identity::login_rejects_bad_credentials_and_input,
        identity::login_is_rate_limited,
        identity::refresh_rotates_and_detects_reuse,
        identity::logout_ends_the_session,
        identity::users_crud_roles_and_isolation,
        identity::users_pagination,
        identity::user_events_reach_admins_without_secrets,
        jobs::cron_runs,
        jobs_v2::sms_reaches_the_provider,
        jobs_v2::dead_jobs_and_admin_retry,
        jobs_v2::poison_and_duplicate_messages,
        jobs_v2::jobs_list,
        jobs_v2::pipeline_report_matches_rows,
        jobs_v2::reminder_email_via_cron,
        finance::sales_payments_and_events,
        finance::roles_rates_approval_and_dashboard,
        finance::sales_report_matches_rows,
        owners::crud_filters_roles_and_events,
        owners::matching_finds_each_match_once,
        jobs_v2::publishing_retries_then_succeeds,
        jobs_v2::scheduled_publishing_via_cron,
        hardening_realtime::user_channel_follows_rest,
        hardening_realtime::finance_channels_follow_rest,
        hardening_realtime::money_and_reports_follow_rest,
        hardening_realtime::history_and_sse_channel_limit,
        hardening_realtime::sse_stalled_reader_is_dropped,
        hardening_conc::payments_report_their_own_balance,
        hardening_conc::customer_partial_updates_never_drop_fields,
        hardening_conc::users_and_followups_are_versioned,
        hardening_conc::broker_cannot_set_commission_rate,
        hardening_auth::idempotency_replay_runs_the_role_check,
        hardening_auth::bearer_reader_and_blocklist_cover_everything,
        hardening_auth::login_lockout_is_atomic,
        hardening_auth::jwt_nbf_and_partial_jwks,
        hardening_auth::chunked_body_is_limited_while_streaming,
        hardening_auth::public_visitor_id_hides_the_ip,
        hardening_auth::dead_pending_idempotency_key_is_freed,
        hardening_jobs::job_survives_a_crash_mid_run,
        hardening_jobs::duplicate_messages_end_dead_not_failed,
        hardening_jobs::matching_retry_announces_nothing_old,
        hardening_jobs::card_scans_are_coalesced,
        hardening_jobs::cron_prunes_old_rows,
        observability::request_id_on_every_answer,
        observability::one_json_log_line_per_request,
        observability::tokens_are_never_logged,
        routes::access_rules_match_the_document,
        routes::document_states_the_router_rules,
        validation::scan_body_is_an_object,
        validation::numbers_lengths_and_times_follow_the_schema,
    ]
}
