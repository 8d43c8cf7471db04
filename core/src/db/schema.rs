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
        family_expires_at -> Timestamptz,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Int4,
        locked_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
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

diesel::table! {
    face_profiles (id) {
        id -> Uuid,
        kind -> Text,
        display_name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    face_photos (id) {
        id -> Uuid,
        profile_id -> Uuid,
        object_key -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        original_filename -> Nullable<Text>,
        status -> Text,
        reason -> Nullable<Text>,
        job_id -> Nullable<Uuid>,
        face -> Nullable<Jsonb>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    face_embeddings (id) {
        id -> Uuid,
        profile_id -> Uuid,
        photo_id -> Uuid,
        model -> Text,
        vector -> Array<Float4>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    missing_persons (id) {
        id -> Uuid,
        profile_id -> Uuid,
        name -> Text,
        age -> Nullable<Int4>,
        gender -> Nullable<Text>,
        height_cm -> Nullable<Int4>,
        description -> Nullable<Text>,
        last_seen_location -> Nullable<Text>,
        last_seen_at -> Nullable<Timestamptz>,
        notes -> Nullable<Text>,
        status -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    videos (id) {
        id -> Uuid,
        kind -> Text,
        title -> Text,
        description -> Nullable<Text>,
        object_key -> Nullable<Text>,
        original_filename -> Nullable<Text>,
        content_type -> Nullable<Text>,
        size_bytes -> Nullable<Int8>,
        stream_url -> Nullable<Text>,
        status -> Text,
        error -> Nullable<Text>,
        duration_secs -> Nullable<Float8>,
        fps -> Nullable<Float8>,
        width -> Nullable<Int4>,
        height -> Nullable<Int4>,
        codec -> Nullable<Text>,
        container -> Nullable<Text>,
        bit_rate -> Nullable<Int8>,
        probe_job_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    searches (id) {
        id -> Uuid,
        name -> Nullable<Text>,
        job_id -> Uuid,
        status -> Text,
        settings -> Jsonb,
        notify -> Array<Text>,
        summary -> Nullable<Jsonb>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    search_persons (search_id, missing_person_id) {
        search_id -> Uuid,
        missing_person_id -> Uuid,
    }
}

diesel::table! {
    search_videos (search_id, video_id) {
        search_id -> Uuid,
        video_id -> Uuid,
        status -> Text,
        error -> Nullable<Text>,
        segments -> Int4,
        segments_done -> Int4,
        frames_processed -> Int8,
        frames_analysed -> Int8,
        seconds_processed -> Float8,
        stop_requested -> Bool,
    }
}

diesel::table! {
    appearances (id) {
        id -> Uuid,
        search_id -> Uuid,
        video_id -> Uuid,
        missing_person_id -> Uuid,
        start_secs -> Float8,
        end_secs -> Float8,
        started_at -> Nullable<Timestamptz>,
        frames -> Int4,
        best_distance -> Float4,
        best_score -> Float4,
        best_secs -> Float8,
        best_box -> Jsonb,
        thumbnail_key -> Text,
        notified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    detections (id) {
        id -> Uuid,
        search_id -> Uuid,
        video_id -> Uuid,
        missing_person_id -> Uuid,
        appearance_id -> Nullable<Uuid>,
        frame_ms -> Int8,
        observed_at -> Nullable<Timestamptz>,
        bbox -> Jsonb,
        detector_score -> Float4,
        distance -> Float4,
        score -> Float4,
        runner_up_margin -> Nullable<Float4>,
        frame_key -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    cameras (id) {
        id -> Text,
        name -> Text,
        location -> Text,
        stream_type -> Text,
        stream_url -> Text,
        username -> Nullable<Text>,
        password -> Nullable<Text>,
        status -> Text,
        fps -> Nullable<Float8>,
        latency_ms -> Nullable<Float8>,
        bitrate -> Nullable<Float8>,
        resolution -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        tags -> Array<Text>,
        thumbnail_key -> Nullable<Text>,
        enabled -> Bool,
        sample_fps -> Float8,
        min_confidence -> Float4,
        roi -> Nullable<Jsonb>,
        watcher_job_id -> Nullable<Uuid>,
        last_seen -> Nullable<Timestamptz>,
        last_checked -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        face_recognition -> Bool,
        face_sample_fps -> Float8,
    }
}

diesel::table! {
    camera_counts (id) {
        id -> Uuid,
        camera_id -> Text,
        window_start -> Timestamptz,
        window_end -> Timestamptz,
        people_count -> Int4,
        average_count -> Float8,
        frames_processed -> Int4,
        avg_inference_ms -> Float8,
        partial -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    face_detections (id) {
        id -> Uuid,
        camera_id -> Text,
        track_id -> Text,
        source -> Text,
        status -> Text,
        person_id -> Nullable<Uuid>,
        confidence -> Nullable<Float4>,
        distance -> Nullable<Float4>,
        margin -> Nullable<Float4>,
        reason -> Nullable<Text>,
        bbox -> Jsonb,
        face_px -> Float4,
        frames -> Int4,
        first_seen -> Timestamptz,
        last_seen -> Timestamptz,
        thumbnail_key -> Nullable<Text>,
        job_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        descriptor -> Nullable<Text>,
    }
}

diesel::table! {
    detection_events (id) {
        id -> Uuid,
        camera_id -> Nullable<Text>,
        camera_name -> Nullable<Text>,
        kind -> Text,
        status -> Text,
        latency_ms -> Nullable<Int4>,
        payload -> Nullable<Jsonb>,
        error_message -> Nullable<Text>,
        job_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    detection_provider (id) {
        id -> Int4,
        provider_name -> Text,
        endpoint -> Text,
        enabled -> Bool,
        status -> Text,
        last_heartbeat -> Nullable<Timestamptz>,
        average_latency_ms -> Nullable<Int4>,
        updated_at -> Timestamptz,
        version -> Int4,
        api_key -> Nullable<Text>,
    }
}

diesel::table! {
    shifts (id) {
        id -> Text,
        name -> Text,
        start_time -> Time,
        end_time -> Time,
        days -> Array<Int2>,
        grace_minutes -> Int4,
        departments -> Array<Text>,
        location -> Nullable<Text>,
        expected_headcount -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::joinable!(users -> roles (role_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(face_photos -> face_profiles (profile_id));
diesel::joinable!(face_embeddings -> face_profiles (profile_id));
diesel::joinable!(missing_persons -> face_profiles (profile_id));
diesel::joinable!(search_persons -> searches (search_id));
diesel::joinable!(search_persons -> missing_persons (missing_person_id));
diesel::joinable!(search_videos -> searches (search_id));
diesel::joinable!(search_videos -> videos (video_id));
diesel::joinable!(appearances -> searches (search_id));
diesel::joinable!(detections -> searches (search_id));
diesel::joinable!(camera_counts -> cameras (camera_id));
diesel::table! {
    face_tracks (id) {
        id -> Uuid,
        search_id -> Uuid,
        video_id -> Uuid,
        missing_person_id -> Uuid,
        start_ms -> Int8,
        track_no -> Int4,
        end_ms -> Int8,
        frames -> Int4,
        max_px -> Float4,
        distance -> Float4,
        best_distance -> Float4,
        best_ms -> Int8,
        best_px -> Float4,
        thumbnail_key -> Nullable<Text>,
        sighting_rank -> Nullable<Int4>,
        sighting_standout -> Nullable<Float4>,
        review_status -> Nullable<Text>,
        review_note -> Nullable<Text>,
        reviewed_by -> Nullable<Uuid>,
        reviewed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    storage_orphans (key) {
        key -> Text,
        orphaned_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    people (id) {
        id -> Uuid,
        profile_id -> Uuid,
        kind -> Text,
        name -> Text,
        employee_id -> Nullable<Text>,
        student_number -> Nullable<Text>,
        email -> Nullable<Text>,
        department -> Nullable<Text>,
        role -> Nullable<Text>,
        year -> Nullable<Int4>,
        status -> Text,
        notes -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    devices (id) {
        id -> Uuid,
        name -> Text,
        classroom_id -> Nullable<Text>,
        location -> Nullable<Text>,
        status -> Text,
        key_hash -> Nullable<Text>,
        key_prefix -> Nullable<Text>,
        key_created_at -> Nullable<Timestamptz>,
        last_seen -> Nullable<Timestamptz>,
        last_ip -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    captures (id) {
        id -> Uuid,
        device_id -> Nullable<Uuid>,
        capture_id -> Text,
        classroom_id -> Nullable<Text>,
        captured_at -> Timestamptz,
        object_key -> Nullable<Text>,
        content_type -> Text,
        size_bytes -> Int8,
        job_id -> Nullable<Uuid>,
        status -> Text,
        reason -> Nullable<Text>,
        predicted_person_id -> Nullable<Uuid>,
        distance -> Nullable<Float4>,
        confidence -> Nullable<Float4>,
        margin -> Nullable<Float4>,
        face -> Nullable<Jsonb>,
        descriptor -> Nullable<Text>,
        decided_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    attendance_events (id) {
        id -> Uuid,
        person_id -> Uuid,
        source -> Text,
        capture_id -> Nullable<Uuid>,
        occurred_at -> Timestamptz,
        confidence -> Nullable<Float4>,
        device_id -> Nullable<Uuid>,
        classroom_id -> Nullable<Text>,
        camera_id -> Nullable<Text>,
        status -> Text,
        auto_approved -> Bool,
        review_reason -> Nullable<Text>,
        reviewed_by -> Nullable<Uuid>,
        reviewed_at -> Nullable<Timestamptz>,
        review_notes -> Nullable<Text>,
        predicted_person_id -> Nullable<Uuid>,
        note -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        detection_id -> Nullable<Uuid>,
        last_seen_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    attendance_logs (id) {
        id -> Uuid,
        person_id -> Uuid,
        date -> Date,
        time_in -> Nullable<Timestamptz>,
        time_out -> Nullable<Timestamptz>,
        status -> Text,
        accuracy -> Nullable<Float4>,
        events -> Int4,
        device_id -> Nullable<Uuid>,
        classroom_id -> Nullable<Text>,
        camera_id -> Nullable<Text>,
        odoo_status -> Text,
        odoo_sync_time -> Nullable<Timestamptz>,
        odoo_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        shift_id -> Nullable<Text>,
    }
}

diesel::table! {
    face_negatives (id) {
        id -> Uuid,
        person_id -> Uuid,
        descriptor -> Text,
        capture_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        detection_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    camera_snapshots (id) {
        id -> Uuid,
        camera_id -> Text,
        object_key -> Text,
        taken_at -> Timestamptz,
        job_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(people -> face_profiles (profile_id));
diesel::joinable!(captures -> devices (device_id));
diesel::joinable!(captures -> people (predicted_person_id));
diesel::joinable!(attendance_logs -> people (person_id));
diesel::joinable!(face_negatives -> people (person_id));
diesel::joinable!(face_detections -> people (person_id));
diesel::joinable!(face_detections -> cameras (camera_id));
diesel::joinable!(camera_snapshots -> cameras (camera_id));

diesel::allow_tables_to_appear_in_same_query!(
    instance_settings,
    roles,
    users,
    refresh_tokens,
    login_throttle,
    audit_logs,
    jobs,
    queues,
    email_outbox,
    exports,
    alerts,
    health_checks,
    scheduler_ticks,
    face_profiles,
    face_photos,
    face_embeddings,
    missing_persons,
    videos,
    searches,
    search_persons,
    search_videos,
    appearances,
    detections,
    cameras,
    camera_counts,
    face_tracks,
    storage_orphans,
    people,
    devices,
    captures,
    attendance_events,
    attendance_logs,
    face_negatives,
    face_detections,
    detection_events,
    detection_provider,
    shifts,
    camera_snapshots
);
