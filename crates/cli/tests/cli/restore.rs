//! `flightdeck restore` through the real binary: a dry run, one task, every task, bad times.

use super::common::{fails, json, ok};
use super::task_count;

#[test]
fn restore_puts_tasks_back_as_they_were_at_an_instant() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(d, &["task", "add", "Before"]).trim().to_string();
    let shown = json(d, &["task", "show", &id]);
    // An instant after the create; the rename below is stamped later (the clock is polled).
    let created_ms =
        flightdeck_types::Timestamp::parse_rfc3339(shown["updated_at"].as_str().unwrap())
            .unwrap()
            .as_millis();
    let then = loop {
        let now = flightdeck_core::clock::now();
        if now.as_millis() > created_ms + 1 {
            break now;
        }
        std::thread::yield_now();
    };
    while flightdeck_core::clock::now() <= then {
        std::thread::yield_now();
    }
    ok(d, &["task", "update", &id, "--title", "After"]);
    let extra = ok(d, &["task", "add", "Added later"]).trim().to_string();
    let to = then.to_rfc3339();

    let dry = ok(d, &["restore", "--all", "--to", &to, "--dry-run"]);
    assert!(
        dry.contains("dry run") && dry.contains("nothing was written"),
        "{dry}"
    );
    assert!(dry.contains("title: \"After\" -> \"Before\""), "{dry}");
    assert!(dry.contains(&extra) && dry.contains("delete"), "{dry}");
    assert_eq!(task_count(d), 2, "a dry run writes nothing");

    let one = json(d, &["restore", &id, "--to", &to]);
    assert_eq!(one["changes"][0]["action"], "revert");
    assert_eq!(json(d, &["task", "show", &id])["title"], "Before");
    assert_eq!(task_count(d), 2, "one task's restore leaves the others");

    let all = ok(d, &["restore", "--all", "--to", &to]);
    assert!(all.contains("restored 1 row(s)"), "{all}");
    assert_eq!(task_count(d), 1);

    // A time ago parses; a bad one is refused in one line naming the flag.
    let nothing = ok(d, &["restore", "--all", "--to", "1s"]);
    assert!(
        nothing.contains("nothing to restore") || nothing.contains("restored"),
        "{nothing}"
    );
    let bad = fails(d, &["restore", "--all", "--to", "yesterday"]);
    assert_eq!(bad.trim().lines().count(), 1, "{bad}");
    assert!(
        bad.contains("--to") || bad.contains("`yesterday` is not a time"),
        "{bad}"
    );
    let unknown = fails(d, &["restore", "no-such-id", "--to", "1d"]);
    assert!(unknown.contains("no-such-id"), "{unknown}");
}
