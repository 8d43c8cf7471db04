// Hand-written to match migrations/ (diesel CLI would need libpq). Keep in step with the SQL.

diesel::table! {
    instance_settings (key) {
        key -> Text,
        value -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        name -> Text,
        permissions -> Array<Text>,
        description -> Text,
        builtin -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        password_hash -> Nullable<Text>,
        role_id -> Text,
        status -> Text,
        last_active -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Text,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    audit_logs (id) {
        id -> Uuid,
        actor -> Text,
        actor_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        action -> Text,
        resource_type -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        message -> Text,
        context -> Nullable<Jsonb>,
        severity -> Text,
        status_code -> Int4,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Text,
        timestamp -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        queue -> Text,
        status -> Text,
        priority -> Int2,
        payload -> Jsonb,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        progress -> Float4,
        stage -> Nullable<Text>,
        counters -> Nullable<Jsonb>,
        checkpoint -> Nullable<Jsonb>,
        eta_at -> Nullable<Timestamptz>,
        attempts -> Int4,
        max_attempts -> Int4,
        run_after -> Timestamptz,
        dispatched_at -> Nullable<Timestamptz>,
        message_id -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamptz>,
        cancel_requested -> Bool,
        pause_requested -> Bool,
        idempotency_key -> Nullable<Text>,
        parent_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    queues (name) {
        name -> Text,
        paused -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        dedupe_key -> Text,
        job_id -> Nullable<Uuid>,
        recipients -> Array<Text>,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    exports (id) {
        id -> Uuid,
        job_id -> Uuid,
        format -> Text,
        storage_key -> Text,
        size_bytes -> Int8,
        rows -> Int8,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    alerts (id) {
        id -> Uuid,
        kind -> Text,
        severity -> Text,
        source -> Text,
        message -> Text,
        details -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        resolved_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    health_checks (id) {
        id -> Uuid,
        component -> Text,
        status -> Text,
        latency_ms -> Int4,
        error -> Nullable<Text>,
        checked_at -> Timestamptz,
    }
}

diesel::table! {
    scheduler_ticks (task, tick_at) {
        task -> Text,
        tick_at -> Timestamptz,
        job_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(users -> roles (role_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    instance_settings,
    roles,
    users,
    refresh_tokens,
    audit_logs,
    jobs,
    queues,
    email_outbox,
    exports,
    alerts,
    health_checks,
    scheduler_ticks
);
