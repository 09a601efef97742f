//! `ProviderSignInHandler` and `IdentitiesHandler` over the in-memory fakes and scripted
//! upstream providers: the flow's rules (single use, bound to the browser, expiry) and account
//! resolution (API.md steps 1–5).

use chrono::Duration;
use portcullis_application::in_memory::FakeUpstream;
use portcullis_application::ports::UpstreamError;
use portcullis_application::{
    FinishFlowCommand, FinishFlowError, FlowOutcome, StartFlowCommand, StartFlowError, StartedFlow, UnlinkIdentityError,
};
use portcullis_domain::{
    AuthMethod, Email, OpaqueSecret, ProviderId, ProviderIdentity, Resolution, SameSitePath, SessionMetadata, UserId,
};

use crate::support::Bench;

const ADA: &str = "ada@example.com";

fn identity(provider: &str, subject: &str, email: &str, verified: bool) -> ProviderIdentity {
    ProviderIdentity {
        provider: ProviderId::parse(provider).expect("an id"),
        subject: subject.to_owned(),
        email: Some(Email::parse(email).expect("an email")),
        email_verified: verified,
        name: Some("Ada from the provider".to_owned()),
        picture: None,
    }
}

fn start(bench: &Bench, provider: &str, linking_user: Option<UserId>) -> Result<StartedFlow, StartFlowError> {
    bench.provider_sign_in_handler().start(StartFlowCommand {
        provider: provider.to_owned(),
        next: SameSitePath::default_next(),
        linking_user,
    })
}

/// The `state` in a fake provider's authorization URL.
fn state_of(flow: &StartedFlow) -> String {
    flow.authorize_url.split_once("state=").expect("a state").1.to_owned()
}

fn callback(provider: &str, flow: &StartedFlow, code: &str) -> FinishFlowCommand {
    FinishFlowCommand {
        provider: provider.to_owned(),
        code: Some(code.to_owned()),
        state: Some(state_of(flow)),
        error: None,
        issuer: None,
        binding: Some(flow.binding.clone()),
        metadata: SessionMetadata::default(),
    }
}

/// A whole sign-in at `provider` answering `answer`.
fn sign_in(bench: &Bench, upstream: &FakeUpstream, answer: ProviderIdentity) -> Result<FlowOutcome, FinishFlowError> {
    upstream.answer(Ok(answer));
    let provider = upstream_id(bench, upstream);
    let flow = start(bench, &provider, None).expect("the flow starts");
    bench.provider_sign_in_handler().finish(callback(&provider, &flow, "good"))
}

fn upstream_id(bench: &Bench, upstream: &FakeUpstream) -> String {
    let providers = bench.provider_sign_in_handler().providers();
    let info = portcullis_application::ports::UpstreamProvider::info(upstream);
    assert!(providers.contains(info), "the bench lists {}", info.id);
    info.id.as_str().to_owned()
}

fn refused(outcome: Result<FlowOutcome, FinishFlowError>) -> Option<&'static str> {
    match outcome {
        Ok(_) => panic!("expected a refusal"),
        Err(error) => error.code(),
    }
}

#[test]
fn a_verified_unknown_address_makes_a_user_without_a_password_who_signs_in_by_fed() {
    let bench = Bench::new();
    let outcome = sign_in(&bench, &bench.corp, identity("corp", "sub-1", ADA, true)).expect("signed in");
    let FlowOutcome::SignedIn { tokens, next } = outcome else { panic!("a session") };
    assert_eq!(next, "/account");
    let users = bench.store.users();
    assert_eq!(users.len(), 1);
    assert!(!users[0].has_password(), "made through a provider: no password");
    assert!(users[0].email_verified);
    assert_eq!(tokens.user.user_id, users[0].id);
    let session = bench.store.sessions().pop().expect("a session");
    assert!(session.methods.contains(AuthMethod::Federated) && !session.methods.contains(AuthMethod::Password));
    assert_eq!(bench.store.identities().len(), 1);
    assert!(bench.store.oauth_flows().is_empty(), "the flow is spent");
}

#[test]
fn a_returning_identity_signs_in_the_same_user() {
    let bench = Bench::new();
    sign_in(&bench, &bench.corp, identity("corp", "sub-1", ADA, true)).expect("first");
    // The provider's address changed meanwhile: the identity, not the address, names the user.
    let again = sign_in(&bench, &bench.corp, identity("corp", "sub-1", "ada@new.example", false)).expect("again");
    let FlowOutcome::SignedIn { tokens, .. } = again else { panic!("a session") };
    assert_eq!(bench.store.users().len(), 1);
    assert_eq!(tokens.user.email, ADA);
}

#[test]
fn a_callback_works_once_from_the_browser_that_started_it_within_ten_minutes() {
    let bench = Bench::new();
    bench.corp.answer(Ok(identity("corp", "sub-1", ADA, true)));
    let handler = bench.provider_sign_in_handler();

    let flow = start(&bench, "corp", None).expect("starts");
    let foreign = FinishFlowCommand {
        binding: Some(OpaqueSecret::presented("another browser")),
        ..callback("corp", &flow, "good")
    };
    assert_eq!(handler.finish(foreign).err().and_then(|e| e.code()), Some("oauth_failed"));
    // The foreign attempt spent the flow: the real browser cannot finish it either.
    assert_eq!(handler.finish(callback("corp", &flow, "good")).err().and_then(|e| e.code()), Some("oauth_failed"));

    let flow = start(&bench, "corp", None).expect("starts");
    let no_cookie = FinishFlowCommand { binding: None, ..callback("corp", &flow, "good") };
    assert_eq!(refused(handler.finish(no_cookie)), Some("oauth_failed"));

    let flow = start(&bench, "corp", None).expect("starts");
    assert!(handler.finish(callback("corp", &flow, "good")).is_ok());
    assert_eq!(refused(handler.finish(callback("corp", &flow, "good"))), Some("oauth_failed"), "replayed");

    let flow = start(&bench, "corp", None).expect("starts");
    assert_eq!(refused(handler.finish(callback("trusty", &flow, "good"))), Some("oauth_failed"), "other provider");

    let flow = start(&bench, "corp", None).expect("starts");
    bench.clock.advance(Duration::seconds(601));
    assert_eq!(refused(handler.finish(callback("corp", &flow, "good"))), Some("oauth_failed"), "expired");
    assert_eq!(bench.store.sessions().len(), 1, "only the one good callback started a session");
}

#[test]
fn a_refused_code_or_a_declined_consent_starts_no_session() {
    let bench = Bench::new();
    bench.corp.answer(Ok(identity("corp", "sub-1", ADA, true)));
    let handler = bench.provider_sign_in_handler();
    let flow = start(&bench, "corp", None).expect("starts");
    assert_eq!(refused(handler.finish(callback("corp", &flow, "forged"))), Some("oauth_failed"));

    let flow = start(&bench, "corp", None).expect("starts");
    let declined =
        FinishFlowCommand { code: None, error: Some("access_denied".to_owned()), ..callback("corp", &flow, "") };
    assert_eq!(refused(handler.finish(declined)), Some("oauth_denied"));

    bench.corp.answer(Err(UpstreamError::Unreachable("timed out".to_owned())));
    let flow = start(&bench, "corp", None).expect("starts");
    assert_eq!(refused(handler.finish(callback("corp", &flow, "good"))), Some("oauth_failed"));
    assert!(bench.store.sessions().is_empty() && bench.store.users().is_empty());
}

#[test]
fn an_unknown_or_unreachable_provider_stores_no_flow() {
    let bench = Bench::new();
    assert!(matches!(start(&bench, "nope", None), Err(StartFlowError::UnknownProvider)));
    bench.corp.set_unreachable(true);
    assert!(matches!(start(&bench, "corp", None), Err(StartFlowError::ProviderUnavailable)));
    assert!(bench.store.oauth_flows().is_empty());
}

#[test]
fn a_taken_address_is_never_taken_over_under_explicit_linking() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    bench.edit_user(ada.user_id, |user| user.email_verified = true);
    let outcome = sign_in(&bench, &bench.corp, identity("corp", "sub-1", ADA, true));
    assert_eq!(refused(outcome), Some("account_exists"));
    assert!(bench.store.identities().is_empty() && bench.store.sessions().is_empty());
}

#[test]
fn verified_email_linking_needs_both_sides_verified() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    let outcome = sign_in(&bench, &bench.trusty, identity("trusty", "t-1", ADA, true));
    assert_eq!(refused(outcome), Some("account_exists"), "the local address is not verified");
    let outcome = sign_in(&bench, &bench.trusty, identity("trusty", "t-1", ADA, false));
    assert_eq!(refused(outcome), Some("account_exists"), "the provider's address is not verified");

    bench.edit_user(ada.user_id, |user| user.email_verified = true);
    let outcome = sign_in(&bench, &bench.trusty, identity("trusty", "t-1", ADA, true)).expect("linked and signed in");
    let FlowOutcome::SignedIn { tokens, .. } = outcome else { panic!("a session") };
    assert_eq!(tokens.user.user_id, ada.user_id);
    assert_eq!(bench.store.identities()[0].user_id, ada.user_id);
    assert_eq!(bench.store.users().len(), 1);
}

#[test]
fn no_verified_address_is_email_unverified_and_a_disabled_owner_is_refused() {
    let bench = Bench::new();
    assert_eq!(refused(sign_in(&bench, &bench.corp, identity("corp", "s", ADA, false))), Some("email_unverified"));
    assert!(bench.store.users().is_empty());

    sign_in(&bench, &bench.corp, identity("corp", "s", ADA, true)).expect("made");
    let user = bench.store.users().pop().expect("a user");
    bench.edit_user(user.id, |user| user.disabled = true);
    assert_eq!(refused(sign_in(&bench, &bench.corp, identity("corp", "s", ADA, true))), Some("account_disabled"));
}

#[test]
fn a_linking_flow_links_to_the_signed_in_user_and_never_steals_an_identity() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    let bob = bench.signup("Bob", "bob@example.com");
    bench.corp.answer(Ok(identity("corp", "sub-ada", "someone@else.example", false)));
    let handler = bench.provider_sign_in_handler();

    let flow = start(&bench, "corp", Some(ada.user_id)).expect("starts");
    let outcome = handler.finish(callback("corp", &flow, "good")).expect("linked");
    assert!(matches!(outcome, FlowOutcome::Linked { ref next } if next == "/account"));
    assert!(bench.store.sessions().is_empty(), "linking starts no session");
    assert_eq!(bench.store.identities()[0].user_id, ada.user_id);
    assert!(matches!(start(&bench, "corp", Some(ada.user_id)), Err(StartFlowError::AlreadyLinked)));

    let flow = start(&bench, "corp", Some(bob.user_id)).expect("starts");
    let outcome = handler.finish(callback("corp", &flow, "good"));
    assert!(matches!(outcome, Err(FinishFlowError::Refused(Resolution::IdentityTaken))));
    assert_eq!(bench.store.identities()[0].user_id, ada.user_id, "still Ada's");
}

#[test]
fn the_last_way_in_cannot_be_unlinked() {
    let bench = Bench::new();
    sign_in(&bench, &bench.corp, identity("corp", "c-1", ADA, true)).expect("made");
    let user = bench.store.users().pop().expect("a user");
    let identities = bench.identities_handler();
    assert!(matches!(identities.unlink(user.id, "corp"), Err(UnlinkIdentityError::LastSignInMethod)));
    assert!(matches!(identities.unlink(user.id, "trusty"), Err(UnlinkIdentityError::NotFound)));

    let flow = start(&bench, "trusty", Some(user.id)).expect("starts");
    bench.trusty.answer(Ok(identity("trusty", "t-1", ADA, true)));
    bench.provider_sign_in_handler().finish(callback("trusty", &flow, "good")).expect("linked");
    let methods = identities.methods(user.id).expect("methods");
    assert_eq!((methods.password, methods.identities.len()), (false, 2));

    identities.unlink(user.id, "corp").expect("one of two goes");
    assert!(matches!(identities.unlink(user.id, "trusty"), Err(UnlinkIdentityError::LastSignInMethod)));
}

#[test]
fn a_user_with_a_password_may_unlink_every_provider() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    let flow = start(&bench, "corp", Some(ada.user_id)).expect("starts");
    bench.corp.answer(Ok(identity("corp", "c-1", "ada@corp.example", true)));
    bench.provider_sign_in_handler().finish(callback("corp", &flow, "good")).expect("linked");
    bench.identities_handler().unlink(ada.user_id, "corp").expect("unlinked");
    assert!(bench.store.identities().is_empty());
}
