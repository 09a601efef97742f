//! Handler tests: every command handler run against the in-memory fakes of the ports.

mod current_user;
mod lockout;
mod login;
mod logout;
mod refresh;
mod sessions;
mod signup;
mod support;
mod unit_of_work;
mod update_profile;
