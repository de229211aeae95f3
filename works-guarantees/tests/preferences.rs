//! A person's Command Center layout is theirs alone: no one else — of the same
//! organization, another, or the MSP — reads or changes it; every field is checked and a
//! bad one is refused naming it, changing nothing. Runs on SQLite and PostgreSQL.

use works_core::{Error, Layout};
use works_guarantees::{backends, World};

#[tokio::test]
async fn a_layout_is_kept_for_its_person_only_and_checked_field_by_field() {
    for backend in backends().await {
        let name = backend.name;
        let w = World::build(backend.store.clone()).await;
        let people = [&w.msp_admin, &w.msp_operator, &w.a_admin, &w.a_user, &w.a_user2, &w.b_admin, &w.b_user];
        for p in people {
            assert_eq!(w.works.layout_get(&p.actor).await.unwrap(), Layout::default(), "[{name}] nobody saved one yet");
        }

        let mine = Layout {
            roster_side: "right".into(),
            activity: "top".into(),
            roster_width: 400,
            inspector_width: 300,
            activity_height: 100,
            collapsed_groups: vec![format!("org:{}", w.org_b.id), "org:msp".into(), "org:msp".into()],
        };
        let saved = w.works.layout_put(&w.a_user.actor, mine.clone()).await.unwrap();
        let mut groups = vec![format!("org:{}", w.org_b.id), "org:msp".to_owned()];
        groups.sort();
        assert_eq!(saved.collapsed_groups, groups, "[{name}] sorted, each once");
        assert_eq!(w.works.layout_get(&w.a_user.actor).await.unwrap(), saved, "[{name}] kept");
        for p in people.iter().filter(|p| p.user.id != w.a_user.user.id) {
            assert_eq!(w.works.layout_get(&p.actor).await.unwrap(), Layout::default(), "[{name}] {} does not see a_user's layout", p.user.username);
        }
        // Someone else saving their own leaves a_user's as it was.
        w.works.layout_put(&w.a_admin.actor, Layout { activity: "hidden".into(), ..Layout::default() }).await.unwrap();
        w.works.layout_put(&w.a_user.actor, Layout { roster_width: 500, ..saved.clone() }).await.unwrap();
        let again = w.works.layout_get(&w.a_user.actor).await.unwrap();
        assert_eq!((again.roster_width, again.activity.as_str()), (500, "top"), "[{name}]");
        assert_eq!(w.works.layout_get(&w.a_admin.actor).await.unwrap().activity, "hidden", "[{name}]");

        let bad: Vec<(Layout, &str)> = vec![
            (Layout { roster_side: "middle".into(), ..Layout::default() }, "roster_side"),
            (Layout { activity: "".into(), ..Layout::default() }, "activity"),
            (Layout { roster_width: 159, ..Layout::default() }, "roster_width"),
            (Layout { roster_width: 641, ..Layout::default() }, "roster_width"),
            (Layout { inspector_width: 0, ..Layout::default() }, "inspector_width"),
            (Layout { activity_height: 601, ..Layout::default() }, "activity_height"),
            (Layout { collapsed_groups: vec!["org:<b>".into()], ..Layout::default() }, "collapsed_groups"),
            (Layout { collapsed_groups: vec!["org:".into()], ..Layout::default() }, "collapsed_groups"),
            (Layout { collapsed_groups: vec![format!("org:{}", "a".repeat(200))], ..Layout::default() }, "collapsed_groups"),
            (Layout { collapsed_groups: (0..1001).map(|i| format!("org:{i}")).collect(), ..Layout::default() }, "collapsed_groups"),
        ];
        for (layout, field) in bad {
            match w.works.layout_put(&w.a_user.actor, layout).await {
                Err(Error::InvalidInput { field: f, problem }) => {
                    assert_eq!(f, field, "[{name}] {problem}");
                    assert!(!problem.is_empty());
                }
                other => panic!("[{name}] a bad {field} was not refused: {other:?}"),
            }
        }
        assert_eq!(w.works.layout_get(&w.a_user.actor).await.unwrap(), again, "[{name}] bad input changed nothing");
    }
}
