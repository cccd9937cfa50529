//! The state tables as diesel sees them. The SQL lives in `migrations/<backend>/`.

#![allow(missing_docs)]

diesel::table! {
    attrmig_schema (id) {
        id -> Integer,
        version -> Integer,
    }
}

diesel::table! {
    attrmig_migrations (id) {
        id -> Text,
        step -> Text,
        abandoned -> Bool,
        version -> BigInt,
        storage_fingerprint -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    attrmig_transitions (migration_id, version) {
        migration_id -> Text,
        version -> BigInt,
        kind -> Text,
        from_step -> Text,
        to_step -> Text,
        actor -> Text,
        db_user -> Nullable<Text>,
        at -> Timestamp,
        note -> Nullable<Text>,
        evidence -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    attrmig_approvals (migration_id, version) {
        migration_id -> Text,
        version -> BigInt,
        approver -> Text,
        approved_at -> Timestamp,
    }
}

diesel::table! {
    attrmig_cross_check_runs (migration_id, run) {
        migration_id -> Text,
        run -> BigInt,
        full_scan -> Bool,
        sample_size -> Nullable<BigInt>,
        status -> Text,
        step -> Text,
        actor -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        matching -> BigInt,
        missing_in_new -> BigInt,
        extra_in_new -> BigInt,
        differs -> BigInt,
        mismatches -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    attrmig_sync_runs (migration_id, pass) {
        migration_id -> Text,
        pass -> BigInt,
        status -> Text,
        step -> Text,
        holder -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        checkpoint -> Nullable<Text>,
        rows_scanned -> BigInt,
        rows_written -> BigInt,
        rows_rejected -> BigInt,
        token -> Text,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    attrmig_data_issues (migration_id, row_key_hash) {
        migration_id -> Text,
        row_key_hash -> Text,
        row_key -> Text,
        old_value -> Nullable<Text>,
        error -> Text,
        pass -> BigInt,
        first_seen_at -> Timestamp,
        last_seen_at -> Timestamp,
        attempts -> BigInt,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    attrmig_leases (migration_id, purpose) {
        migration_id -> Text,
        purpose -> Text,
        holder -> Text,
        acquired_at -> Timestamp,
        expires_at -> Timestamp,
        tool -> Text,
        token -> Text,
        host -> Nullable<Text>,
        pid -> Nullable<BigInt>,
        boot_id -> Nullable<Text>,
        pid_ns -> Nullable<Text>,
        proc_start -> Nullable<BigInt>,
    }
}

diesel::table! {
    attrmig_old_fingerprints (migration_id, row_key_hash) {
        migration_id -> Text,
        row_key_hash -> Text,
        row_key -> Text,
        digest -> Text,
    }
}

diesel::table! {
    attrmig_old_ranges (migration_id, ordinal) {
        migration_id -> Text,
        ordinal -> BigInt,
        last_key -> Text,
        key_count -> BigInt,
        digest -> Text,
    }
}

diesel::table! {
    attrmig_drop_checkpoints (migration_id, intent) {
        migration_id -> Text,
        intent -> BigInt,
        last_key -> Nullable<Text>,
        rows_done -> BigInt,
    }
}

diesel::table! {
    attrmig_intents (migration_id, intent) {
        migration_id -> Text,
        intent -> BigInt,
        what -> Text,
        statements -> Text,
        actor -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}
