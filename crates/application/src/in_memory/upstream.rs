//! Scripted upstream providers for handler tests: no network, the identity a code exchange
//! yields set by the test.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use portcullis_domain::{LinkingPolicy, ProviderId, ProviderIdentity};

use super::lock;
use crate::ports::{
    AuthorizationRequest, CodeExchange, ProviderInfo, UpstreamError, UpstreamProvider, UpstreamProviders,
};

/// One scripted provider. Its authorization URL is `https://{id}.example/authorize?state=…`
/// with the challenge input and nonce in the query, so a test can read them back; an
/// exchange answers what [`FakeUpstream::answer`] set, after checking the code is `good`
/// and the verifier and nonce are those of the flow's authorization request.
#[derive(Clone, Debug)]
pub struct FakeUpstream {
    info: ProviderInfo,
    inner: Arc<Mutex<Script>>,
}

#[derive(Debug)]
struct Script {
    answer: Result<ProviderIdentity, UpstreamError>,
    unreachable: bool,
    /// state → (verifier, nonce) of each authorization URL made.
    requests: BTreeMap<String, (String, String)>,
    exchanges: u64,
}

impl FakeUpstream {
    /// A provider `id` with `linking`, whose exchanges fail until [`answer`](Self::answer).
    ///
    /// # Panics
    /// If `id` is not a valid provider id.
    pub fn new(id: &str, linking: LinkingPolicy) -> Self {
        let id = ProviderId::parse(id).expect("a valid provider id");
        let info = ProviderInfo { name: id.as_str().to_uppercase(), id, linking };
        let script = Script {
            answer: Err(UpstreamError::Refused("no answer scripted".to_owned())),
            unreachable: false,
            requests: BTreeMap::new(),
            exchanges: 0,
        };
        Self { info, inner: Arc::new(Mutex::new(script)) }
    }

    /// What the next exchanges yield.
    pub fn answer(&self, answer: Result<ProviderIdentity, UpstreamError>) {
        lock(&self.inner).answer = answer;
    }

    /// While set, authorization URLs cannot be made (an unreachable discovery document).
    pub fn set_unreachable(&self, unreachable: bool) {
        lock(&self.inner).unreachable = unreachable;
    }

    /// How many exchanges were attempted.
    pub fn exchanges(&self) -> u64 {
        lock(&self.inner).exchanges
    }
}

impl UpstreamProvider for FakeUpstream {
    fn info(&self) -> &ProviderInfo {
        &self.info
    }

    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<String, UpstreamError> {
        let mut script = lock(&self.inner);
        if script.unreachable {
            return Err(UpstreamError::Unreachable("switched to unreachable".to_owned()));
        }
        let secrets = (request.pkce_verifier.expose().to_owned(), request.nonce.expose().to_owned());
        script.requests.insert(request.state.to_owned(), secrets);
        Ok(format!("https://{}.example/authorize?state={}", self.info.id, request.state))
    }

    fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderIdentity, UpstreamError> {
        let mut script = lock(&self.inner);
        script.exchanges += 1;
        let known = script
            .requests
            .values()
            .any(|(verifier, nonce)| verifier == exchange.pkce_verifier.expose() && nonce == exchange.nonce.expose());
        if exchange.code != "good" || !known {
            return Err(UpstreamError::Refused("bad code, verifier or nonce".to_owned()));
        }
        script.answer.clone()
    }
}

/// A set of [`FakeUpstream`]s, in the order given.
#[derive(Clone, Debug, Default)]
pub struct FakeUpstreams {
    providers: Vec<FakeUpstream>,
}

impl FakeUpstreams {
    /// These providers.
    pub fn new(providers: Vec<FakeUpstream>) -> Self {
        Self { providers }
    }
}

impl UpstreamProviders for FakeUpstreams {
    fn all(&self) -> Vec<ProviderInfo> {
        self.providers.iter().map(|provider| provider.info.clone()).collect()
    }

    fn find(&self, id: &str) -> Option<Arc<dyn UpstreamProvider>> {
        self.providers
            .iter()
            .find(|provider| provider.info.id.as_str() == id)
            .map(|provider| Arc::new(provider.clone()) as Arc<dyn UpstreamProvider>)
    }
}

shared_fake_component!(FakeUpstreams, UpstreamProviders);
