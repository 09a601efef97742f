//! A WebAuthn relying party for handler tests: no cryptography, plain JSON in and out, and
//! the checks the handlers rely on (challenge, user verification, counter) done for real.

use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_domain::{CredentialId, PasskeyRecord, UserId};
use serde_json::{Value, json};

use crate::ports::{
    CeremonyRefusal, CeremonyStart, PasskeyHolder, PasskeyRelyingParty, PortError, RegisteredKey, VerifiedAssertion,
};

/// The number in the next challenge; process-wide, so no two fakes ever hand out the same
/// challenge (a test building several modules over one store cannot mix their ceremonies up).
static NEXT_CHALLENGE: AtomicU64 = AtomicU64::new(1);

/// A [`PasskeyRelyingParty`] whose "authenticator answers" are plain JSON a test writes by
/// hand. It signs nothing and verifies no signature: what it does check, it checks honestly.
///
/// - [`start_registration`](PasskeyRelyingParty::start_registration) answers the options
///   `{"challenge": c, "user": {"id": <user id>, "name": …, "displayName": …},
///   "excludeCredentials": [<credential id>, …]}` and keeps `c` as the state. Each challenge
///   is fresh (`fake-challenge-<n>`, from a counter).
/// - [`finish_registration`](PasskeyRelyingParty::finish_registration) takes
///   `{"challenge": c, "id": "<credential id>", "user_verified": true}`: it refuses
///   ([`CeremonyRefusal::Failed`]) a challenge other than the state's or `user_verified` other
///   than `true`, and calls the answer malformed when `challenge`, `id` (a non-empty string)
///   or `user_verified` (a boolean) is missing. The record it keeps is the text
///   `{"id": "<credential id>", "counter": 0}`.
/// - [`start_sign_in`](PasskeyRelyingParty::start_sign_in) answers `{"challenge": c}` and
///   keeps `c`.
/// - [`identify`](PasskeyRelyingParty::identify) reads `{"user": "<user id>", "id": "<credential id>"}`.
/// - [`finish_sign_in`](PasskeyRelyingParty::finish_sign_in) takes `{"challenge": c, "id": …,
///   "user_verified": true, "counter": n}`: besides the challenge and user verification it
///   refuses an `id` other than the record's and, as WebAuthn does, a counter `n` not above
///   the record's unless both are 0 (an authenticator that keeps no counter). It answers
///   `sign_count` `n` and the record with counter `n`, or no new record when the counter
///   stayed 0.
///
/// [`FakeRelyingParty::disabled`] is one that is switched off (the public URL's host is not a
/// name): [`is_enabled`](PasskeyRelyingParty::is_enabled) is false, the starts fail with
/// [`PortError::Internal`] and the finishes refuse everything. It is `Copy` and holds no
/// state of its own; as a shaku component its parameter is the fake itself (enabled unless
/// set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FakeRelyingParty {
    enabled: bool,
}

impl Default for FakeRelyingParty {
    /// Switched on.
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRelyingParty {
    /// A relying party that is switched on.
    pub fn new() -> Self {
        Self { enabled: true }
    }

    /// A relying party that is switched off.
    pub fn disabled() -> Self {
        Self { enabled: false }
    }

    /// A fresh challenge.
    fn challenge() -> String {
        format!("fake-challenge-{}", NEXT_CHALLENGE.fetch_add(1, Ordering::Relaxed))
    }

    fn check_enabled_to_start(&self, operation: &'static str) -> Result<(), PortError> {
        if self.enabled {
            Ok(())
        } else {
            Err(PortError::internal(operation, "the fake relying party is switched off"))
        }
    }

    fn check_enabled_to_finish(&self) -> Result<(), CeremonyRefusal> {
        if self.enabled {
            Ok(())
        } else {
            Err(CeremonyRefusal::Failed("the fake relying party is switched off".into()))
        }
    }
}

/// The string field `name` of `value`; malformed when absent, not a string, or empty.
fn text<'a>(value: &'a Value, name: &str) -> Result<&'a str, CeremonyRefusal> {
    match value.get(name).and_then(Value::as_str) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(CeremonyRefusal::Malformed(format!("no string `{name}`"))),
    }
}

/// Checks the answer's challenge against the stored `state` and its user verification.
fn check_challenge_and_user_verification(state: &str, credential: &Value) -> Result<(), CeremonyRefusal> {
    let challenge = text(credential, "challenge")?;
    let user_verified = credential
        .get("user_verified")
        .and_then(Value::as_bool)
        .ok_or_else(|| CeremonyRefusal::Malformed("no boolean `user_verified`".into()))?;
    if challenge != state {
        return Err(CeremonyRefusal::Failed("the challenge is not the ceremony's".into()));
    }
    if !user_verified {
        return Err(CeremonyRefusal::Failed("the user was not verified".into()));
    }
    Ok(())
}

/// The record the fake keeps of a key.
fn record_of(id: &str, counter: u32) -> PasskeyRecord {
    PasskeyRecord::new(json!({ "id": id, "counter": counter }).to_string())
}

impl PasskeyRelyingParty for FakeRelyingParty {
    fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn start_registration(
        &self,
        holder: &PasskeyHolder<'_>,
        exclude: &[CredentialId],
    ) -> Result<CeremonyStart, PortError> {
        self.check_enabled_to_start("fake_relying_party.start_registration")?;
        let challenge = Self::challenge();
        let options = json!({
            "challenge": challenge,
            "user": {
                "id": holder.user_id.to_string(),
                "name": holder.name,
                "displayName": holder.display_name,
            },
            "excludeCredentials": exclude.iter().map(CredentialId::as_str).collect::<Vec<_>>(),
        });
        Ok(CeremonyStart { options, state: challenge })
    }

    fn finish_registration(&self, state: &str, credential: &Value) -> Result<RegisteredKey, CeremonyRefusal> {
        self.check_enabled_to_finish()?;
        let id = text(credential, "id")?;
        check_challenge_and_user_verification(state, credential)?;
        Ok(RegisteredKey { credential_id: CredentialId::from_stored(id), record: record_of(id, 0) })
    }

    fn start_sign_in(&self) -> Result<CeremonyStart, PortError> {
        self.check_enabled_to_start("fake_relying_party.start_sign_in")?;
        let challenge = Self::challenge();
        Ok(CeremonyStart { options: json!({ "challenge": challenge }), state: challenge })
    }

    fn identify(&self, credential: &Value) -> Result<(UserId, CredentialId), CeremonyRefusal> {
        let user = text(credential, "user")?
            .parse::<UserId>()
            .map_err(|_| CeremonyRefusal::Malformed("`user` is not a user id".into()))?;
        Ok((user, CredentialId::from_stored(text(credential, "id")?)))
    }

    fn finish_sign_in(
        &self,
        state: &str,
        credential: &Value,
        record: &PasskeyRecord,
    ) -> Result<VerifiedAssertion, CeremonyRefusal> {
        self.check_enabled_to_finish()?;
        let stored: Value = serde_json::from_str(record.as_str())
            .map_err(|error| CeremonyRefusal::Malformed(format!("the record is not JSON: {error}")))?;
        let stored_id = text(&stored, "id")?;
        let stored_counter = stored
            .get("counter")
            .and_then(Value::as_u64)
            .ok_or_else(|| CeremonyRefusal::Malformed("the record has no counter".into()))?;
        let id = text(credential, "id")?;
        let counter = credential
            .get("counter")
            .and_then(Value::as_u64)
            .and_then(|counter| u32::try_from(counter).ok())
            .ok_or_else(|| CeremonyRefusal::Malformed("no 32-bit `counter`".into()))?;
        check_challenge_and_user_verification(state, credential)?;
        if id != stored_id {
            return Err(CeremonyRefusal::Failed("the credential is not the record's".into()));
        }
        if (counter != 0 || stored_counter != 0) && u64::from(counter) <= stored_counter {
            return Err(CeremonyRefusal::Failed(format!(
                "the counter did not go up ({counter} after {stored_counter}): a cloned authenticator?"
            )));
        }
        let updated_record = (u64::from(counter) != stored_counter).then(|| record_of(id, counter));
        Ok(VerifiedAssertion { updated_record, sign_count: counter })
    }
}

shared_fake_component!(FakeRelyingParty, PasskeyRelyingParty);

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(user_id: UserId) -> PasskeyHolder<'static> {
        PasskeyHolder { user_id, name: "ada@example.com", display_name: "Ada" }
    }

    #[test]
    fn a_registration_checks_challenge_and_user_verification() {
        let rp = FakeRelyingParty::new();
        let user = UserId::generate();
        let start = rp.start_registration(&holder(user), &[CredentialId::from_stored("old")]).expect("starts");
        assert_eq!(start.options["challenge"], start.state);
        assert_eq!(start.options["user"]["id"], user.to_string());
        assert_eq!(start.options["excludeCredentials"], json!(["old"]));
        let again = rp.start_registration(&holder(user), &[]).expect("starts");
        assert_ne!(again.state, start.state, "each challenge is fresh");

        let good = json!({ "challenge": start.state, "id": "key-1", "user_verified": true });
        let key = rp.finish_registration(&start.state, &good).expect("registers");
        assert_eq!(key.credential_id.as_str(), "key-1");
        assert_eq!(serde_json::from_str::<Value>(key.record.as_str()).ok(), Some(json!({"id": "key-1", "counter": 0})));

        let wrong = json!({ "challenge": again.state, "id": "key-1", "user_verified": true });
        assert!(matches!(rp.finish_registration(&start.state, &wrong), Err(CeremonyRefusal::Failed(_))));
        let unverified = json!({ "challenge": start.state, "id": "key-1", "user_verified": false });
        assert!(matches!(rp.finish_registration(&start.state, &unverified), Err(CeremonyRefusal::Failed(_))));
        for malformed in [
            json!({ "id": "key-1", "user_verified": true }),
            json!({ "challenge": start.state, "user_verified": true }),
            json!({ "challenge": start.state, "id": "", "user_verified": true }),
            json!({ "challenge": start.state, "id": "key-1" }),
            json!("not an object"),
        ] {
            assert!(matches!(rp.finish_registration(&start.state, &malformed), Err(CeremonyRefusal::Malformed(_))));
        }
    }

    #[test]
    fn a_sign_in_needs_the_counter_to_go_up_unless_both_are_zero() {
        let rp = FakeRelyingParty::new();
        let start = rp.start_sign_in().expect("starts");
        let answer = |id: &str, counter: u32| {
            json!({ "challenge": start.state, "user": UserId::generate().to_string(), "id": id,
                    "user_verified": true, "counter": counter })
        };
        assert_eq!(rp.identify(&answer("key-1", 0)).expect("identifies").1.as_str(), "key-1");
        assert!(matches!(rp.identify(&json!({ "user": "nobody", "id": "key-1" })), Err(CeremonyRefusal::Malformed(_))));

        let zero = rp.finish_sign_in(&start.state, &answer("key-1", 0), &record_of("key-1", 0)).expect("no counter");
        assert_eq!((zero.updated_record, zero.sign_count), (None, 0));
        let up = rp.finish_sign_in(&start.state, &answer("key-1", 5), &record_of("key-1", 0)).expect("goes up");
        assert_eq!((up.updated_record, up.sign_count), (Some(record_of("key-1", 5)), 5));
        for (counter, stored) in [(5, 5), (4, 5), (0, 5)] {
            let refused = rp.finish_sign_in(&start.state, &answer("key-1", counter), &record_of("key-1", stored));
            assert!(matches!(refused, Err(CeremonyRefusal::Failed(_))), "{counter} after {stored}");
        }
        let other_key = rp.finish_sign_in(&start.state, &answer("key-2", 1), &record_of("key-1", 0));
        assert!(matches!(other_key, Err(CeremonyRefusal::Failed(_))));
        let wrong_challenge = rp.finish_sign_in("another", &answer("key-1", 1), &record_of("key-1", 0));
        assert!(matches!(wrong_challenge, Err(CeremonyRefusal::Failed(_))));
    }

    #[test]
    fn a_disabled_one_starts_nothing_and_accepts_nothing() {
        let rp = FakeRelyingParty::disabled();
        assert!(!rp.is_enabled());
        assert!(FakeRelyingParty::default().is_enabled());
        assert!(matches!(rp.start_registration(&holder(UserId::generate()), &[]), Err(PortError::Internal(_))));
        assert!(matches!(rp.start_sign_in(), Err(PortError::Internal(_))));
        let answer = json!({ "challenge": "c", "id": "key-1", "user_verified": true, "counter": 1 });
        assert!(rp.finish_registration("c", &answer).is_err());
        assert!(rp.finish_sign_in("c", &answer, &record_of("key-1", 0)).is_err());
    }
}
