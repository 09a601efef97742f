//! The second factors of one in-memory unit of work.

use std::collections::BTreeSet;

use portcullis_domain::{MfaChallenge, SecretHash, TotpCredential, UserId};

use super::State;
use crate::ports::{PortError, SecondFactorRepository};

/// TOTP credentials, recovery codes and challenges of one unit of work.
pub(super) struct InMemorySecondFactors<'a> {
    pub(super) state: &'a mut State,
    pub(super) dirty: &'a mut bool,
}

impl SecondFactorRepository for InMemorySecondFactors<'_> {
    fn totp(&mut self, user_id: UserId) -> Result<Option<TotpCredential>, PortError> {
        Ok(self.state.totp.get(&user_id).cloned())
    }

    fn save_totp(&mut self, credential: &TotpCredential) -> Result<(), PortError> {
        *self.dirty = true;
        self.state.totp.insert(credential.user_id, credential.clone());
        Ok(())
    }

    fn delete_totp(&mut self, user_id: UserId) -> Result<bool, PortError> {
        *self.dirty = true;
        self.state.recovery_codes.remove(&user_id);
        Ok(self.state.totp.remove(&user_id).is_some())
    }

    fn spend_totp_step(&mut self, user_id: UserId, step: u64) -> Result<bool, PortError> {
        let Some(credential) = self.state.totp.get_mut(&user_id) else { return Ok(false) };
        if credential.last_used_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        credential.last_used_step = Some(step);
        *self.dirty = true;
        Ok(true)
    }

    fn replace_recovery_codes(&mut self, user_id: UserId, hashes: &[SecretHash]) -> Result<(), PortError> {
        *self.dirty = true;
        let codes: BTreeSet<String> = hashes.iter().map(|hash| hash.as_str().to_owned()).collect();
        self.state.recovery_codes.insert(user_id, codes);
        Ok(())
    }

    fn spend_recovery_code(&mut self, user_id: UserId, hash: &SecretHash) -> Result<bool, PortError> {
        let spent = self.state.recovery_codes.get_mut(&user_id).is_some_and(|codes| codes.remove(hash.as_str()));
        if spent {
            *self.dirty = true;
        }
        Ok(spent)
    }

    fn recovery_codes_left(&mut self, user_id: UserId) -> Result<u32, PortError> {
        let left = self.state.recovery_codes.get(&user_id).map_or(0, BTreeSet::len);
        Ok(u32::try_from(left).unwrap_or(u32::MAX))
    }

    fn add_challenge(&mut self, challenge: &MfaChallenge) -> Result<(), PortError> {
        *self.dirty = true;
        self.state.mfa_challenges.insert(challenge.token_hash.as_str().to_owned(), challenge.clone());
        Ok(())
    }

    fn find_challenge(&mut self, token_hash: &SecretHash) -> Result<Option<MfaChallenge>, PortError> {
        Ok(self.state.mfa_challenges.get(token_hash.as_str()).cloned())
    }

    fn count_challenge_failure(&mut self, token_hash: &SecretHash) -> Result<Option<u32>, PortError> {
        let Some(challenge) = self.state.mfa_challenges.get_mut(token_hash.as_str()) else { return Ok(None) };
        challenge.failures += 1;
        *self.dirty = true;
        Ok(Some(challenge.failures))
    }

    fn take_challenge(&mut self, token_hash: &SecretHash) -> Result<bool, PortError> {
        let taken = self.state.mfa_challenges.remove(token_hash.as_str()).is_some();
        if taken {
            *self.dirty = true;
        }
        Ok(taken)
    }
}
