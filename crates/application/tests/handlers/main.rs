//! Handler tests: every command handler run against the in-memory fakes of the ports.

mod admin;
mod api_keys;
mod delete_account;
mod email_verification;
mod introspect;
mod lockout;
mod login;
mod logout;
mod passkeys;
mod passwords;
mod provider_sign_in;
mod refresh;
mod second_factor;
mod sessions;
mod signup;
mod support;
mod unit_of_work;
mod update_profile;
mod verify_access_token;
