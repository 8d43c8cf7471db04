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

diesel::joinable!(users -> roles (role_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    instance_settings,
    roles,
    users,
    refresh_tokens,
    audit_logs
);
