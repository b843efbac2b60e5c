//! The stores themselves: migrations on a fresh database, replicas starting
//! at once, and a SQLite file created where none was.

use crate::common::TestDb;
use neo_support::store::{self, Audit, DatabaseOptions};

#[tokio::test]
async fn three_replicas_starting_at_once_migrate_one_postgres_database_safely() {
    let Some(base_url) = crate::common::postgres_or_skip("the concurrent-migration test") else {
        return;
    };
    let db = TestDb::postgres(&base_url).await;
    let options = DatabaseOptions::default();
    let (a, b, c) = tokio::join!(
        store::connect(&db.url, &options),
        store::connect(&db.url, &options),
        store::connect(&db.url, &options),
    );
    let stores = [
        a.expect("replica a"),
        b.expect("replica b"),
        c.expect("replica c"),
    ];
    for store in &stores {
        store.ping().await.unwrap();
        assert!(store.list_closures().await.unwrap().is_empty());
    }
    drop(stores);
    db.drop_database().await;
}

#[tokio::test]
async fn a_sqlite_file_and_its_directory_are_created_on_first_start_and_reopened_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/neo.db");
    let url = format!("sqlite://{}", path.display());
    let first = store::connect(&url, &DatabaseOptions::default())
        .await
        .unwrap();
    assert!(path.exists());
    first
        .create_token(
            "ops",
            &neo_support::domain::token::Role::Staff,
            "hash",
            chrono::Utc::now(),
            &Audit::daemon(),
        )
        .await
        .unwrap();
    drop(first);
    let again = store::connect(&url, &DatabaseOptions::default())
        .await
        .unwrap();
    assert_eq!(again.list_tokens().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unknown_database_scheme_is_refused() {
    let refused = store::connect("mysql://localhost/x", &DatabaseOptions::default()).await;
    assert!(matches!(
        refused,
        Err(neo_support::Error::InvalidArgument { .. })
    ));
}
