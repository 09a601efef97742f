//! The production shaku module builds with every parameter set, and resolves each interface.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use portcullis_application::ports::{
    Clock, DatabaseProbe, JwksSource, KeyRingReloader, LockoutStore, PasswordHasher, PasswordPolicy, RateLimiter,
    ResourceMonitor, TokenService, UnitOfWorkFactory,
};
use portcullis_application::{
    AccountMail, AdminUseCase, ApiKeysUseCase, ChangePasswordUseCase, DeleteAccountUseCase, ForgotPasswordUseCase,
    IntrospectUseCase, LoginUseCase, LogoutUseCase, RefreshUseCase, ResendVerificationUseCase, ResetPasswordUseCase,
    SessionPolicy, SessionsUseCase, SignupUseCase, UpdateProfileUseCase, VerifyAccessTokenUseCase, VerifyEmailUseCase,
};
use portcullis_domain::{
    BcryptCost, Email, LockoutPolicy, MinPasswordScore, PlainPassword, RateQuota, UserId, UserName, WeakPassword,
};
use portcullis_infrastructure::hashing::HashingPool;
use portcullis_infrastructure::persistence::{PoolSettings, connect, run_migrations};
use portcullis_infrastructure::tokens::{TokenSettings, ensure_signing_key, load_key_ring};
use portcullis_service::config::Config;
use portcullis_service::{Infrastructure, Service, build_module};
use shaku::HasComponent;

#[test]
fn production_module_builds_and_resolves_every_component() {
    let dir = std::env::temp_dir().join(format!("portcullis-module-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("module.db").display());
    let pool = connect(&url, PoolSettings::default()).expect("sqlite opens");
    assert!(run_migrations(&pool).expect("migrates") >= 2, "the foundation and the abuse limits");
    ensure_signing_key(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext(), Utc::now()).expect("key");
    let keys = Arc::new(RwLock::new(Arc::new(
        load_key_ring(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext()).expect("ring"),
    )));
    let module = build_module(Infrastructure {
        pool,
        keys,
        hashing: HashingPool::start(1, 4, BcryptCost::new(4).expect("cost")).expect("pool"),
        token_settings: TokenSettings {
            issuer: "http://localhost:8080".into(),
            audience: "portcullis".into(),
            access_ttl: chrono::Duration::minutes(15),
        },
        session_policy: SessionPolicy::default(),
        reauth: portcullis_application::ReauthWindow::default(),
        min_password_score: MinPasswordScore::DEFAULT,
        rate_limit: RateQuota::per_minute(2),
        lockout: LockoutPolicy::default(),
        mail: portcullis_infrastructure::mail::MailStats::default(),
        outbox_signal: portcullis_infrastructure::mail::OutboxSignal::default(),
        public_url: "http://localhost:8080".into(),
        providers: portcullis_infrastructure::upstream::ConfiguredProviders::default(),
        database_file: portcullis_infrastructure::persistence::DatabaseFile::default(),
        passkeys: portcullis_infrastructure::passkeys::RelyingPartyConfig::for_public_url(
            &url::Url::parse("http://localhost:8080").expect("a URL"),
        )
        .expect("localhost is a name"),
        sealer: portcullis_infrastructure::sealing::SecretSealer::cleartext(),
    });

    let _: Arc<dyn UnitOfWorkFactory> = module.resolve();
    let _: Arc<dyn PasswordHasher> = module.resolve();
    let _: Arc<dyn Clock> = module.resolve();
    let passwords: Arc<dyn PasswordPolicy> = module.resolve();
    let name = UserName::parse("Ada").expect("valid name");
    let email = Email::parse("ada@example.com").expect("valid email");
    let common = PlainPassword::parse("password123").expect("long enough");
    assert_eq!(passwords.check(&common, &name, &email), Err(WeakPassword::Common));
    let _: Arc<dyn SignupUseCase> = module.resolve();
    let _: Arc<dyn LoginUseCase> = module.resolve();
    let _: Arc<dyn RefreshUseCase> = module.resolve();
    let passkeys: Arc<dyn portcullis_application::PasskeysUseCase> = module.resolve();
    assert!(passkeys.enabled(), "the relying party of the public URL is wired in");
    let _: Arc<dyn portcullis_application::PasskeySignInUseCase> = module.resolve();
    let _: Arc<dyn LogoutUseCase> = module.resolve();
    let _: Arc<dyn UpdateProfileUseCase> = module.resolve();
    let _: Arc<dyn VerifyAccessTokenUseCase> = module.resolve();
    let _: Arc<dyn SessionsUseCase> = module.resolve();
    let _: Arc<dyn AdminUseCase> = module.resolve();
    let _: Arc<dyn ApiKeysUseCase> = module.resolve();
    let _: Arc<dyn IntrospectUseCase> = module.resolve();
    let _: Arc<dyn VerifyEmailUseCase> = module.resolve();
    let _: Arc<dyn ResendVerificationUseCase> = module.resolve();
    let _: Arc<dyn ChangePasswordUseCase> = module.resolve();
    let _: Arc<dyn ForgotPasswordUseCase> = module.resolve();
    let _: Arc<dyn ResetPasswordUseCase> = module.resolve();
    let _: Arc<dyn DeleteAccountUseCase> = module.resolve();
    let _: Arc<dyn AccountMail> = module.resolve();
    let probe: Arc<dyn DatabaseProbe> = module.resolve();
    probe.check().expect("database answers");
    let jwks: Arc<dyn JwksSource> = module.resolve();
    assert!(jwks.jwks_json().contains("\"crv\":\"Ed25519\""));
    let limiter: Arc<dyn RateLimiter> = module.resolve();
    assert!(limiter.is_active());
    let now = Utc::now();
    let allowed: Vec<bool> =
        (0..3).map(|_| limiter.check("login", "192.0.2.1", now).expect("counts").is_allowed()).collect();
    assert_eq!(allowed, [true, true, false], "two a minute, counted in the database");
    let lockouts: Arc<dyn LockoutStore> = module.resolve();
    assert_eq!(lockouts.record(UserId::generate()).expect("reads"), Default::default());
    let tokens: Arc<dyn TokenService> = module.resolve();
    assert_eq!(tokens.generate_secret().expose().len(), 43);
    let reloader: Arc<dyn KeyRingReloader> = module.resolve();
    reloader.reload().expect("keys re-read");
    let resources: Arc<dyn ResourceMonitor> = module.resolve();
    let reading = resources.read();
    assert!(reading.db_max_connections > 0 && reading.db_connections <= reading.db_max_connections, "{reading:?}");
    assert_eq!(reading.mail_queue_depth, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_service_starts_from_a_config_and_hands_out_every_use_case_and_port() {
    let dir = std::env::temp_dir().join(format!("portcullis-service-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("service.db").display()),
        mail_dir: dir.join("mail").display().to_string(),
        bcrypt_cost: BcryptCost::MIN,
        ..Config::default()
    };
    let service = Service::start(&config).expect("starts on a fresh SQLite file");
    let ports = service.ports();
    ports.database.check().expect("database answers");
    ports.key_reloader.reload().expect("keys re-read");
    assert!(ports.jwks.jwks_json().contains("\"kid\""));
    assert_eq!(ports.resources.read().hashing_queue_depth, 0);
    let mut unit = ports.units.begin_read().expect("a read unit");
    assert_eq!(unit.users().count_active_admins().expect("counts"), 0);
    drop(unit);
    let token = service
        .use_cases()
        .verify_access_token
        .handle(portcullis_application::VerifyAccessToken { access_token: "not-a-token" });
    assert!(token.is_err(), "garbage is refused");
    let report = service.housekeeper().run_now().expect("housekeeping runs");
    assert_eq!(report, Default::default(), "nothing to sweep in a fresh database");
    assert!(service.shutdown(std::time::Duration::from_secs(5)), "no mail left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
