//! The tenancy matrix: every operation, by each of the four roles, against the records
//! of another organization. Reads of foreign records answer exactly like missing ones;
//! foreign writes are refused and the refusal is in the audit log; lists hold exactly
//! the permitted set. Runs on SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use works_core::{
    Actor, AuditQuery, Error, NewUser, OrgQuery, Outcome, RenameOrg, ResetPassword, Role, TokenQuery, UserQuery,
    UserUpdate,
};
use works_guarantees::{backends, World, USER_PASSWORD};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    OrgGet,
    OrgRename,
    OrgArchive,
    UserGet,
    UserUpdate,
    UserDisable,
    UserEnable,
    UserResetPassword,
    UserCreateInOrg,
    TokenList,
    TokenRevoke,
}

impl Op {
    fn action(self) -> &'static str {
        match self {
            Op::OrgGet => "org.get",
            Op::OrgRename => "org.rename",
            Op::OrgArchive => "org.archive",
            Op::UserGet => "user.get",
            Op::UserUpdate => "user.update",
            Op::UserDisable => "user.disable",
            Op::UserEnable => "user.enable",
            Op::UserResetPassword => "user.reset_password",
            Op::UserCreateInOrg => "user.create",
            Op::TokenList => "token.list",
            Op::TokenRevoke => "token.revoke",
        }
    }
}

/// What an operation should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    NotFound,
    Forbidden,
}

/// The target id of an operation aimed at organization B, and the id of a record that
/// does not exist, of the same kind.
fn targets(w: &World, op: Op) -> (String, String) {
    let missing = "0192f0a3-7c1b-7d2e-9f00-aabbccddeeff".to_owned();
    let id = match op {
        Op::OrgGet | Op::OrgRename | Op::OrgArchive | Op::UserCreateInOrg => w.org_b.id.clone(),
        Op::TokenRevoke => w.b_user.token.id.clone(),
        _ => w.b_user.user.id.clone(),
    };
    (id, missing)
}

async fn attempt(w: &World, who: &Actor, op: Op, id: &str) -> Result<(), Error> {
    let x = &w.works;
    match op {
        Op::OrgGet => x.org_get(who, id).await.map(drop),
        Op::OrgRename => x.org_rename(who, id, RenameOrg { name: "Taken Over".into() }).await.map(drop),
        Op::OrgArchive => x.org_archive(who, id).await.map(drop),
        Op::UserGet => x.user_get(who, id).await.map(drop),
        Op::UserUpdate => x.user_update(who, id, UserUpdate { display_name: Some("Renamed".into()), ..Default::default() }).await.map(drop),
        Op::UserDisable => x.user_disable(who, id).await.map(drop),
        Op::UserEnable => x.user_enable(who, id).await.map(drop),
        Op::UserResetPassword => x.user_reset_password(who, id, ResetPassword { new_password: None }).await.map(drop),
        Op::UserCreateInOrg => x
            .user_create(
                who,
                NewUser {
                    username: format!("planted-{}", &who.id[who.id.len() - 6..]),
                    display_name: None,
                    role: Role::OrgAdmin,
                    org_id: Some(id.to_owned()),
                    password: USER_PASSWORD.into(),
                },
            )
            .await
            .map(drop),
        Op::TokenList => x.token_list(who, TokenQuery { user_id: Some(id.to_owned()), ..Default::default() }).await.map(drop),
        Op::TokenRevoke => x.token_revoke(who, id).await.map(drop),
    }
}

fn classify(r: &Result<(), Error>) -> Expect {
    match r {
        Ok(()) => Expect::Allowed,
        Err(Error::NotFound { .. }) => Expect::NotFound,
        Err(Error::Forbidden { .. }) => Expect::Forbidden,
        Err(e) => panic!("unexpected error kind {}: {e}", e.kind()),
    }
}

/// Expected answers for (msp_operator, a_admin, a_user) aimed at organization B.
/// (The MSP admin's writes are allowed; they are checked by `msp_admin_may_do_everything`.)
const MATRIX: &[(Op, [Expect; 3])] = {
    use Expect::*;
    &[
        (Op::OrgGet, [Allowed, NotFound, NotFound]),
        (Op::UserGet, [Allowed, NotFound, NotFound]),
        (Op::TokenList, [Forbidden, NotFound, NotFound]),
        (Op::OrgRename, [Forbidden, NotFound, NotFound]),
        (Op::OrgArchive, [Forbidden, NotFound, NotFound]),
        (Op::UserUpdate, [Forbidden, NotFound, NotFound]),
        (Op::UserDisable, [Forbidden, NotFound, NotFound]),
        (Op::UserEnable, [Forbidden, NotFound, NotFound]),
        (Op::UserResetPassword, [Forbidden, NotFound, NotFound]),
        (Op::UserCreateInOrg, [Forbidden, Forbidden, Forbidden]),
        (Op::TokenRevoke, [NotFound, NotFound, NotFound]),
    ]
};

#[tokio::test]
async fn every_role_against_another_organization() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let roles: [(&str, &Actor); 3] =
            [("msp_operator", &w.msp_operator.actor), ("a_admin", &w.a_admin.actor), ("a_user", &w.a_user.actor)];
        for (op, expected) in MATRIX {
            let (foreign, missing) = targets(&w, *op);
            for ((role, actor), want) in roles.iter().zip(expected.iter()) {
                let got = attempt(&w, actor, *op, &foreign).await;
                assert_eq!(classify(&got), *want, "[{}] {role} {op:?} on organization B: {got:?}", backend.name);
                if *want == Expect::NotFound {
                    // Exactly the answer for a record that does not exist at all.
                    let absent = attempt(&w, actor, *op, &missing).await;
                    let (Err(Error::NotFound { what: w1, id: i1 }), Err(Error::NotFound { what: w2, id: i2 })) = (&got, &absent)
                    else {
                        panic!("[{}] {role} {op:?}: expected two not-found answers, got {got:?} and {absent:?}", backend.name)
                    };
                    assert_eq!(w1, w2, "[{}] {role} {op:?}: foreign and missing name different kinds", backend.name);
                    assert_eq!((i1.as_str(), i2.as_str()), (foreign.as_str(), missing.as_str()));
                }
                if *want != Expect::Allowed {
                    let refusals = w
                        .works
                        .audit_query(
                            &w.msp_admin.actor,
                            AuditQuery {
                                actor_id: Some(actor.id.clone()),
                                action: Some(op.action().into()),
                                // A refused create has no target record yet.
                                target_id: (*op != Op::UserCreateInOrg).then(|| foreign.clone()),
                                outcome: Some(Outcome::Denied),
                                ..Default::default()
                            },
                        )
                        .await
                        .unwrap();
                    assert!(
                        !refusals.records.is_empty(),
                        "[{}] {role} {op:?}: the refusal is not in the audit log",
                        backend.name
                    );
                    let rec = &refusals.records[0];
                    assert_eq!(rec.org_id, actor.org_id, "refusals are filed under the actor's own organization");
                }
            }
        }
        // Nothing of B changed.
        let b = w.works.org_get(&w.msp_admin.actor, &w.org_b.id).await.unwrap();
        assert_eq!(b.name, "Bolt Logistics");
        assert!(b.archived_at.is_none());
        let bu = w.works.user_get(&w.msp_admin.actor, &w.b_user.user.id).await.unwrap();
        assert_eq!(bu.display_name, "b-user");
        assert!(!bu.disabled);
        assert!(token_still_active(&w.works, &w.b_user).await, "[{}] b-user's token was revoked", backend.name);
        let verify = w.works.audit_verify(&w.msp_admin.actor).await.unwrap();
        assert!(verify.intact, "[{}] {verify:?}", backend.name);
    }
}

/// Is a person's API token still listed as active?
async fn token_still_active(works: &works_core::Works, p: &works_guarantees::Person) -> bool {
    let listed = works.token_list(&p.actor, TokenQuery::default()).await.unwrap();
    listed.items.iter().any(|t| t.id == p.token.id && t.revoked_at.is_none())
}

#[tokio::test]
async fn lists_hold_exactly_the_permitted_set() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let all_users: BTreeSet<&str> = ["admin", "operator", "a-admin", "a-user", "a-user2", "b-admin", "b-user"].into();
        for (label, person) in w.people() {
            let orgs: BTreeSet<String> = w
                .works
                .org_list(&person.actor, OrgQuery::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|o| o.name)
                .collect();
            let users: BTreeSet<String> = w
                .works
                .user_list(&person.actor, UserQuery::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|u| u.username)
                .collect();
            let (want_orgs, want_users): (BTreeSet<&str>, BTreeSet<&str>) = match label {
                "msp_admin" | "msp_operator" => (["Acme Dental", "Bolt Logistics"].into(), all_users.clone()),
                "a_admin" => (["Acme Dental"].into(), ["a-admin", "a-user", "a-user2"].into()),
                "b_admin" => (["Bolt Logistics"].into(), ["b-admin", "b-user"].into()),
                "a_user" => (["Acme Dental"].into(), ["a-user"].into()),
                "a_user2" => (["Acme Dental"].into(), ["a-user2"].into()),
                "b_user" => (["Bolt Logistics"].into(), ["b-user"].into()),
                other => panic!("unknown {other}"),
            };
            let got_orgs: BTreeSet<&str> = orgs.iter().map(String::as_str).collect();
            let got_users: BTreeSet<&str> = users.iter().map(String::as_str).collect();
            assert_eq!(got_orgs, want_orgs, "[{}] orgs of {label}", backend.name);
            assert_eq!(got_users, want_users, "[{}] users of {label}", backend.name);

            // Filtering by another organization never widens the scope.
            let filtered = w
                .works
                .user_list(&person.actor, UserQuery { org_id: Some(w.org_b.id.clone()), ..Default::default() })
                .await
                .unwrap();
            for u in &filtered.items {
                assert!(
                    got_users.contains(u.username.as_str()),
                    "[{}] {label} saw {} through an org filter",
                    backend.name,
                    u.username
                );
            }

            // Own tokens only, by default.
            let tokens = w.works.token_list(&person.actor, TokenQuery::default()).await.unwrap();
            assert!(tokens.items.iter().all(|t| t.user_id == person.user.id), "[{}] {label}", backend.name);
            assert!(tokens.items.iter().any(|t| t.id == person.token.id));

            // Audit: organization roles see their organization's records, users their own.
            let page = w.works.audit_query(&person.actor, AuditQuery { limit: Some(500), ..Default::default() }).await.unwrap();
            assert!(!page.records.is_empty(), "[{}] {label} sees no audit records at all", backend.name);
            for r in &page.records {
                match label {
                    "msp_admin" | "msp_operator" => {}
                    "a_admin" => assert_eq!(r.org_id.as_deref(), Some(w.org_a.id.as_str()), "[{}] a_admin saw {r:?}", backend.name),
                    "b_admin" => assert_eq!(r.org_id.as_deref(), Some(w.org_b.id.as_str())),
                    _ => assert_eq!(r.actor_id, person.user.id, "[{}] {label} saw {r:?}", backend.name),
                }
            }
        }
    }
}

#[tokio::test]
async fn organization_users_do_not_see_their_peers_and_admins_manage_only_their_own() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        // A user sees their own profile, not a colleague's.
        assert!(w.works.user_get(&w.a_user.actor, &w.a_user.user.id).await.is_ok());
        assert!(matches!(w.works.user_get(&w.a_user.actor, &w.a_user2.user.id).await, Err(Error::NotFound { .. })));
        assert!(matches!(w.works.user_disable(&w.a_user.actor, &w.a_user2.user.id).await, Err(Error::NotFound { .. })));
        // Their organization admin manages them.
        let disabled = w.works.user_disable(&w.a_admin.actor, &w.a_user2.user.id).await.unwrap();
        assert!(disabled.disabled);
        // But cannot make anyone an MSP user, nor move them to another organization.
        let promote = w.works.user_update(&w.a_admin.actor, &w.a_user.user.id, UserUpdate { role: Some(Role::MspAdmin), ..Default::default() }).await;
        assert!(promote.is_err(), "[{}] an org admin promoted a user to MSP admin", backend.name);
        let mv = w
            .works
            .user_update(
                &w.a_admin.actor,
                &w.a_user.user.id,
                UserUpdate { role: Some(Role::OrgUser), org_id: Some(w.org_b.id.clone()), ..Default::default() },
            )
            .await;
        assert!(matches!(mv, Err(Error::Forbidden { .. })), "[{}] {mv:?}", backend.name);
        // Nor act on the MSP's own users.
        assert!(matches!(w.works.user_disable(&w.a_admin.actor, &w.msp_operator.user.id).await, Err(Error::NotFound { .. })));
        // An organization admin creates users in their own organization only.
        let made = w
            .works
            .user_create(
                &w.a_admin.actor,
                NewUser { username: "a-new".into(), display_name: None, role: Role::OrgUser, org_id: Some(w.org_a.id.clone()), password: USER_PASSWORD.into() },
            )
            .await
            .unwrap();
        assert_eq!(made.org_id.as_deref(), Some(w.org_a.id.as_str()));
    }
}

#[tokio::test]
async fn msp_admin_may_do_everything() {
    for backend in backends().await {
        let w = World::build(backend.store.clone()).await;
        let admin = &w.msp_admin.actor;
        // Ordered so that no step undoes the precondition of a later one (a reset ends tokens).
        for op in [Op::OrgGet, Op::UserGet, Op::TokenList, Op::OrgRename, Op::UserUpdate, Op::TokenRevoke, Op::UserDisable, Op::UserEnable, Op::UserResetPassword, Op::UserCreateInOrg, Op::OrgArchive] {
            let (id, _) = targets(&w, op);
            let got = attempt(&w, admin, op, &id).await;
            assert!(got.is_ok(), "[{}] msp_admin {op:?}: {got:?}", backend.name);
        }
    }
}
