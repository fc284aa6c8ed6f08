//! In-app notifications, on both backends: sending is idempotent by key, each user reads,
//! counts and marks only their own.

mod common;

use common::*;
use guanxi_domain::Id;
use guanxi_store::{NewNotification, Store, StoreError};

conformance!(sending_twice_by_key_notifies_once, |s: Store| async move {
    let w = World::build(&s).await;
    let account = Id::new();
    let note = NewNotification::new(w.rep_a.user_id, "assigned", "b assigned you 华为")
        .about("account", account)
        .key("assigned:7:a");
    assert_eq!(s.notify(std::slice::from_ref(&note)).await.unwrap(), 1);
    // The same cause again (a replay), alone and among new ones.
    assert_eq!(s.notify(std::slice::from_ref(&note)).await.unwrap(), 0);
    let other = NewNotification::new(w.rep_a.user_id, "system", "without a key");
    assert_eq!(
        s.notify(&[note.clone(), other.clone(), other])
            .await
            .unwrap(),
        2,
        "rows without a key are never deduplicated"
    );
    let page = s.notifications(&w.rep_a, false, 50, None).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let assigned: Vec<_> = page.items.iter().filter(|n| n.kind == "assigned").collect();
    assert_eq!(assigned.len(), 1);
    let n = assigned[0];
    assert_eq!(
        (
            n.title.as_str(),
            n.entity.as_deref(),
            n.record_id,
            n.source.as_str()
        ),
        (
            "b assigned you 华为",
            Some("account"),
            Some(account),
            "system"
        )
    );
    assert_eq!(n.read_at, None);
});

conformance!(
    only_the_recipient_reads_counts_and_marks,
    |s: Store| async move {
        let w = World::build(&s).await;
        s.notify(&[
            NewNotification::new(w.rep_a.user_id, "system", "for a"),
            NewNotification::new(w.rep_b.user_id, "system", "for b"),
        ])
        .await
        .unwrap();
        let for_b = s.notifications(&w.rep_b, false, 50, None).await.unwrap();
        assert_eq!(for_b.items.len(), 1);
        assert_eq!(for_b.items[0].title, "for b");
        assert_eq!(for_b.items[0].user_id, w.rep_b.user_id);
        let a_id = s
            .notifications(&w.rep_a, false, 50, None)
            .await
            .unwrap()
            .items[0]
            .id;

        // b cannot mark a's notification, not even an administrator: it is not theirs.
        for other in [&w.rep_b, &w.admin] {
            match s.mark_read(other, a_id).await {
                Err(StoreError::NotFound { entity, id }) => {
                    assert_eq!((entity, id), ("notification", a_id))
                }
                other => panic!("expected NotFound, got {other:?}"),
            }
        }
        assert_eq!(s.unread_notifications(&w.rep_a).await.unwrap(), 1);

        s.mark_read(&w.rep_a, a_id).await.unwrap();
        let first = s
            .notifications(&w.rep_a, false, 50, None)
            .await
            .unwrap()
            .items[0]
            .read_at;
        assert!(first.is_some());
        // Marking again keeps the first time.
        s.mark_read(&w.rep_a, a_id).await.unwrap();
        let again = s
            .notifications(&w.rep_a, false, 50, None)
            .await
            .unwrap()
            .items[0]
            .read_at;
        assert_eq!(again, first);
        assert_eq!(s.unread_notifications(&w.rep_a).await.unwrap(), 0);
        assert_eq!(s.unread_notifications(&w.rep_b).await.unwrap(), 1);
        assert!(matches!(
            s.mark_read(&w.rep_a, Id::new()).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

conformance!(unread_lists_page_newest_first, |s: Store| async move {
    let w = World::build(&s).await;
    let notes: Vec<_> = (0..7)
        .map(|i| NewNotification::new(w.rep_a.user_id, "system", format!("n{i}")))
        .collect();
    s.notify(&notes).await.unwrap();
    let all = s.notifications(&w.rep_a, false, 50, None).await.unwrap();
    let titles: Vec<&str> = all.items.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["n6", "n5", "n4", "n3", "n2", "n1", "n0"]);
    // Read n6 and n3: the unread list skips them, page by page.
    for n in [&all.items[0], &all.items[3]] {
        s.mark_read(&w.rep_a, n.id).await.unwrap();
    }
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = s
            .notifications(&w.rep_a, true, 2, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|n| n.title));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["n5", "n4", "n2", "n1", "n0"]);
    assert_eq!(s.unread_notifications(&w.rep_a).await.unwrap(), 5);

    assert_eq!(s.mark_all_read(&w.rep_a).await.unwrap(), 5);
    assert_eq!(s.unread_notifications(&w.rep_a).await.unwrap(), 0);
    assert!(
        s.notifications(&w.rep_a, true, 50, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(matches!(
        s.notifications(&w.rep_a, false, 50, Some("not a cursor"))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.notifications(&w.rep_a, false, 0, None).await,
        Err(StoreError::Invalid(_))
    ));
});

conformance!(invalid_notifications_are_refused, |s: Store| async move {
    let w = World::build(&s).await;
    for bad in [
        NewNotification::new(w.rep_a.user_id, "system", "  "),
        NewNotification::new(w.rep_a.user_id, "Not A Kind", "title"),
        NewNotification::new(w.rep_a.user_id, "system", "title").about("no_such", Id::new()),
    ] {
        let ok = NewNotification::new(w.rep_a.user_id, "system", "fine");
        assert!(matches!(
            s.notify(&[ok, bad]).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert_eq!(
        s.unread_notifications(&w.rep_a).await.unwrap(),
        0,
        "a batch with an invalid notification sends none"
    );
});
