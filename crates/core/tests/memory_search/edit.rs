//! A memory edited (`memory edit`, the app's Edit; issue 21, item 9): found by its new text,
//! by meaning and keywords, and no longer by its old words; moved to a task's or an
//! environment's scope; bad edits refused with the field named and nothing written.

use flightdeck_core::memory;
use flightdeck_core::{environments, tasks, CoreError};
use flightdeck_types::{
    MemoryFilter, MemoryPatch, MemoryScope, NewEnvironment, NewMemory, NewTask, SearchMode,
};

use super::{e, temp_store};

const OLD: &str = "The staging database resets every night at two in the morning.";
const NEW: &str = "Deploys to production need two approvals from the release team.";

fn field_of(error: CoreError) -> String {
    match error {
        CoreError::Invalid(e) => e.field,
        other => panic!("not an invalid-input error: {other}"),
    }
}

#[test]
fn an_edited_memory_is_found_by_its_new_text_only_and_moves_scope() {
    let (_d, store) = temp_store();
    let task = tasks::create(
        &store,
        NewTask {
            title: "Release 2.0".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let env = environments::create(
        &store,
        NewEnvironment {
            name: "backend".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let added = memory::add(
        &store,
        e(),
        NewMemory {
            content: OLD.into(),
            ..Default::default()
        },
    )
    .unwrap();

    let patch = MemoryPatch {
        content: Some(NEW.into()),
        kind: Some("fact".into()),
        scope: Some(MemoryScope::task(&task.id)),
        importance: Some(0.9),
    };
    let edited = memory::update(&store, e(), &added.id, patch).unwrap();
    assert_eq!(
        (
            edited.content.as_str(),
            edited.kind.as_str(),
            edited.importance
        ),
        (NEW, "fact", 0.9)
    );
    assert_eq!(edited.scope, MemoryScope::task(&task.id));
    assert_eq!(memory::get(&store, &added.id).unwrap(), edited);

    // Found by its new meaning and words, first, with its vector and its keywords.
    let all = MemoryFilter::default();
    let found = memory::search_with_floor(
        &store,
        e(),
        "how many approvals does a production deploy need",
        &all,
        5,
        0.0,
    )
    .unwrap();
    assert_eq!(found.mode, SearchMode::Hybrid);
    let hit = &found.hits[0];
    assert_eq!(hit.memory.id, added.id);
    assert_eq!(hit.vector_rank, Some(1));
    assert!(hit.keyword_rank.is_some(), "{hit:?}");
    // The old words match nothing by keywords any more.
    let old = memory::search_with_floor(&store, e(), "staging nightly", &all, 5, 0.0).unwrap();
    assert!(
        old.hits.iter().all(|h| h.keyword_rank.is_none()),
        "{:?}",
        old.hits
    );

    // Its scope: listed under the task, not as global.
    let under = |scope: MemoryScope| {
        let filter = MemoryFilter {
            scope: Some(scope),
            ..Default::default()
        };
        memory::list(&store, &filter, 10).unwrap().len()
    };
    assert_eq!(under(MemoryScope::task(&task.id)), 1);
    assert_eq!(under(MemoryScope::global()), 0);
    // An environment named by its name is stored by its id.
    let patch = MemoryPatch {
        scope: Some(MemoryScope::environment("backend")),
        ..Default::default()
    };
    let moved = memory::update(&store, e(), &added.id, patch).unwrap();
    assert_eq!(moved.scope, MemoryScope::environment(&env.id));
    assert_eq!(moved.content, NEW, "only the scope changed");
}

#[test]
fn a_bad_edit_names_its_field_and_writes_nothing() {
    let (_d, store) = temp_store();
    let added = memory::add(
        &store,
        None,
        NewMemory {
            content: OLD.into(),
            ..Default::default()
        },
    )
    .unwrap();
    let refused = [
        (MemoryPatch::default(), "update"),
        (
            MemoryPatch {
                content: Some("   ".into()),
                ..Default::default()
            },
            "content",
        ),
        (
            MemoryPatch {
                importance: Some(1.5),
                content: Some(NEW.into()),
                ..Default::default()
            },
            "importance",
        ),
        (
            MemoryPatch {
                kind: Some(" ".into()),
                ..Default::default()
            },
            "kind",
        ),
        (
            MemoryPatch {
                scope: Some(MemoryScope::task("no-such-task")),
                ..Default::default()
            },
            "scope",
        ),
        (
            MemoryPatch {
                scope: Some(MemoryScope::environment("")),
                ..Default::default()
            },
            "scope",
        ),
    ];
    for (patch, field) in refused {
        let error = memory::update(&store, None, &added.id, patch.clone()).unwrap_err();
        assert_eq!(field_of(error), field, "{patch:?}");
        assert_eq!(memory::get(&store, &added.id).unwrap(), added, "{patch:?}");
    }
    let patch = MemoryPatch {
        kind: Some("fact".into()),
        ..Default::default()
    };
    assert!(matches!(
        memory::update(&store, None, "no-such-memory", patch),
        Err(CoreError::NotFound { .. })
    ));
}
