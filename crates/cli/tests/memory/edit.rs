//! `flightdeck memory edit` (issue 21, item 9, the engine half of the app's Edit): what is
//! given changes, the rest stays; a new text is searched by meaning; bad edits are one line.

use super::common::{json, ok};
use super::{refused, BACKUP, STAGING};

#[test]
fn memory_edit_changes_what_is_given_and_search_finds_the_new_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = json(d, &["env", "add", "backend"]);
    let id = ok(d, &["memory", "add", STAGING]).trim().to_string();

    let edited = json(
        d,
        &[
            "memory",
            "edit",
            &id,
            "--content",
            BACKUP,
            "--kind",
            "fact",
            "--scope",
            "env:backend",
            "--importance",
            "0.8",
        ],
    );
    assert_eq!(edited["content"], BACKUP);
    assert_eq!(edited["kind"], "fact");
    assert_eq!(edited["importance"], 0.8);
    assert_eq!(edited["scope"]["kind"], "environment");
    assert_eq!(edited["scope"]["id"], env["id"]);
    assert_eq!(json(d, &["memory", "show", &id]), edited);

    // Only the kind given: the rest stays; the human line names the memory.
    let line = ok(d, &["memory", "edit", &id, "--kind", "lesson"]);
    assert_eq!(line.trim(), format!("edited {id}"));
    let shown = json(d, &["memory", "show", &id]);
    assert_eq!(shown["kind"], "lesson");
    assert_eq!(shown["content"], BACKUP);

    // The new text is found by meaning, with the vector of its new text.
    let found = json(d, &["memory", "search", "where do the nightly backups go"]);
    let first = &found["hits"][0];
    assert_eq!(first["memory"]["id"], id.as_str(), "{found}");
    assert_eq!(first["vector_rank"], 1, "{found}");

    // Bad edits: one line naming what to fix, nothing changed.
    let nothing = refused(d, &["memory", "edit", &id]);
    assert!(nothing.contains("nothing to change"), "{nothing}");
    let bad = refused(d, &["memory", "edit", &id, "--importance", "2"]);
    assert!(bad.contains("importance"), "{bad}");
    let task = refused(d, &["memory", "edit", &id, "--scope", "task:nope"]);
    assert!(task.contains("nope"), "{task}");
    assert_eq!(json(d, &["memory", "show", &id])["kind"], "lesson");
}
