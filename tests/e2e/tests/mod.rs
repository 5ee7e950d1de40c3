//! The end-to-end test list, by capability.

mod audit;
mod auth;
mod browser;
mod catalog;
mod contract;
mod crm;
mod crud;
mod edits;
mod finance;
mod hardening_auth;
mod hardening_conc;
mod hardening_jobs;
mod hardening_realtime;
mod hub;
mod identity;
mod jobs;
pub mod jobs_v2;
mod leads;
mod notifications;
mod observability;
mod onboarding;
mod owners;
mod photos;
mod realtime;
mod routes;
mod token_refresh;
mod validation;

/// A test gets the shared server context.
pub type Test = fn(&mut crate::Ctx);

/// How a test shares the one server with the others (its tag in `tests![]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Untagged: runs beside other tests. It touches only its own tenant(s) and what it
    /// scripts on the fakes for them, and changes nothing server-wide.
    Shared,
    /// `#[cron]`: fires the cron (which works on every tenant) or asserts what happens
    /// before its own cron fires; one such test at a time, beside untagged ones.
    Cron,
    /// `#[alone]`: restarts or crashes the server, changes its vars, writes its database
    /// from outside (`Server::d1`) or needs the machine's full speed (a reader that must keep
    /// up); runs with no other test (and starts, like every test, on the default vars).
    Alone,
}

/// One registered test.
pub struct Entry {
    pub name: &'static str,
    pub test: Test,
    pub sharing: Sharing,
    /// `#[waits]`: spends most of its time waiting (queue retries and their backoff), not
    /// making requests: started first, beside the others, without taking one of the
    /// `--test-threads` places (unless that is 1).
    pub waits: bool,
}

impl Entry {
    /// The order the scheduler admits tests in: `#[alone]` ones first (the server is idle
    /// then), then the `#[cron]` chain, then those that wait, then the rest; the list's own
    /// order within each group.
    pub fn plan_rank(&self) -> u8 {
        match (self.sharing, self.waits) {
            (Sharing::Alone, _) => 0,
            (Sharing::Cron, _) => 1,
            (Sharing::Shared, true) => 2,
            (Sharing::Shared, false) => 3,
        }
    }
}

/// `tests![module::function, #[cron] module::function, ...]`: each test is named by its
/// path (`crud::round_trip`), so a name cannot drift from its function; tags (`#[alone]`,
/// `#[cron]`, `#[waits]`) say how it shares the server (see `Sharing` and `Entry`).
macro_rules! tests {
    ($($(#[$tag:ident])* $module:ident :: $function:ident),* $(,)?) => {
        vec![$({
            #[allow(unused_mut)]
            let mut e = Entry {
                name: concat!(stringify!($module), "::", stringify!($function)),
                test: $module::$function as Test,
                sharing: Sharing::Shared,
                waits: false,
            };
            $(tag!(e, $tag);)*
            e
        }),*]
    };
}

macro_rules! tag {
    ($e:ident, alone) => {
        $e.sharing = Sharing::Alone
    };
    ($e:ident, cron) => {
        $e.sharing = Sharing::Cron
    };
    ($e:ident, waits) => {
        $e.waits = true
    };
}

/// Every test, one per line (tags before the name); add new ones at the end. The run
/// order is `Entry::plan_rank`'s.
#[rustfmt::skip]
pub fn all() -> Vec<Entry> {
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
        #[cron] crm::followups_and_due_cron,
        #[cron] crm::calendar,
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
        #[cron] realtime::outbox_redelivers_after_hub_failure,
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
        #[alone] hub::retention_and_restart,
        jobs::welcome_email_completes,
        identity::login_seeded_user,
        identity::login_rejects_bad_credentials_and_input,
        identity::login_is_rate_limited,
        identity::refresh_rotates_and_detects_reuse,
        identity::logout_ends_the_session,
        identity::users_crud_roles_and_isolation,
        identity::users_pagination,
        identity::user_events_reach_admins_without_secrets,
        #[cron] jobs::cron_runs,
        jobs_v2::sms_reaches_the_provider,
        #[waits] jobs_v2::dead_jobs_and_admin_retry,
        jobs_v2::poison_and_duplicate_messages,
        jobs_v2::jobs_list,
        jobs_v2::pipeline_report_matches_rows,
        #[cron] jobs_v2::reminder_email_via_cron,
        finance::sales_payments_and_events,
        finance::roles_rates_approval_and_dashboard,
        finance::sales_report_matches_rows,
        owners::crud_filters_roles_and_events,
        owners::matching_finds_each_match_once,
        jobs_v2::publishing_retries_then_succeeds,
        #[cron] jobs_v2::scheduled_publishing_via_cron,
        hardening_realtime::user_channel_follows_rest,
        hardening_realtime::finance_channels_follow_rest,
        hardening_realtime::money_and_reports_follow_rest,
        hardening_realtime::history_and_sse_channel_limit,
        #[alone] hardening_realtime::sse_stalled_reader_is_dropped,
        hardening_conc::payments_report_their_own_balance,
        hardening_conc::customer_partial_updates_never_drop_fields,
        hardening_conc::users_and_followups_are_versioned,
        hardening_conc::broker_cannot_set_commission_rate,
        hardening_auth::idempotency_replay_runs_the_role_check,
        hardening_auth::bearer_reader_and_blocklist_cover_everything,
        hardening_auth::login_lockout_is_atomic,
        #[alone] hardening_auth::jwt_nbf_and_partial_jwks,
        hardening_auth::chunked_body_is_limited_while_streaming,
        hardening_auth::public_visitor_id_hides_the_ip,
        #[alone] hardening_auth::dead_pending_idempotency_key_is_freed,
        #[alone] hardening_jobs::job_survives_a_crash_mid_run,
        #[waits] hardening_jobs::duplicate_messages_end_dead_not_failed,
        #[alone] hardening_jobs::matching_retry_announces_nothing_old,
        #[cron] hardening_jobs::card_scans_are_coalesced,
        #[alone] hardening_jobs::cron_prunes_old_rows,
        observability::request_id_on_every_answer,
        observability::one_json_log_line_per_request,
        observability::tokens_are_never_logged,
        routes::access_rules_match_the_document,
        routes::document_states_the_router_rules,
        #[alone] routes::dev_routes_are_404_outside_dev,
        validation::scan_body_is_an_object,
        validation::numbers_lengths_and_times_follow_the_schema,
        contract::typed_query_parameters_are_checked,
        contract::any_well_formed_cursor_is_a_position,
        contract::if_match_follows_its_pattern,
        contract::hub_append_takes_its_declared_body,
        contract::stated_rules_cover_their_refusals,
        token_refresh::auth_frame_swaps_the_token_in_place,
        token_refresh::unrefreshed_socket_closes_at_expiry,
        token_refresh::auth_frame_refuses_another_caller,
        token_refresh::sse_resumes_with_a_fresh_token,
        notifications::addressed_events_are_saved_per_user,
        notifications::read_marks_reach_other_devices,
        notifications::snapshot_channel_sums_up_the_inbox,
        audit::changes_are_audited_with_their_actor,
        leads::assign_rules_and_events,
        leads::list_filters_and_mine,
        leads::search_by_name_email_and_phone,
        leads::card_page_and_vcard_escape_everything,
        leads::lead_capture_json_form_and_honeypot,
        leads::lead_limits_per_address_and_card,
        catalog::served_catalog_is_the_committed_one,
        catalog::events_of_every_area_match_the_catalog,
        photos::upload_list_delete_and_roles,
        photos::served_privately_then_publicly_with_webhook_urls,
        photos::property_delete_removes_photos,
        #[cron] photos::failed_file_removal_is_retried_by_the_cron,
        #[cron] edits::appointments_reschedule_edit_and_cancel,
        edits::payments_refund_and_commissions_pay,
        edits::cards_edit_and_delete,
        jobs_v2::listings_edit_unpublish_and_sold,
        onboarding::invitations_let_people_set_their_own_password,
        onboarding::the_operator_adds_a_brokerage,
        onboarding::settings_are_the_brokerages_own,
        onboarding::a_brokerage_names_its_own_origins,
    ]
}
