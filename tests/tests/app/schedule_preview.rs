//! The schedule form's preview moves on as the schedule would fire (issue 21, item 10): once
//! the first fire time it lists has passed, it lists the next ones, not times gone by.

use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;

use super::WAIT;

/// The instants (RFC 3339, UTC) the preview lists, first first.
fn fire_times(ui: &Session) -> Result<Vec<String>, String> {
    ui.find_all("[data-testid=fire-time]")?
        .iter()
        .map(|e| Ok(ui.attribute(e, "title")?.unwrap_or_default()))
        .collect()
}

#[test]
fn the_preview_drops_a_fire_time_once_it_has_passed() {
    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-schedules]").unwrap())
        .unwrap();
    let kind = poll::until("the schedule form", WAIT, || {
        Ok(ui
            .find_all("[data-testid=schedule-kind] option[value=interval]")?
            .into_iter()
            .next())
    });
    ui.click(&kind).unwrap();
    let every = poll::until("the interval field", WAIT, || {
        Ok(ui
            .find_all("[data-testid=schedule-interval]")?
            .into_iter()
            .next())
    });
    ui.clear(&every).unwrap();
    ui.type_text(&every, "2").unwrap();
    // Five times two seconds apart (the first within two seconds of now).
    let before = poll::until("five fire times", WAIT, || {
        let times = fire_times(ui)?;
        Ok((times.len() == 5 && times.iter().all(|t| !t.is_empty())).then_some(times))
    });
    // Once the first has passed, the list starts later: polled, never a fixed wait.
    let after = poll::until("the preview moved on", WAIT, || {
        let times = fire_times(ui)?;
        Ok((times.len() == 5 && times[0] > before[0]).then_some(times))
    });
    assert!(
        after[0] > before[0] && after[4] > before[4],
        "{before:?} -> {after:?}"
    );
}
