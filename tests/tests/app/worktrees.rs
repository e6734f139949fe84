//! A worktree run's page in the real app: an agent run (real git, run by the app's own worker)
//! shows its branch, the files it changed and its diff, and Merge puts its work on the base
//! branch, in the repository's checkout.

use std::time::Duration;

use crate::git::git;
use flightdeck_core::{environments, runs, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::{NewEnvironment, NewTask, StartRun};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_finished_agent_run_shows_its_diff_and_merges_from_the_app() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("app.py"), "def login(user):\n    return False\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "first"]);
    // The "agent": fixes app.py and writes a note, leaving both uncommitted.
    let agent = work.path().join("agent.sh");
    std::fs::write(
        &agent,
        "printf 'def login(user):\\n    # checked against the store\\n    return user is not None\\n' > app.py\n\
         printf '%s\\n' \"$1\" > NOTES.md\n",
    )
    .unwrap();
    let run_id = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let env = environments::create(
            &store,
            NewEnvironment {
                name: "web".into(),
                repository: Some(repo.display().to_string()),
                agent_command: Some(format!("sh {} {{prompt}}", agent.display())),
                ..NewEnvironment::default()
            },
        )
        .unwrap();
        let task = tasks::create(
            &store,
            NewTask {
                title: "Fix the login check".into(),
                environment: Some(env.id),
                ..NewTask::default()
            },
        )
        .unwrap();
        runs::start_for_task(
            &store,
            &StartRun {
                task_id: task.id,
                shell: None,
                timeout_secs: Some(60),
            },
        )
        .unwrap()
        .id
    };

    // The app's worker runs it; its row opens its page.
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-runs]").unwrap())
        .unwrap();
    // A cell, not the row: WebKit's driver does not click a <tr> itself.
    let cell = format!(
        "[data-testid=run-row][data-id='{run_id}'][data-status=succeeded] [data-testid=run-what]"
    );
    let cell = poll::until("the run to succeed", WAIT, || {
        Ok(ui.find_all(&cell)?.into_iter().next())
    });
    ui.click(&cell).unwrap();

    let files = poll::until("the changed files", WAIT, || {
        let files = ui.find_all("[data-testid=changed-file]")?;
        let mut paths = Vec::new();
        for f in &files {
            paths.extend(ui.attribute(f, "data-path")?);
        }
        Ok((paths.len() == 2).then_some(paths))
    });
    assert_eq!(files, ["NOTES.md", "app.py"]);
    let branch = ui.texts("[data-testid=worktree-branch]").unwrap().remove(0);
    assert!(
        branch.starts_with("flightdeck/fix-the-login-check-"),
        "{branch}"
    );
    let lines = ui
        .texts("[data-testid=diff-file][data-path='app.py'] [data-testid=diff-line]")
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("return user is not None")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("return False")),
        "{lines:?}"
    );
    // Coloured by language: the Python comment and keywords are marked.
    assert!(!ui
        .find_all("[data-testid=diff-file][data-path='app.py'] .tok-comment")
        .unwrap()
        .is_empty());
    assert!(!ui
        .find_all("[data-testid=diff-file][data-path='app.py'] .tok-keyword")
        .unwrap()
        .is_empty());
    assert!(
        !repo.join("NOTES.md").exists(),
        "nothing reaches main before the merge"
    );

    ui.click(&ui.find("[data-testid=worktree-merge]").unwrap())
        .unwrap();
    poll::until("the state to read merged", WAIT, || {
        if let Some(error) = ui.texts("[data-testid=worktree-error]")?.into_iter().next() {
            panic!("the merge failed: {error}");
        }
        let state = ui.find_all("[data-testid=worktree-state]")?;
        Ok(match state.first() {
            Some(s) => (ui.attribute(s, "data-state")?.as_deref() == Some("merged")).then_some(()),
            None => None,
        })
    });
    let merged = ui.texts("[data-testid=worktree-merged]").unwrap().remove(0);
    let main = git(&repo, &["rev-parse", "main"]);
    assert!(
        merged.contains(&format!("Merged into main, now at {}", &main[..10])),
        "{merged}"
    );
    assert_eq!(
        ui.find_all("[data-testid=worktree-merge][disabled]")
            .unwrap()
            .len(),
        1,
        "Merge is off once merged"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("NOTES.md")).unwrap(),
        "Fix the login check\n"
    );
    assert!(std::fs::read_to_string(repo.join("app.py"))
        .unwrap()
        .contains("is not None"));
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn the_environment_editor_sets_the_repository_base_branch_and_context() {
    let data = tempfile::tempdir().unwrap();
    {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        environments::create(
            &store,
            NewEnvironment {
                name: "web".into(),
                ..NewEnvironment::default()
            },
        )
        .unwrap();
    }
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-environments]").unwrap())
        .unwrap();
    let row = poll::until("the environment listed", WAIT, || {
        Ok(ui.find_all("[data-testid=env-row]")?.into_iter().next())
    });
    ui.click(&row).unwrap();
    let repository = poll::until("the editor", WAIT, || {
        Ok(ui
            .find_all("[data-testid=edit-env-repository]")?
            .into_iter()
            .next())
    });
    ui.type_text(&repository, "/srv/web").unwrap();
    let base = ui.find("[data-testid=edit-env-base-branch]").unwrap();
    // Not a branch name: refused beside the field, nothing saved.
    ui.type_text(&base, "two words").unwrap();
    ui.click(&ui.find("[data-testid=save-env]").unwrap())
        .unwrap();
    let error = poll::until("the base branch error", WAIT, || {
        Ok(ui
            .texts("[data-testid=field-error-base_branch]")?
            .into_iter()
            .next())
    });
    assert!(error.contains("not a branch name"), "{error}");
    assert!(
        ui.find_all("[data-testid=env-saved]").unwrap().is_empty(),
        "a refused save says nothing was saved"
    );
    ui.clear(&base).unwrap();
    ui.type_text(&base, "develop").unwrap();
    ui.click(&ui.find("[data-testid=edit-env-context]").unwrap())
        .unwrap();
    ui.click(&ui.find("[data-testid=save-env]").unwrap())
        .unwrap();
    let saved = poll::until("the environment saved", WAIT, || {
        let store =
            Store::open_workspace(Some(data.path()), "default").map_err(|e| e.to_string())?;
        let env = environments::get(&store, "web").map_err(|e| e.to_string())?;
        Ok((env.base_branch.is_some()).then_some(env))
    });
    assert_eq!(saved.repository.as_deref(), Some("/srv/web"));
    assert_eq!(saved.base_branch.as_deref(), Some("develop"));
    assert!(!saved.agent_context);
    // Save says that it saved (issue 21, item 10).
    poll::until("Saved beside Save", WAIT, || {
        Ok(ui
            .texts("[data-testid=env-saved]")?
            .iter()
            .any(|t| t == "Saved")
            .then_some(()))
    });
}
