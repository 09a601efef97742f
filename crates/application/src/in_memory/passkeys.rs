//! The passkeys and passkey ceremonies of one in-memory unit of work.

use portcullis_domain::{CredentialId, Passkey, PasskeyCeremony, PasskeyId, PasskeyName, SecretHash, UserId};

use super::State;
use crate::ports::{PasskeyRepository, PasskeyUse, PortError};

/// Passkeys and ceremonies of one unit of work.
pub(super) struct InMemoryPasskeys<'a> {
    pub(super) state: &'a mut State,
    pub(super) dirty: &'a mut bool,
}

impl PasskeyRepository for InMemoryPasskeys<'_> {
    fn add(&mut self, passkey: &Passkey) -> Result<bool, PortError> {
        if self.state.passkeys.values().any(|known| known.credential_id == passkey.credential_id) {
            return Ok(false);
        }
        self.state.passkeys.insert(passkey.id, passkey.clone());
        *self.dirty = true;
        Ok(true)
    }

    fn of_user(&mut self, user_id: UserId) -> Result<Vec<Passkey>, PortError> {
        let mut passkeys: Vec<Passkey> =
            self.state.passkeys.values().filter(|passkey| passkey.user_id == user_id).cloned().collect();
        passkeys.sort_by_key(|passkey| (passkey.created_at, passkey.id));
        Ok(passkeys)
    }

    fn by_credential_id(&mut self, credential_id: &CredentialId) -> Result<Option<Passkey>, PortError> {
        Ok(self.state.passkeys.values().find(|passkey| &passkey.credential_id == credential_id).cloned())
    }

    fn record_use(&mut self, change: &PasskeyUse<'_>) -> Result<bool, PortError> {
        let Some(passkey) = self.state.passkeys.get_mut(&change.id) else { return Ok(false) };
        if passkey.sign_count != change.previous_count {
            return Ok(false);
        }
        passkey.sign_count = change.sign_count;
        if let Some(record) = change.record {
            passkey.record = record.clone();
        }
        passkey.last_used_at = Some(portcullis_domain::whole_seconds(change.at));
        *self.dirty = true;
        Ok(true)
    }

    fn rename(&mut self, user_id: UserId, id: PasskeyId, name: &PasskeyName) -> Result<bool, PortError> {
        let Some(passkey) = self.state.passkeys.get_mut(&id).filter(|passkey| passkey.user_id == user_id) else {
            return Ok(false);
        };
        passkey.name = name.clone();
        *self.dirty = true;
        Ok(true)
    }

    fn delete(&mut self, user_id: UserId, id: PasskeyId) -> Result<bool, PortError> {
        if self.state.passkeys.get(&id).is_none_or(|passkey| passkey.user_id != user_id) {
            return Ok(false);
        }
        self.state.passkeys.remove(&id);
        *self.dirty = true;
        Ok(true)
    }

    fn delete_all_of_user(&mut self, user_id: UserId) -> Result<usize, PortError> {
        let before = self.state.passkeys.len();
        self.state.passkeys.retain(|_, passkey| passkey.user_id != user_id);
        let removed = before - self.state.passkeys.len();
        if removed > 0 {
            *self.dirty = true;
        }
        Ok(removed)
    }

    fn add_ceremony(&mut self, ceremony: &PasskeyCeremony) -> Result<(), PortError> {
        self.state.passkey_ceremonies.insert(ceremony.id_hash.as_str().to_owned(), ceremony.clone());
        *self.dirty = true;
        Ok(())
    }

    fn take_ceremony(&mut self, id_hash: &SecretHash) -> Result<Option<PasskeyCeremony>, PortError> {
        let taken = self.state.passkey_ceremonies.remove(id_hash.as_str());
        if taken.is_some() {
            *self.dirty = true;
        }
        Ok(taken)
    }
}
