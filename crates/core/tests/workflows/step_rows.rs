//! Each step's state in a row of its own (`workflow_run_steps`): a boundary writes the rows
//! of the steps that moved, not every step again, and a run saved before that (its steps in
//! the `checkpoint` cell) still reads and runs on, moving its steps to rows.

use flightdeck_core::store::workflows as store_sql;
use flightdeck_core::workflows;
use flightdeck_types::{StepStatus, WorkflowRunStatus};

use super::rig::WfRig;
use crate::common::count;

/// A workflow `name` of `n` `true` steps, each needing the one before.
fn chain(name: &str, n: usize) -> String {
    let mut yaml = format!("name: {name}\nsteps:\n");
    for i in 0..n {
        yaml.push_str(&format!("  - id: s{i}\n    shell: 'true'\n"));
        if i > 0 {
            yaml.push_str(&format!("    needs: s{}\n", i - 1));
        }
    }
    yaml
}

#[test]
fn a_boundary_writes_only_the_rows_of_the_steps_that_moved() {
    let rig = WfRig::start();
    rig.apply(&chain("chain", 40));
    let run = rig.start_run("chain", &[]);
    let done = rig.succeeded(&run.id);
    assert_eq!(done.checkpoint.steps.len(), 40);
    assert!(done
        .checkpoint
        .steps
        .values()
        .all(|s| s.status == StepStatus::Succeeded));
    // Every step has its row, and the run's own cell holds no step.
    let rows = count(
        &rig.store,
        &format!(
            "SELECT count(*) FROM workflow_run_steps WHERE run_id = '{}'",
            run.id
        ),
    );
    assert_eq!(rows, 40);
    let cell_steps = rig
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT json_extract(checkpoint, '$.steps') FROM workflow_runs WHERE id = ?1",
                [&run.id],
                |r| r.get::<_, String>(0),
            )?)
        })
        .unwrap();
    assert_eq!(cell_steps, "{}");
    // A save where one step moved writes that step's row and the run's cell; one that
    // rewrote every step would change 40 rows or more.
    let changed = rig
        .store
        .write(|w| {
            let total = |w: &flightdeck_core::store::Writer<'_>| -> i64 {
                w.query_row("SELECT total_changes()", [], |r| r.get(0))
                    .unwrap()
            };
            let mut moved = store_sql::find_run(w, &run.id)?;
            let mut step = moved.checkpoint.steps["s7"].clone();
            step.error = Some("edited".into());
            moved.checkpoint.set_step("s7", step);
            let start = total(w);
            store_sql::save_run_state(w, &moved, Some(&moved.checkpoint.moved.0))?;
            Ok(total(w) - start)
        })
        .unwrap();
    assert!(
        changed < 10,
        "one step moved and {changed} rows were written"
    );
    let s7 = workflows::get_run(&rig.store, &run.id)
        .unwrap()
        .checkpoint
        .steps["s7"]
        .clone();
    assert_eq!(s7.error.as_deref(), Some("edited"));
}

#[test]
fn a_run_with_its_steps_in_the_checkpoint_cell_reads_and_runs_on_with_rows() {
    let mut rig = WfRig::idle();
    rig.apply(
        "name: old\nsteps:\n  - id: a\n    shell: echo one\n  - id: gate\n    needs: a\n    kind: approval\n  - id: b\n    needs: gate\n    shell: echo two\n",
    );
    let run = rig.start_run("old", &[]);
    let before = workflows::get_run(&rig.store, &run.id).unwrap();
    assert_eq!(before.checkpoint.steps.len(), 3);
    // As a build before per-step rows saved it: every step in the cell, no rows.
    let whole = serde_json::to_string(&before.checkpoint).unwrap();
    rig.store
        .read(|c| {
            c.execute(
                "UPDATE workflow_runs SET checkpoint = ?2 WHERE id = ?1",
                [&run.id, &whole],
            )?;
            c.execute(
                "DELETE FROM workflow_run_steps WHERE run_id = ?1",
                [&run.id],
            )?;
            Ok(())
        })
        .unwrap();
    let legacy = workflows::get_run(&rig.store, &run.id).unwrap();
    assert_eq!(legacy.checkpoint, before.checkpoint);

    // Saved again at `a`'s end and at the gate: `b`, which has not moved, keeps its state.
    rig.run_worker();
    let waiting = rig.wait_status(&run.id, WorkflowRunStatus::WaitingApproval);
    assert_eq!(
        waiting.checkpoint.steps.len(),
        3,
        "{:?}",
        waiting.checkpoint.steps.keys()
    );
    assert_eq!(waiting.checkpoint.steps["b"].status, StepStatus::Pending);
    let rows = count(
        &rig.store,
        &format!(
            "SELECT count(*) FROM workflow_run_steps WHERE run_id = '{}'",
            run.id
        ),
    );
    assert_eq!(rows, 3, "the steps moved to rows at the run's next save");

    workflows::approve(&rig.store, &run.id, "gate", None).unwrap();
    let done = rig.finished(&run.id);
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    let b = done.checkpoint.steps["b"].execution_id.clone().unwrap();
    assert_eq!(rig.stdout(&b), ["two"]);
}

#[test]
fn a_chain_step_costs_two_writes_its_claim_folded_into_the_end_before_it() {
    let rig = WfRig::start();
    rig.apply(&chain("twenty", 20));
    let before = rig.store.write_count();
    let run = rig.start_run("twenty", &[]);
    let done = rig.finished(&run.id);
    let writes = rig.store.write_count() - before;
    assert_eq!(
        done.status,
        WorkflowRunStatus::Succeeded,
        "{:?}",
        done.error
    );
    // Per step: its process record and its end (which claims the next step). A claim of its
    // own made it three per step (60 and more here); the start and the first claim, and a
    // heartbeat or two, are the rest.
    assert!(
        writes <= 20 * 2 + 6,
        "{writes} write transactions for 20 steps"
    );
    // The next step was claimed in the very write that ended the one before it.
    let runs = rig.step_runs(&run.id);
    for pair in runs.windows(2) {
        assert_eq!(
            pair[1].started_at,
            pair[0].finished_at,
            "{} was not claimed in the write that ended {}",
            pair[1].step_id.as_deref().unwrap_or_default(),
            pair[0].step_id.as_deref().unwrap_or_default()
        );
    }
}

/// Steps parsed once are reused at the next read only while they are still what the rows
/// hold: a save through another connection (another process) and a save rolled back are
/// both seen.
#[test]
fn steps_read_again_see_another_process_and_a_rollback() {
    let rig = WfRig::idle();
    rig.apply("name: pair\nsteps:\n  - id: a\n    shell: 'true'\n  - id: b\n    needs: a\n    shell: 'true'\n");
    let run = rig.start_run("pair", &[]);
    let error_of_b = |store: &flightdeck_core::Store| {
        workflows::get_run(store, &run.id).unwrap().checkpoint.steps["b"]
            .error
            .clone()
    };
    let edit = |store: &flightdeck_core::Store, text: &str, keep: bool| {
        let outcome = store.write(|w| {
            let mut moved = store_sql::find_run(w, &run.id)?;
            let mut step = moved.checkpoint.steps["b"].clone();
            step.error = Some(text.into());
            moved.checkpoint.set_step("b", step);
            store_sql::save_run_state(w, &moved, Some(&moved.checkpoint.moved.0))?;
            match keep {
                true => Ok(()),
                false => Err(flightdeck_core::CoreError::Refused("rolled back".into())),
            }
        });
        assert_eq!(outcome.is_ok(), keep);
    };
    assert_eq!(error_of_b(&rig.store), None);
    edit(&rig.store, "here", true);
    assert_eq!(error_of_b(&rig.store).as_deref(), Some("here"));

    let other = flightdeck_core::Store::open(&rig.dir.path().join("flightdeck.db")).unwrap();
    edit(&other, "there", true);
    assert_eq!(error_of_b(&rig.store).as_deref(), Some("there"));

    edit(&rig.store, "never", false);
    assert_eq!(error_of_b(&rig.store).as_deref(), Some("there"));
    assert_eq!(error_of_b(&other).as_deref(), Some("there"));
}

/// The database version that wrote column `col` of the row of `table` keyed `key = value`
/// (cr-sqlite's clock and key tables).
fn written_in(rig: &WfRig, table: &str, col: &str, key: &str) -> i64 {
    count(
        &rig.store,
        &format!(
            "SELECT c.db_version FROM {table}__crsql_clock c
             JOIN {table}__crsql_pks p ON p.__crsql_key = c.key
             WHERE {key} AND c.col_name = '{col}'"
        ),
    )
}

/// A step's end that claims the next step stages the step's history (its status events,
/// audit rows and snapshots: `store/staged.rs`), and the next write, the process record made
/// while the next step's command runs, moves it into the synced tables; the last step's end,
/// which claims nothing, moves its own. Nothing stays staged.
#[test]
fn a_chain_step_s_history_moves_in_the_write_after_its_end() {
    let rig = WfRig::start();
    rig.apply(&chain("staged", 3));
    let run = rig.start_run("staged", &[]);
    rig.succeeded(&run.id);
    let staged = rig
        .store
        .read(flightdeck_core::store::staged::count)
        .unwrap();
    assert_eq!(staged, 0, "nothing is left staged once the run ended");
    for (step, claims_next) in [("s0", true), ("s1", true), ("s2", false)] {
        let exec = rig.step_run(&run.id, step);
        let ended = written_in(
            &rig,
            "executions",
            "status",
            &format!("p.id = '{}'", exec.id),
        );
        let seq = count(
            &rig.store,
            &format!(
                "SELECT seq FROM execution_events
                 WHERE execution_id = '{}' AND kind = 'status' AND data = 'succeeded'",
                exec.id
            ),
        );
        let event = written_in(
            &rig,
            "execution_events",
            "data",
            &format!("p.execution_id = '{}' AND p.seq = {seq}", exec.id),
        );
        let audited = count(
            &rig.store,
            &format!(
                "SELECT count(*) FROM audit_log WHERE entity_id = '{}' AND action = 'transition'",
                exec.id
            ),
        );
        assert_eq!(audited, 2, "{step}: queued -> running -> succeeded");
        if claims_next {
            assert!(
                event > ended,
                "{step}: its end's event was moved by a later write ({event} vs {ended})"
            );
        } else {
            assert_eq!(event, ended, "{step}: the last end moved its own history");
        }
    }
}
