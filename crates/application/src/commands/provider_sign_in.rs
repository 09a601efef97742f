//! Sign-in through an upstream provider: start a flow (the authorization URL, the flow
//! stored by the hash of its `state`), then finish it on the callback (the code exchanged
//! for a verified identity, the account resolved, a session started or the identity linked).

use std::sync::Arc;

use portcullis_domain::{
    AuthMethod, AuthMethods, ExternalIdentity, FlowSecrets, OAuthFlow, OpaqueSecret, ProviderId, ProviderIdentity,
    Resolution, ResolutionFacts, SameSitePath, SessionMetadata, User, UserId, resolve,
};
use shaku::Component;

use super::{FirstFactorOutcome, IssuedTokens, SessionPolicy, after_first_factor};
use crate::ports::{
    AddUserError, AuthorizationRequest, Clock, CodeExchange, PortError, ProviderInfo, TokenService, UnitOfWork,
    UnitOfWorkFactory, UpstreamError, UpstreamProvider, UpstreamProviders,
};

/// Input of a flow's start.
#[derive(Clone, Debug)]
pub struct StartFlowCommand {
    /// The provider id from the path.
    pub provider: String,
    /// Where to go when the flow is done.
    pub next: SameSitePath,
    /// The signed-in user who links the provider to their account; `None` to sign in.
    pub linking_user: Option<UserId>,
}

/// A started flow: send the browser to `authorize_url` and give it `binding` as the
/// `oauth_flow` cookie.
#[derive(Clone, Debug)]
pub struct StartedFlow {
    /// The provider's authorization URL.
    pub authorize_url: String,
    /// The secret that binds the flow to this browser.
    pub binding: OpaqueSecret,
}

/// Why a flow did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartFlowError {
    /// No provider with that id is configured (`404 not_found`).
    #[error("no such provider")]
    UnknownProvider,
    /// The provider's endpoints could not be learnt (its discovery document).
    #[error("the provider cannot be reached")]
    ProviderUnavailable,
    /// A linking flow for a provider the user already has linked (`409 conflict`).
    #[error("this provider is already linked to the account")]
    AlreadyLinked,
    /// The linking user no longer exists.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A provider's callback, as it arrived.
#[derive(Clone, Debug)]
pub struct FinishFlowCommand {
    /// The provider id from the path.
    pub provider: String,
    /// The `code` parameter.
    pub code: Option<String>,
    /// The `state` parameter.
    pub state: Option<String>,
    /// The `error` parameter (`access_denied` when the person said no).
    pub error: Option<String>,
    /// The `iss` parameter (RFC 9207).
    pub issuer: Option<String>,
    /// The browser's `oauth_flow` cookie.
    pub binding: Option<OpaqueSecret>,
    /// Where the callback comes from, kept with a new session.
    pub metadata: SessionMetadata,
}

/// What a good callback did.
#[derive(Clone, Debug)]
pub enum FlowOutcome {
    /// A session started (sign-in, a new user, or a link by verified address).
    SignedIn {
        /// The new session's tokens (boxed: they are most of the outcome's size).
        tokens: Box<IssuedTokens>,
        /// Where to go now.
        next: String,
    },
    /// The user has TOTP: no session yet; the second step takes this token and a code.
    SecondStep {
        /// The single-use token of the second step.
        mfa_token: OpaqueSecret,
        /// Where to go once signed in.
        next: String,
    },
    /// A linking flow linked the identity to the signed-in user; no new session.
    Linked {
        /// Where to go now.
        next: String,
    },
}

/// Why a callback signed no one in. No session was started and nothing was linked.
#[derive(Debug, thiserror::Error)]
pub enum FinishFlowError {
    /// The person said no at the provider (`oauth_denied`).
    #[error("the sign-in was declined at the provider")]
    Denied,
    /// State, browser binding, expiry, code exchange, ID token, or the provider (`oauth_failed`).
    #[error("the sign-in with the provider failed")]
    Failed,
    /// Account resolution refused (`account_disabled`, `identity_taken`, `account_exists`,
    /// `email_unverified`).
    #[error("the account resolution refused the sign-in: {0:?}")]
    Refused(Resolution),
    /// Storage or signing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl FinishFlowError {
    /// The stable `/login?error=` code; `None` for a storage failure.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::Denied => Some("oauth_denied"),
            Self::Failed => Some("oauth_failed"),
            Self::Refused(resolution) => resolution.error_code().or(Some("oauth_failed")),
            Self::Port(_) => None,
        }
    }
}

/// Handles the provider sign-in commands.
#[derive(Component)]
#[shaku(interface = ProviderSignInUseCase)]
pub struct ProviderSignInHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    providers: Arc<dyn UpstreamProviders>,
    /// Refresh-token and session lifetimes of the sessions it starts.
    #[shaku(default)]
    policy: SessionPolicy,
}

/// Sign-in and linking through upstream providers. Implemented by [`ProviderSignInHandler`].
pub trait ProviderSignInUseCase: shaku::Interface {
    /// The configured providers, in configured order.
    fn providers(&self) -> Vec<ProviderInfo>;

    /// Starts a flow: fresh `state` and browser binding (the PKCE verifier and nonce derive
    /// from them), the provider's authorization URL, and the flow stored for
    /// [`FLOW_LIFETIME_SECONDS`](portcullis_domain::FLOW_LIFETIME_SECONDS) by the hashes.
    ///
    /// # Errors
    /// See [`StartFlowError`].
    fn start(&self, command: StartFlowCommand) -> Result<StartedFlow, StartFlowError>;

    /// Finishes a flow on its callback. The stored flow is spent first, whatever follows,
    /// so a callback works once.
    ///
    /// # Errors
    /// See [`FinishFlowError`].
    fn finish(&self, command: FinishFlowCommand) -> Result<FlowOutcome, FinishFlowError>;
}

impl ProviderSignInUseCase for ProviderSignInHandler {
    fn providers(&self) -> Vec<ProviderInfo> {
        self.providers.all()
    }

    fn start(&self, command: StartFlowCommand) -> Result<StartedFlow, StartFlowError> {
        let provider = self.providers.find(&command.provider).ok_or(StartFlowError::UnknownProvider)?;
        let id = provider.info().id.clone();
        if let Some(user_id) = command.linking_user {
            let mut unit = self.units.begin_read()?;
            if unit.users().find_by_id(user_id)?.is_none() {
                return Err(StartFlowError::UserGone);
            }
            if unit.identities().identities_of_user(user_id)?.iter().any(|identity| identity.provider == id) {
                return Err(StartFlowError::AlreadyLinked);
            }
            unit.commit()?;
        }
        let secrets = FlowSecrets { state: self.tokens.generate_secret(), binding: self.tokens.generate_secret() };
        let (verifier, nonce) = (secrets.pkce_verifier(), secrets.nonce());
        let request = AuthorizationRequest { state: secrets.state.expose(), pkce_verifier: &verifier, nonce: &nonce };
        let authorize_url = provider.authorization_url(&request).map_err(|error| {
            tracing::warn!(provider = %id, %error, "sign-in flow not started");
            StartFlowError::ProviderUnavailable
        })?;
        let flow = OAuthFlow::start(&secrets, id, command.next, command.linking_user, self.clock.now());
        let mut unit = self.units.begin()?;
        unit.oauth_flows().add(&flow)?;
        unit.commit()?;
        tracing::info!(provider = %flow.provider, linking = flow.linking_user.is_some(), "sign-in flow started");
        Ok(StartedFlow { authorize_url, binding: secrets.binding })
    }

    fn finish(&self, command: FinishFlowCommand) -> Result<FlowOutcome, FinishFlowError> {
        let provider = self.providers.find(&command.provider).ok_or(FinishFlowError::Failed)?;
        let id = provider.info().id.clone();
        let (flow, secrets) = self.spend_flow(&id, &command)?;
        if let Some(error) = &command.error {
            tracing::info!(provider = %id, error = %truncated(error), "provider sign-in declined");
            return Err(if error == "access_denied" { FinishFlowError::Denied } else { FinishFlowError::Failed });
        }
        let code = command.code.as_deref().ok_or(FinishFlowError::Failed)?;
        let (verifier, nonce) = (secrets.pkce_verifier(), secrets.nonce());
        let exchange =
            CodeExchange { code, pkce_verifier: &verifier, nonce: &nonce, issuer: command.issuer.as_deref() };
        let identity = provider.exchange(&exchange).map_err(|error| {
            match &error {
                UpstreamError::Unreachable(_) => tracing::warn!(provider = %id, %error, "provider sign-in failed"),
                UpstreamError::Refused(_) => tracing::info!(provider = %id, %error, "provider sign-in refused"),
            }
            FinishFlowError::Failed
        })?;
        if identity.provider != id {
            return Err(FinishFlowError::Failed);
        }
        self.resolve_and_apply(provider.as_ref(), &flow, &identity, command.metadata)
    }
}

impl ProviderSignInHandler {
    /// Takes the flow named by the callback's `state` (single use) and checks it belongs to
    /// this browser and provider and has not expired. The secrets are rebuilt from the
    /// callback: `state` and the cookie are the flow's two secrets.
    fn spend_flow(
        &self,
        provider: &ProviderId,
        command: &FinishFlowCommand,
    ) -> Result<(OAuthFlow, FlowSecrets), FinishFlowError> {
        let Some(state) = command.state.as_deref().filter(|state| !state.is_empty()) else {
            tracing::info!(provider = %provider, "provider callback without state");
            return Err(FinishFlowError::Failed);
        };
        let state = OpaqueSecret::presented(state);
        let mut unit = self.units.begin()?;
        let flow = unit.oauth_flows().take(&state.hash())?;
        unit.commit()?;
        let Some(flow) = flow else {
            tracing::info!(provider = %provider, "provider callback for an unknown or spent flow");
            return Err(FinishFlowError::Failed);
        };
        if let Err(mismatch) = flow.admit(provider, command.binding.as_ref(), self.clock.now()) {
            tracing::info!(provider = %provider, %mismatch, "provider callback refused");
            return Err(FinishFlowError::Failed);
        }
        let binding = command.binding.clone().ok_or(FinishFlowError::Failed)?;
        Ok((flow, FlowSecrets { state, binding }))
    }

    /// Account resolution (API.md steps 1–5) in one unit of work, then the session.
    fn resolve_and_apply(
        &self,
        provider: &dyn UpstreamProvider,
        flow: &OAuthFlow,
        identity: &ProviderIdentity,
        metadata: SessionMetadata,
    ) -> Result<FlowOutcome, FinishFlowError> {
        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let linked = unit.identities().find(&identity.provider, &identity.subject)?;
        let linked_owner = match linked {
            Some(linked) => unit.users().find_by_id(linked.user_id)?,
            None => None,
        };
        let linking_user = match flow.linking_user {
            Some(user_id) => Some(unit.users().find_by_id(user_id)?.ok_or(FinishFlowError::Failed)?),
            None => None,
        };
        let email_owner = match &identity.email {
            Some(email) => unit.users().find_by_email(email)?,
            None => None,
        };
        let facts = ResolutionFacts {
            linked_owner: linked_owner.as_ref(),
            linking_user: linking_user.as_ref(),
            email_owner: email_owner.as_ref(),
            policy: provider.info().linking,
        };
        let resolution = resolve(identity, facts);
        let next = flow.next.clone();
        let user = match resolution {
            Resolution::SignIn(_) => linked_owner,
            Resolution::LinkToCurrentUser(user_id) => {
                link(unit.as_mut(), user_id, identity, now)?;
                unit.commit()?;
                tracing::info!(%user_id, provider = %identity.provider, "provider identity linked");
                return Ok(FlowOutcome::Linked { next });
            }
            Resolution::AlreadyLinked(_) => return Ok(FlowOutcome::Linked { next }),
            Resolution::CreateUser => {
                let user = identity.new_user(now).ok_or(FinishFlowError::Refused(Resolution::EmailUnverified))?;
                match unit.users().add(&user) {
                    Ok(()) => {}
                    // Someone signed up with the address meanwhile.
                    Err(AddUserError::EmailTaken) => return Err(FinishFlowError::Refused(Resolution::AccountExists)),
                    Err(AddUserError::Port(error)) => return Err(error.into()),
                }
                link(unit.as_mut(), user.id, identity, now)?;
                tracing::info!(user_id = %user.id, provider = %identity.provider, "user created by a provider sign-in");
                Some(user)
            }
            Resolution::LinkAndSignIn(user_id) => {
                link(unit.as_mut(), user_id, identity, now)?;
                tracing::info!(%user_id, provider = %identity.provider, "provider identity linked by verified address");
                email_owner
            }
            refused => {
                tracing::info!(provider = %identity.provider, code = ?refused.error_code(), "provider sign-in refused");
                return Err(FinishFlowError::Refused(refused));
            }
        };
        unit.commit()?;
        let user: User = user.ok_or(FinishFlowError::Failed)?;
        let methods = AuthMethods::only(AuthMethod::Federated);
        let units = self.units.as_ref();
        match after_first_factor(units, self.tokens.as_ref(), &self.policy, &user, methods, metadata, now)? {
            FirstFactorOutcome::Session(tokens) => Ok(FlowOutcome::SignedIn { tokens, next }),
            FirstFactorOutcome::SecondStep(mfa_token) => Ok(FlowOutcome::SecondStep { mfa_token, next }),
        }
    }
}

/// Links `identity` to `user_id`; a link another transaction made meanwhile (the identity
/// is someone else's now, or the user linked this provider) refuses with `identity_taken`.
fn link(
    unit: &mut dyn UnitOfWork,
    user_id: UserId,
    identity: &ProviderIdentity,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), FinishFlowError> {
    if unit.identities().link(&ExternalIdentity::link(user_id, identity, now))? {
        Ok(())
    } else {
        Err(FinishFlowError::Refused(Resolution::IdentityTaken))
    }
}

/// At most 64 characters of a provider's `error` parameter, for the log.
fn truncated(value: &str) -> String {
    value.chars().take(64).filter(|c| !c.is_control()).collect()
}
