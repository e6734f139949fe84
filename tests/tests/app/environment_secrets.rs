//! An environment's secrets in the app (issue 21, item 9): set from the form, then one removed
//! after asking, as `flightdeck env secret rm`: gone from the environment and its value from
//! the keyring, the other secret untouched.

use flightdeck_core::secrets::{env_secret_account, OsKeyring, SecretStore};
use flightdeck_core::{environments, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_types::NewEnvironment;

use super::WAIT;

/// The environment's secret variables, as the engine has them.
fn secret_vars(data: &std::path::Path, id: &str) -> Result<Vec<String>, String> {
    let store = Store::open_workspace(Some(data), "default").map_err(|e| e.to_string())?;
    let env = environments::get(&store, id).map_err(|e| e.to_string())?;
    Ok(env.secret_vars)
}

fn listed(ui: &flightdeck_tests::webdriver::Session) -> Result<Vec<String>, String> {
    ui.texts("[data-testid=secret-var]")
}

#[test]
fn a_secret_is_removed_after_asking_from_the_environment_and_the_keyring() {
    let data = tempfile::tempdir().unwrap();
    let env = {
        let store = Store::open_workspace(Some(data.path()), "default").unwrap();
        let input = NewEnvironment {
            name: "vault".into(),
            ..NewEnvironment::default()
        };
        environments::create(&store, input).unwrap()
    };
    let keyring = OsKeyring::from_env().unwrap();
    let app = App::launch(data.path());
    let ui = app.session();
    ui.click(&ui.find("[data-testid=nav-environments]").unwrap())
        .unwrap();
    let row = poll::until("the environment's row", WAIT, || {
        Ok(ui.find_all("[data-testid=env-row]")?.into_iter().next())
    });
    ui.click(&row).unwrap();

    // Two secrets set from the form.
    for (name, value) in [("ALPHA_KEY", "alpha-value"), ("BETA_KEY", "beta-value")] {
        let field = poll::until("the secret form", WAIT, || {
            Ok(ui.find_all("[data-testid=secret-name]")?.into_iter().next())
        });
        ui.type_text(&field, name).unwrap();
        ui.type_text(&ui.find("[data-testid=secret-value]").unwrap(), value)
            .unwrap();
        ui.click(&ui.find("[data-testid=secret-save]").unwrap())
            .unwrap();
        poll::until("the secret listed as set", WAIT, || {
            Ok(listed(ui)?
                .iter()
                .any(|t| t.contains(name) && t.contains("set on this device"))
                .then_some(()))
        });
    }
    let beta = env_secret_account(&env.id, "BETA_KEY");
    assert_eq!(keyring.get(&beta).unwrap().as_deref(), Some("beta-value"));

    // Asked first; Cancel keeps it.
    let remove = ui.find_all("[data-testid=remove-secret]").unwrap();
    assert_eq!(remove.len(), 2, "one Remove per secret");
    ui.click(&remove[1]).unwrap();
    let prompt = poll::until("the question", WAIT, || {
        Ok(ui
            .texts("[data-testid=confirm-secret-delete-prompt]")?
            .into_iter()
            .next())
    });
    assert!(
        prompt.contains("BETA_KEY") && prompt.contains("vault"),
        "{prompt}"
    );
    ui.click(&ui.find("[data-testid=cancel-secret-delete]").unwrap())
        .unwrap();
    poll::until("the question gone", WAIT, || {
        Ok(ui
            .find_all("[data-testid=confirm-secret-delete-prompt]")?
            .is_empty()
            .then_some(()))
    });
    assert_eq!(
        secret_vars(data.path(), &env.id).unwrap(),
        ["ALPHA_KEY", "BETA_KEY"]
    );

    // Confirmed: gone from the list, the engine and the keyring; ALPHA_KEY kept.
    ui.click(&ui.find_all("[data-testid=remove-secret]").unwrap()[1])
        .unwrap();
    ui.click(&ui.find("[data-testid=confirm-secret-delete]").unwrap())
        .unwrap();
    poll::until("BETA_KEY removed", WAIT, || {
        let shown = listed(ui)?;
        Ok((shown.len() == 1
            && shown[0].contains("ALPHA_KEY")
            && secret_vars(data.path(), &env.id)? == ["ALPHA_KEY"])
        .then_some(()))
    });
    assert_eq!(keyring.get(&beta).unwrap(), None);
    let alpha = env_secret_account(&env.id, "ALPHA_KEY");
    assert_eq!(keyring.get(&alpha).unwrap().as_deref(), Some("alpha-value"));
}
