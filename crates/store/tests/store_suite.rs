#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Storage conformance suite: every case is written once against the
//! domain's ports and run on SQLite (always) and PostgreSQL (when
//! `ISMS_TEST_DATABASE_URL` is set; required under `CI=true`), each test on
//! a fresh database of its own.

mod store_suite {
    pub mod audit;
    pub mod bootstrap;
    pub mod compliance;
    pub mod crypto;
    pub mod risk;
    pub mod sessions;
    pub mod signing_keys;
    pub mod support;
    pub mod tenants;
    pub mod users;
}

pub use store_suite::support::Ctx;

/// Generates one `#[tokio::test]` per case and backend:
/// `sqlite::<case>` and `postgres::<case>`. Each case is an
/// `async fn(&Ctx)`; `Ctx` derefs to the migrated `Store` and keeps the
/// test database alive until the case returns.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let cx = crate::Ctx::new(isms_store::testing::TestDatabase::sqlite()).await;
                    crate::store_suite::$module::$case(&cx).await;
                    cx.finish().await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = isms_store::testing::TestDatabase::postgres().await else {
                        return;
                    };
                    let cx = crate::Ctx::new(db).await;
                    crate::store_suite::$module::$case(&cx).await;
                    cx.finish().await;
                }
            )*
        }
    };
}

conformance! {
    bootstrap::migrate_is_idempotent_and_health_pings,
    bootstrap::bootstrap_happens_once,
    bootstrap::concurrent_bootstrap_has_one_winner,
    tenants::tenant_round_trip_and_name_lookup,
    tenants::tenant_names_are_unique_without_case,
    tenants::tenant_list_pages_in_id_order,
    users::user_round_trip,
    users::the_login_lookup_reports_a_confirmed_second_factor,
    users::user_update_writes_every_mutable_field,
    users::email_is_unique_across_tenants,
    users::soft_deleted_user_disappears_and_frees_email,
    users::user_operations_are_tenant_scoped,
    users::missing_user_is_not_found,
    users::user_list_pages_in_id_order,
    sessions::session_round_trip_is_tenant_scoped,
    sessions::list_live_is_newest_first_and_only_live,
    sessions::touch_only_moves_forward,
    sessions::revoke_is_once_and_kills_refresh,
    sessions::revoke_all_for_user_keeps_one,
    sessions::find_refresh_returns_record_and_session,
    sessions::rotation_and_reuse_detection,
    sessions::rotate_rejects_unknown_and_expired,
    sessions::concurrent_rotation_has_one_winner,
    sessions::create_stamps_the_login_and_refuses_a_deleted_user,
    sessions::a_login_stores_its_records_whole_or_not_at_all,
    signing_keys::signing_key_lifecycle,
    audit::appends_are_gapless_and_the_head_tracks_the_root,
    audit::a_batch_beyond_one_statement_is_stored_whole,
    audit::stored_nodes_prove_inclusion,
    audit::the_log_is_append_only,
    audit::a_change_and_its_record_commit_together,
    audit::concurrent_appends_from_two_stores_never_fork,
    audit::checkpoints_are_stored_once_per_size,
    audit::queries_filter_and_page_newest_first,
    audit::critical_records_raise_alerts_scheduled_once,
    crypto::data_key_rings_keep_one_primary,
    crypto::subject_keys_leave_a_tombstone,
    crypto::users_are_stored_as_envelopes,
    crypto::rewrap_moves_fields_to_the_primary,
    crypto::plaintext_users_are_converted_then_dropped,
    compliance::results_are_history_and_the_latest_is_current,
    compliance::config_round_trips_per_tenant,
    compliance::access_reviews_stamp_the_user_and_are_tenant_scoped,
    compliance::a_job_lease_has_one_holder_until_it_expires,
    compliance::consents_round_trip_and_withdraw_once,
    risk::risk_entities_round_trip_scoped_and_encrypted,
    risk::exposures_are_unique_and_assessments_commit_together,
    risk::register_treatments_and_review_input,
    risk::the_catalogue_is_seeded_once_per_tenant,
}
