//! Memory search with the real model: a labelled corpus, filters, keyword-only mode, archival
//! and size control, capture from runs, context for a task, and sync between two stores.

mod common;
// A memory edited: its new text indexed, its scope moved.
#[path = "memory_search/edit.rs"]
mod edit;
#[path = "common/memory.rs"]
mod model;

use common::{exchange, temp_store};
use flightdeck_core::memory::{self, Budget, Embedder};
use flightdeck_core::{tasks, Store};
use flightdeck_types::{
    KeywordOnlyReason, MemoryFilter, MemoryScope, NewMemory, NewTask, SearchMode,
};

fn e() -> Option<&'static dyn Embedder> {
    Some(model::minilm() as &dyn Embedder)
}

fn note(content: &str) -> NewMemory {
    NewMemory {
        content: content.into(),
        ..Default::default()
    }
}

const CORPUS: &[&str] = &[
    "The staging database password rotates every Monday; fetch it from the vault.",
    "Run cargo clippy with -D warnings before pushing Rust changes.",
    "The frontend build needs Node 20; Node 18 fails with a syntax error.",
    "Customer Acme prefers invoices in PDF sent to billing@acme.example.",
    "Deployments to production happen only on weekdays before 3pm.",
    "The flaky integration test is caused by a race in the websocket reconnect.",
    "Use the metric system for all measurements in the robotics project.",
    "The office coffee machine is descaled on Fridays.",
    "Large CSV imports must be split into chunks of 10,000 rows.",
    "The API rate limit is 100 requests per minute per token.",
    "Alice owns the payments service; ask her before changing refunds.",
    "Docker images are built for both amd64 and arm64.",
    "Log files older than 30 days are deleted by a nightly cron job.",
    "The mobile app crashes on Android 12 when the camera permission is denied.",
    "Translations live in the locales folder as JSON files.",
    "SSH into the build server uses port 2222, not 22.",
    "The search index is rebuilt every night at 2am.",
    "Team standup is at 9:30 in the small meeting room.",
    "Backups are encrypted with age and stored in two regions.",
    "Feature flags are managed in LaunchDarkly; clean up stale flags monthly.",
];

const QUERIES: &[(&str, usize)] = &[
    ("how often do the credentials of the staging DB change", 0),
    ("run the Rust linter before a push", 1),
    (
        "which javascript runtime version does the web UI compile with",
        2,
    ),
    ("how should we bill the Acme company", 3),
    ("can I release on a Saturday", 4),
    ("why does the socket test fail sometimes", 5),
    ("how many API calls am I allowed", 9),
    ("who is responsible for refunds", 10),
    (
        "the phone application dies when the user refuses camera access",
        13,
    ),
    ("how do I connect to the CI machine with ssh", 15),
];

fn seeded() -> (tempfile::TempDir, Store, Vec<String>) {
    let (dir, store) = temp_store();
    let ids = CORPUS
        .iter()
        .map(|c| memory::add(&store, e(), note(c)).unwrap().id)
        .collect();
    (dir, store, ids)
}

#[test]
fn labelled_queries_find_their_memory_first() {
    let (_d, store, ids) = seeded();
    for (query, want) in QUERIES {
        // Ranking alone (the floor has its own tests): MiniLM puts some true paraphrases
        // under any floor that also drops most questions with no answer.
        let found = memory::search_with_floor(&store, e(), query, &MemoryFilter::default(), 5, 0.0)
            .unwrap();
        assert_eq!(found.mode, SearchMode::Hybrid);
        let top = found.hits.first().unwrap_or_else(|| {
            panic!(
                "{query:?}: nothing over the floor (best {:?})",
                found.best_below_floor
            )
        });
        assert_eq!(
            top.memory.id,
            ids[*want],
            "{query:?}: wanted {:?}; got {:?}",
            CORPUS[*want],
            found
                .hits
                .iter()
                .map(|h| (
                    &h.memory.content[..20],
                    h.vector_rank,
                    h.keyword_rank,
                    h.score
                ))
                .collect::<Vec<_>>()
        );
        assert!(top.vector_rank.is_some() && top.vector_distance.is_some());
        assert!(found.hits.windows(2).all(|w| w[0].score >= w[1].score));
    }
}

#[test]
fn one_shared_word_does_not_lift_a_distant_meaning_over_the_nearest() {
    // Seen in the app: "test" in the flaky-test memory outranked the staging memory that
    // the query means, though the model ranked staging first.
    let (_d, store) = temp_store();
    for content in [
        "The staging database is wiped and reloaded every night at 02:00 UTC",
        "Run the billing migrations with --dry-run first; they lock the ledger",
        "Release the web frontend with the blue-green deploy script",
        "The flaky login test fails when the clock crosses midnight",
    ] {
        memory::add(&store, e(), note(content)).unwrap();
    }
    let query = "when is the test data of the pre-production DB erased";
    // Floor 0: the weak keyword match must still be listed, after the meaning.
    let hits = memory::search_with_floor(&store, e(), query, &MemoryFilter::default(), 4, 0.0)
        .unwrap()
        .hits;
    let staging = &hits[0];
    assert!(
        staging.memory.content.starts_with("The staging database"),
        "{:?}",
        hits.iter()
            .map(|h| (&h.memory.content, h.score, h.vector_rank, h.keyword_rank))
            .collect::<Vec<_>>()
    );
    assert_eq!(staging.vector_rank, Some(1));
    // The keyword match is still found and reported.
    let flaky = hits
        .iter()
        .position(|h| h.memory.content.contains("flaky"))
        .unwrap();
    assert_eq!(hits[flaky].keyword_rank, Some(1));
}

#[test]
fn keyword_signal_is_reported_and_filters_apply() {
    let (_d, store, ids) = seeded();
    let t = memory::add(
        &store,
        e(),
        NewMemory {
            content: "Port 2222 is also used by the task-scoped tunnel.".into(),
            kind: Some("fact".into()),
            scope: MemoryScope::task("task-1"),
            ..Default::default()
        },
    )
    .unwrap();
    let all = memory::search(&store, e(), "port 2222", &MemoryFilter::default(), 10).unwrap();
    let ssh = all.hits.iter().find(|h| h.memory.id == ids[15]).unwrap();
    assert!(ssh.keyword_rank.is_some() && ssh.vector_rank.is_some());

    let scoped = MemoryFilter {
        scope: Some(MemoryScope::task("task-1")),
        ..Default::default()
    };
    let hits = memory::search(&store, e(), "port 2222", &scoped, 10)
        .unwrap()
        .hits;
    assert_eq!(
        hits.iter().map(|h| &h.memory.id).collect::<Vec<_>>(),
        vec![&t.id]
    );
    let by_kind = MemoryFilter {
        kind: Some("fact".into()),
        ..Default::default()
    };
    assert_eq!(memory::list(&store, &by_kind, 100).unwrap().len(), 1);
}

#[test]
fn without_a_model_search_is_keyword_only_and_says_so() {
    let (_d, store) = temp_store();
    // A fresh workspace with the model: nothing to match yet, not "no model".
    let fresh = memory::search(&store, e(), "rate limit", &MemoryFilter::default(), 5).unwrap();
    assert_eq!(fresh.mode, SearchMode::KeywordOnly);
    assert_eq!(
        fresh.keyword_only.as_ref().map(|k| k.reason),
        Some(KeywordOnlyReason::NothingYet)
    );
    memory::add(
        &store,
        None,
        note("The API rate limit is 100 requests per minute."),
    )
    .unwrap();
    memory::add(&store, None, note("Standup is at 9:30.")).unwrap();
    let found = memory::search(&store, None, "rate limit", &MemoryFilter::default(), 5).unwrap();
    assert_eq!(found.mode, SearchMode::KeywordOnly);
    assert_eq!(
        found.keyword_only.as_ref().map(|k| k.reason),
        Some(KeywordOnlyReason::NoModel)
    );
    assert_eq!(found.hits.len(), 1);
    // The model installed since: the two memories wait for their vectors, and it says so.
    let waiting = memory::search(&store, e(), "rate limit", &MemoryFilter::default(), 5).unwrap();
    let why = waiting.keyword_only.expect("keyword only until indexed");
    assert_eq!(
        (why.reason, why.not_indexed),
        (KeywordOnlyReason::NotIndexed, 2)
    );
    assert!(
        why.explain().contains("2 memories are not indexed"),
        "{}",
        why.explain()
    );
    assert!(found.hits[0].vector_rank.is_none() && found.hits[0].keyword_rank == Some(1));
    // A paraphrase with no shared word finds nothing without a model...
    let none = memory::search(
        &store,
        None,
        "how many calls am I allowed",
        &MemoryFilter::default(),
        5,
    )
    .unwrap();
    assert!(none.hits.is_empty());
    // ...and is found by meaning once the pending vectors are computed.
    assert_eq!(memory::index_pending(&store, e()).unwrap(), 2);
    let found = memory::search(
        &store,
        e(),
        "how many calls am I allowed",
        &MemoryFilter::default(),
        1,
    )
    .unwrap();
    assert_eq!(found.mode, SearchMode::Hybrid);
    assert_eq!(found.keyword_only, None);
    assert!(found.hits[0].memory.content.contains("rate limit"));
    assert_eq!(memory::index_pending(&store, e()).unwrap(), 0);
}

#[test]
fn archival_keeps_everything_findable_and_listable() {
    let (_d, store) = temp_store();
    let scope = MemoryScope::environment("env-1");
    let budget = Budget {
        max_per_scope: 8,
        keep_importance: 0.7,
    };
    let mut added = Vec::new();
    for (i, c) in CORPUS.iter().take(12).enumerate() {
        let m = memory::add(
            &store,
            e(),
            NewMemory {
                content: c.to_string(),
                scope: scope.clone(),
                importance: Some(if i == 0 { 0.9 } else { 0.3 }),
                ..Default::default()
            },
        )
        .unwrap();
        added.push(m);
    }
    let summary = memory::enforce_budget(&store, e(), &scope, &budget)
        .unwrap()
        .expect("over budget");
    assert_eq!(summary.kind, "summary");
    let filter = MemoryFilter {
        scope: Some(scope.clone()),
        ..Default::default()
    };
    let active = memory::list(&store, &filter, 100).unwrap();
    let all = memory::list(
        &store,
        &MemoryFilter {
            include_archived: true,
            ..filter.clone()
        },
        100,
    )
    .unwrap();
    assert_eq!(
        all.len(),
        13,
        "nothing deleted: 12 memories and the summary"
    );
    let archived: Vec<_> = all.iter().filter(|m| m.archived).collect();
    assert_eq!(active.len() + archived.len(), 13);
    assert!(!archived.is_empty());
    assert!(archived
        .iter()
        .all(|m| m.summary_id.as_deref() == Some(summary.id.as_str())));
    // The important oldest memory is kept; the oldest unimportant ones went.
    assert!(!memory::get(&store, &added[0].id).unwrap().archived);
    assert!(memory::get(&store, &added[1].id).unwrap().archived);
    assert!(summary.content.lines().count() >= 2);

    // An archived memory is hidden by default and found with include_archived (next to the
    // summary that quotes it).
    let victim = &added[1];
    let q = "lint code before pushing";
    let ids = |f: &MemoryFilter, n| -> Vec<String> {
        memory::search_with_floor(&store, e(), q, f, n, 0.0)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.memory.id)
            .collect()
    };
    assert!(!ids(&MemoryFilter::default(), 20).contains(&victim.id));
    let with_archived = MemoryFilter {
        include_archived: true,
        ..Default::default()
    };
    let top = ids(&with_archived, 3);
    assert!(
        top.contains(&victim.id) && top.contains(&summary.id),
        "{top:?}"
    );
    // Unarchive brings it back.
    memory::unarchive(&store, &victim.id).unwrap();
    assert!(ids(&MemoryFilter::default(), 3).contains(&victim.id));
}

#[test]
fn runs_record_memories_from_output_lines_and_files() {
    let (dir, store) = temp_store();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Fix login".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let exec_id = "exec-1";
    store
        .write(|w| {
            w.execute(
                "INSERT INTO executions (id, task_id, status, queued_at) VALUES (?1, ?2, 'succeeded', 1)",
                [exec_id, task.id.as_str()],
            )?;
            Ok(())
        })
        .unwrap();
    let got = store
        .write(|w| {
            let a = memory::capture_from_output(
                w,
                exec_id,
                "memory: the login form posts to /api/session",
            )?;
            let b = memory::capture_from_output(w, exec_id, "compiling...")?;
            Ok((a, b))
        })
        .unwrap();
    let m = got.0.expect("a memory line");
    assert!(got.1.is_none());
    assert_eq!(m.content, "the login form posts to /api/session");
    assert_eq!(m.source_execution_id.as_deref(), Some(exec_id));
    assert_eq!(m.scope, MemoryScope::task(&task.id));

    let path = dir.path().join("memories.jsonl");
    std::fs::write(
        &path,
        "{\"content\": \"sessions expire after 15 minutes\", \"kind\": \"fact\", \"importance\": 0.8}\n\
         not json\n\
         {\"content\": \"\"}\n\
         {\"content\": \"cookies are SameSite=Lax\"}\n",
    )
    .unwrap();
    let report = memory::capture_from_file(&store, exec_id, &path).unwrap();
    assert_eq!(report.added.len(), 2);
    assert_eq!(
        report.errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert!(report.errors[1].1.contains("content"));
    assert_eq!(report.added[0].kind, "fact");
    assert_eq!(report.added[0].importance, 0.8);

    // Full text at once; vectors once index_pending runs.
    let kw = memory::search(&store, None, "cookies", &MemoryFilter::default(), 5).unwrap();
    assert_eq!(kw.hits.len(), 1);
    assert_eq!(memory::index_pending(&store, e()).unwrap(), 3);
    let found = memory::search(
        &store,
        e(),
        "how long does a login last",
        &MemoryFilter::default(),
        1,
    )
    .unwrap();
    assert_eq!(
        found.hits[0].memory.content,
        "sessions expire after 15 minutes"
    );
}

#[test]
fn context_for_a_task_has_relevant_memories_and_similar_runs() {
    let (_d, store, ids) = seeded();
    let mk = |title: &str| {
        tasks::create(
            &store,
            NewTask {
                title: title.into(),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let past_db = mk("Rotate the staging database credentials");
    let past_ui = mk("Change the colour of the sign-up button");
    for (i, (t, result)) in [
        (&past_db, "rotated; vault updated"),
        (&past_ui, "button is blue now"),
    ]
    .iter()
    .enumerate()
    {
        store
            .write(|w| {
                w.execute(
                    "INSERT INTO executions (id, task_id, status, result, queued_at) VALUES (?1, ?2, 'succeeded', ?3, ?4)",
                    rusqlite::params![format!("e{i}"), t.id, result, i as i64],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let now = mk("Update the password of the staging DB");
    let ctx = memory::context_for_task(&store, e(), &now.id, 3).unwrap();
    assert_eq!(ctx.mode, SearchMode::Hybrid);
    assert_eq!(ctx.memories[0].memory.id, ids[0]);
    assert_eq!(ctx.similar_runs[0].task_id, past_db.id);
    assert_eq!(
        ctx.similar_runs[0].summary.as_deref(),
        Some("rotated; vault updated")
    );
    assert!(ctx.similar_runs.iter().all(|r| r.task_id != now.id));
}

#[test]
fn a_memory_written_on_a_is_found_by_meaning_on_b_after_sync() {
    let (_da, a) = temp_store();
    let (_db, b) = temp_store();
    memory::add(&a, e(), note(CORPUS[13])).unwrap();
    memory::add(&a, e(), note(CORPUS[7])).unwrap();
    exchange(&a, &b);
    // Rows merged without a sync round arrive without index entries; index_pending builds
    // them. (A sync round calls it itself: tests/tests/sync_memory.rs.)
    assert_eq!(memory::index_pending(&b, e()).unwrap(), 2);
    let found = memory::search(
        &b,
        e(),
        "phone app closes when camera access is refused",
        &MemoryFilter::default(),
        1,
    )
    .unwrap();
    assert_eq!(found.mode, SearchMode::Hybrid);
    assert_eq!(found.hits[0].memory.content, CORPUS[13]);

    // An edit of the content on A re-indexes on B; an archive flag alone does not re-embed.
    let id = found.hits[0].memory.id.clone();
    a.write(|w| {
        w.execute(
            "UPDATE memories SET content = 'Backups are verified every Sunday.', updated_at = updated_at + 1 WHERE id = ?1",
            [&id],
        )?;
        Ok(())
    })
    .unwrap();
    exchange(&a, &b);
    assert_eq!(memory::index_pending(&b, e()).unwrap(), 1);
    let found = memory::search(
        &b,
        e(),
        "when are backups checked",
        &MemoryFilter::default(),
        1,
    )
    .unwrap();
    assert_eq!(found.hits[0].memory.id, id);
    let old = memory::search(&b, None, "camera", &MemoryFilter::default(), 5).unwrap();
    assert!(old.hits.is_empty(), "the old text left the full-text index");
}

#[test]
fn invalid_input_names_the_field() {
    let (_d, store) = temp_store();
    let err = memory::add(&store, None, note("  ")).unwrap_err();
    assert_eq!(err.field(), Some("content"));
    let err = memory::add(
        &store,
        None,
        NewMemory {
            content: "x".into(),
            importance: Some(2.0),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("importance"));
    let err = memory::add(
        &store,
        None,
        NewMemory {
            content: "x".into(),
            scope: MemoryScope {
                kind: flightdeck_types::MemoryScopeKind::Task,
                id: None,
            },
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("scope"));
}
