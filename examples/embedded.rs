//! Anthropy Works embedded in a Rust program: an SQLite database in a temporary folder,
//! the first admin, an organization and a user, the lists, and the audit log.
//!
//! Run it with `cargo run -p works-examples --bin embedded`.

use works_core::{Api, AuditQuery, Bootstrap, NewOrg, NewUser, OrgQuery, Role, Session, UserQuery, Works};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // One SQLite file in a folder of its own; the folder is removed at the end.
    let dir = tempfile::tempdir()?;
    let store = works_store::open(&works_store::sqlite_url_for_dir(dir.path())).await?;
    let works = Works::new(store);

    // On an empty database, create the MSP admin `admin`.
    match works.bootstrap(Some("correct horse battery staple".into())).await? {
        Bootstrap::AlreadyDone => println!("the database already had users"),
        _ => println!("created the MSP admin: admin"),
    }

    // Act as that admin. Every call checks the actor's rights and writes the audit log.
    let admin = Session::new(works.clone(), works.local_actor("admin").await?);

    let org = admin.org_create(NewOrg { name: "Acme Dental".into() }).await?;
    println!("created organization: {}", org.name);

    let user = admin
        .user_create(NewUser {
            username: "dana".into(),
            display_name: Some("Dana Reyes".into()),
            role: Role::OrgAdmin,
            org_id: Some(org.id.clone()),
            password: "a long example password".into(),
        })
        .await?;
    println!("created user: {} ({}) in {}", user.username, user.role.label(), org.name);

    for o in admin.org_list(OrgQuery::default()).await?.items {
        println!("organization: {}", o.name);
    }
    for u in admin.user_list(UserQuery::default()).await?.items {
        println!("user: {} ({})", u.username, u.role.as_str());
    }

    // An organization admin may not create organizations: refused, and recorded.
    let dana = Session::new(works.clone(), works.local_actor("dana").await?);
    match dana.org_create(NewOrg { name: "Not allowed".into() }).await {
        Ok(_) => println!("unexpected: dana created an organization"),
        Err(e) => println!("refused as expected: {e}"),
    }

    // The audit log, oldest first.
    let page = admin.audit_query(AuditQuery { limit: Some(50), ..Default::default() }).await?;
    for r in page.records.iter().rev() {
        println!("audit {}: {} {} {}", r.seq, r.actor_name, r.action, r.outcome.as_str());
    }

    let check = admin.audit_verify().await?;
    println!("audit chain intact: {} ({} records checked)", check.intact, check.checked);
    Ok(())
}
