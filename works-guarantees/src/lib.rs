//! Tests of the guarantees Anthropy Works makes, run over the core facade on every
//! store backend. The tests live in `tests/`; this library holds their fixtures: a
//! world of two customer organizations with a user of every role, signed in for real.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use works_core::{
    Actor, ApiToken, Bootstrap, CoreConfig, LoginInput, ManualClock, NewOrg, NewToken, NewUser, Org, Role, SessionKind,
    Store, User, Works,
};

pub const ADMIN_PASSWORD: &str = "first-admin-password";
pub const USER_PASSWORD: &str = "a-long-user-password";

/// A store to run a test on, and what keeps it alive.
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store always; a fresh PostgreSQL database when the test run has one
/// (`WORKS_TEST_POSTGRES_URL`; under `CI=true` its absence fails the run).
pub async fn backends() -> Vec<Backend> {
    let (dir, store, url) = works_store::testing::fresh_sqlite().await;
    let mut out = vec![Backend { name: "sqlite", store, url, _dir: Some(dir) }];
    if let Some((store, url)) = works_store::testing::fresh_postgres().await {
        out.push(Backend { name: "postgres", store, url, _dir: None });
    }
    out
}

/// One signed-in person of the fixture world.
#[derive(Clone)]
pub struct Person {
    pub user: User,
    pub actor: Actor,
    pub token: ApiToken,
}

/// Two organizations, A and B, each with an admin and two users; the MSP admin and an
/// MSP operator. Everyone is signed in through `login` and `authenticate`.
pub struct World {
    pub works: Works,
    pub clock: Arc<ManualClock>,
    pub org_a: Org,
    pub org_b: Org,
    pub msp_admin: Person,
    pub msp_operator: Person,
    pub a_admin: Person,
    pub a_user: Person,
    pub a_user2: Person,
    pub b_admin: Person,
    pub b_user: Person,
}

impl World {
    pub async fn build(store: Arc<dyn Store>) -> World {
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).single().unwrap_or_default()));
        let works = Works::new(store).with_clock(clock.clone()).with_config(CoreConfig::default()).with_master_key(&works_store::testing::test_master_key());
        let boot = works.bootstrap(Some(ADMIN_PASSWORD.into())).await.unwrap_or_else(|e| panic!("bootstrap: {e}"));
        assert_eq!(boot, Bootstrap::CreatedWithGivenPassword);
        let msp_admin = sign_in(&works, "admin", ADMIN_PASSWORD).await;
        let org_a = works.org_create(&msp_admin.actor, NewOrg { name: "Acme Dental".into() }).await.unwrap_or_else(|e| panic!("{e}"));
        let org_b = works.org_create(&msp_admin.actor, NewOrg { name: "Bolt Logistics".into() }).await.unwrap_or_else(|e| panic!("{e}"));
        let mk = |username: &'static str, role: Role, org: Option<&Org>| {
            let works = works.clone();
            let admin = msp_admin.actor.clone();
            let org_id = org.map(|o| o.id.clone());
            async move {
                works
                    .user_create(
                        &admin,
                        NewUser {
                            username: username.into(),
                            display_name: None,
                            role,
                            org_id,
                            password: USER_PASSWORD.into(),
                        },
                    )
                    .await
                    .unwrap_or_else(|e| panic!("create {username}: {e}"));
                sign_in(&works, username, USER_PASSWORD).await
            }
        };
        let msp_operator = mk("operator", Role::MspOperator, None).await;
        let a_admin = mk("a-admin", Role::OrgAdmin, Some(&org_a)).await;
        let a_user = mk("a-user", Role::OrgUser, Some(&org_a)).await;
        let a_user2 = mk("a-user2", Role::OrgUser, Some(&org_a)).await;
        let b_admin = mk("b-admin", Role::OrgAdmin, Some(&org_b)).await;
        let b_user = mk("b-user", Role::OrgUser, Some(&org_b)).await;
        World { works, clock, org_a, org_b, msp_admin, msp_operator, a_admin, a_user, a_user2, b_admin, b_user }
    }

    /// Everyone, with a label for failure messages.
    pub fn people(&self) -> Vec<(&'static str, &Person)> {
        vec![
            ("msp_admin", &self.msp_admin),
            ("msp_operator", &self.msp_operator),
            ("a_admin", &self.a_admin),
            ("a_user", &self.a_user),
            ("a_user2", &self.a_user2),
            ("b_admin", &self.b_admin),
            ("b_user", &self.b_user),
        ]
    }
}

/// Signs in through the real login path, resolves the session to an actor, and makes
/// an API token of the person's own.
pub async fn sign_in(works: &Works, username: &str, password: &str) -> Person {
    let login = works
        .login(LoginInput { username: username.into(), password: password.into() }, SessionKind::Api)
        .await
        .unwrap_or_else(|e| panic!("login {username}: {e}"));
    let actor = works.authenticate(&login.token).await.unwrap_or_else(|e| panic!("authenticate {username}: {e}"));
    let token = works
        .token_create(&actor, NewToken { name: format!("{username} automation"), expires_in_days: None })
        .await
        .unwrap_or_else(|e| panic!("token for {username}: {e}"))
        .info;
    Person { user: login.user, actor, token }
}
