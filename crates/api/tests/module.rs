//! The production shaku module builds with every parameter set, and resolves each interface.

use std::sync::{Arc, RwLock};

use chrono::Utc;
use portcullis_api::{Infrastructure, build_module};
use portcullis_application::ports::Mailer;
use portcullis_application::ports::{
    Clock, DatabaseProbe, LockoutStore, PasswordHasher, PasswordPolicy, RateLimiter, TokenService, UnitOfWorkFactory,
};
use portcullis_application::{
    AccountMail, AdminUseCase, ApiKeysUseCase, ChangePasswordUseCase, DeleteAccountUseCase, ForgotPasswordUseCase,
    GetCurrentUserUseCase, IntrospectUseCase, LoginUseCase, LogoutUseCase, RefreshUseCase, ResendVerificationUseCase,
    ResetPasswordUseCase, SessionPolicy, SessionsUseCase, SignupUseCase, UpdateProfileUseCase, VerifyEmailUseCase,
};
use portcullis_domain::{
    BcryptCost, Email, LockoutPolicy, MinPasswordScore, PlainPassword, RateQuota, UserId, UserName, WeakPassword,
};
use portcullis_infrastructure::hashing::HashingPool;
use portcullis_infrastructure::mail::{MailSettings, MailTransport, build_mailer};
use portcullis_infrastructure::persistence::{PoolSettings, connect, run_migrations};
use portcullis_infrastructure::tokens::{JwksSource, TokenSettings, ensure_signing_key, load_key_ring};
use shaku::HasComponent;

#[test]
fn production_module_builds_and_resolves_every_component() {
    let dir = std::env::temp_dir().join(format!("portcullis-module-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("module.db").display());
    let pool = connect(&url, PoolSettings::default()).expect("sqlite opens");
    assert!(run_migrations(&pool).expect("migrates") >= 2, "the foundation and the abuse limits");
    ensure_signing_key(&pool, Utc::now()).expect("key");
    let keys = Arc::new(RwLock::new(Arc::new(load_key_ring(&pool).expect("ring"))));
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
        min_password_score: MinPasswordScore::DEFAULT,
        rate_limit: RateQuota::per_minute(2),
        lockout: LockoutPolicy::default(),
        mail: build_mailer(&MailSettings {
            from: "Portcullis <no-reply@localhost>".into(),
            transport: MailTransport::Directory(dir.join("mail")),
        })
        .expect("mail folder"),
        public_url: "http://localhost:8080".into(),
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
    let _: Arc<dyn LogoutUseCase> = module.resolve();
    let _: Arc<dyn UpdateProfileUseCase> = module.resolve();
    let _: Arc<dyn GetCurrentUserUseCase> = module.resolve();
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
    let _: Arc<dyn Mailer> = module.resolve();
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
    let _ = std::fs::remove_dir_all(&dir);
}
