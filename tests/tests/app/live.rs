//! What is written elsewhere shows in the real app without a reload: a task synced from
//! another device through the real sync server (and the Sync view's devices, trust, Sync now
//! and Leave), and a run another process on the same database queues and runs.

use flightdeck_core::{tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::NewTask;

use super::{first_text, texts_contain, WAIT};

#[test]
fn a_change_on_another_device_appears_without_a_reload() {
    use flightdeck_core::sync::account;
    use flightdeck_tests::sync_rig::{keyring, server_binary, Device, Server};

    let rt = flightdeck_tests::runtime();
    let server = rt.block_on(Server::start(server_binary("debug")));
    let data = tempfile::tempdir().unwrap();
    // The app's own workspace database joins the server as a device before the app opens it.
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let joined = rt
            .block_on(account::join(
                &store,
                &keyring(),
                &server.url,
                &server.join_token,
            ))
            .unwrap();
        assert!(joined.keyring_error.is_none(), "{:?}", joined.keyring_error);
    }
    let other = rt.block_on(Device::join(&server, &server.join_token));

    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the app to report online", WAIT, || {
        Ok(ui
            .texts("[data-testid=sync-indicator]")?
            .into_iter()
            .any(|t| t.starts_with("Online"))
            .then_some(()))
    });

    tasks::create(
        &other.store,
        NewTask {
            title: "Made on the laptop".into(),
            ..Default::default()
        },
    )
    .unwrap();
    rt.block_on(other.sync());
    poll::until("the other device's task on screen", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=task-title]", "Made on the laptop").then_some(()))
    });

    // The Sync view lists the other device as not trusted; its Trust button trusts it.
    ui.click(&ui.find("[data-testid=sync-indicator]").unwrap())
        .unwrap();
    let other_site = other.store.device_id().to_string();
    let row = format!("[data-testid=device-row][data-site='{other_site}']");
    let listed = poll::until("the other device listed", WAIT, || {
        Ok(ui.find_all(&row)?.into_iter().next())
    });
    assert_eq!(
        ui.attribute(&listed, "data-trusted").unwrap().as_deref(),
        Some("false")
    );
    ui.click(
        &ui.find(&format!("{row} [data-testid=device-trust]"))
            .unwrap(),
    )
    .unwrap();
    poll::until("the device shown trusted", WAIT, || {
        let trusted = ui.find_all(&format!("{row}[data-trusted=true]"))?;
        Ok((!trusted.is_empty()).then_some(()))
    });
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let devices = flightdeck_core::trust::list(&store).unwrap();
    assert!(
        devices.iter().any(|d| d.site_id == other_site && d.trusted),
        "{devices:?}"
    );

    // Sync now: a round on the spot, and what it did; the last sync in local time, as every
    // other time in the app (issue 21, item 10).
    ui.click(&ui.find("[data-testid=sync-now]").unwrap())
        .unwrap();
    let said = poll::until("the round's result", WAIT, || {
        Ok(ui
            .texts("[data-testid=sync-now-result]")?
            .into_iter()
            .next())
    });
    assert!(
        said.starts_with("Pushed ") && said.ends_with("conflicts."),
        "{said}"
    );
    let last = first_text(ui, "[data-testid=sync-last]").unwrap().unwrap();
    let b = last.as_bytes();
    assert!(
        b.len() == 19 && b[4] == b'-' && b[10] == b' ' && b[13] == b':' && !last.contains('Z'),
        "YYYY-MM-DD HH:MM:SS, local: {last}"
    );
    // The Conflicts panel says the rule and the clock bound (issue 19).
    let rule = first_text(ui, "[data-testid=conflict-rule]")
        .unwrap()
        .unwrap();
    assert!(
        rule.contains("the later change wins on every device")
            && rule.contains("more than 5 minutes off the server's"),
        "{rule}"
    );

    // The palette's Sync now: a round, told in a toast.
    ui.press(&["\u{E009}", "k"]).unwrap();
    let input = poll::until("the palette", WAIT, || {
        Ok(ui
            .find_all("[data-testid=palette-input]")?
            .into_iter()
            .next())
    });
    ui.type_text(&input, "sync now").unwrap();
    // (Read from the page: WebKit's driver gives no text for the label's ellipsis box.)
    poll::until("the Sync now entry first", WAIT, || {
        let first = ui.execute(
            "const e = document.querySelector('[data-testid=palette-entry] .palette-label'); \
             return e && e.textContent;",
        )?;
        Ok((first.as_str() == Some("Sync now")).then_some(()))
    });
    ui.press(&["\u{E007}"]).unwrap();
    let told = poll::until("the round's toast", WAIT, || {
        Ok(ui
            .texts("[data-testid=toast-text]")?
            .into_iter()
            .find(|t| t.starts_with("Synced: pushed ")))
    });
    assert!(told.ends_with("conflicts."), "{told}");

    // Leave… asks first (Cancel keeps the sync), then leaves: it says so, the join form is
    // back, and the engine no longer joined (that the daemon stops: the CLI's leave test).
    ui.click(&ui.find("[data-testid=sync-leave]").unwrap())
        .unwrap();
    let question = poll::until("the question", WAIT, || {
        first_text(ui, "[data-testid=confirm-sync-delete-prompt]")
    });
    assert!(question.contains(&server.url), "{question}");
    ui.click(&ui.find("[data-testid=cancel-sync-delete]").unwrap())
        .unwrap();
    assert!(account::status(&store).unwrap().joined);
    ui.click(&ui.find("[data-testid=sync-leave]").unwrap())
        .unwrap();
    ui.click(&ui.find("[data-testid=confirm-sync-delete]").unwrap())
        .unwrap();
    let left = poll::until("the leave's answer", WAIT, || {
        first_text(ui, "[data-testid=sync-left]")
    });
    assert!(
        left.contains(&server.url) && left.contains("no longer syncs"),
        "{left}"
    );
    poll::until("the join form back", WAIT, || {
        Ok((!ui.find_all("[data-testid=join-form]")?.is_empty()).then_some(()))
    });
    assert!(!account::status(&store).unwrap().joined);
}

#[test]
fn what_another_process_writes_shows_without_a_reload() {
    use flightdeck_core::runs;
    use flightdeck_types::{ExecutionSpec, NewExecution, ShellSpec};

    let data = tempfile::tempdir().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the empty board", WAIT, || {
        Ok((!ui.find_all("[data-testid=task-search]")?.is_empty()).then_some(()))
    });
    // This test process is "another process": its own connection to the workspace database,
    // as `flightdeck daemon` or the CLI has. The app hears of its commits only through the
    // database itself.
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    tasks::create(
        &store,
        NewTask {
            title: "Written by the CLI".into(),
            ..Default::default()
        },
    )
    .unwrap();
    poll::until("the other process's task on the board", WAIT, || {
        Ok(texts_contain(ui, "[data-testid=task-title]", "Written by the CLI").then_some(()))
    });

    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    // Queued for a device that is not this app's, so only the list shows it.
    let run = runs::queue(
        &store,
        NewExecution {
            spec: Some(ExecutionSpec::Shell(ShellSpec {
                line: Some("echo from elsewhere".into()),
                ..Default::default()
            })),
            device_id: Some("0".repeat(32)),
            ..Default::default()
        },
    )
    .unwrap();
    let row = poll::until("the other process's run listed", WAIT, || {
        Ok(ui
            .find_all(&format!("[data-testid=run-row][data-id='{}']", run.id))?
            .into_iter()
            .next())
    });
    assert_eq!(
        ui.attribute(&row, "data-status").unwrap().as_deref(),
        Some("queued")
    );
}
