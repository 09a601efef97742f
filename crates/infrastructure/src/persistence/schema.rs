//! diesel table definitions, matching `migrations/`.

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        roles -> Text,
        email_verified -> Bool,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rate_limits (bucket, client) {
        bucket -> Text,
        client -> Text,
        tat_us -> BigInt,
    }
}

diesel::table! {
    login_failures (user_id) {
        user_id -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
        version -> BigInt,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    external_identities (provider, subject) {
        provider -> Text,
        subject -> Text,
        user_id -> Text,
        email -> Nullable<Text>,
        linked_at -> Timestamp,
    }
}

diesel::table! {
    oauth_flows (state_hash) {
        state_hash -> Text,
        binding_hash -> Text,
        provider -> Text,
        next_path -> Text,
        linking_user_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> Text,
        secret -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_used_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        first_factor -> Text,
        failures -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        record -> Text,
        sign_count -> BigInt,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    passkey_ceremonies (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        message -> Text,
        status -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(external_identities -> users (user_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(login_failures -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    signing_keys,
    rate_limits,
    login_failures,
    account_tokens,
    api_keys,
    external_identities,
    oauth_flows,
    totp_credentials,
    recovery_codes,
    mfa_challenges,
    passkeys,
    passkey_ceremonies,
    mail_outbox
);
