//! A fan-out step (`foreach`) through the CLI: each item's output labelled with its item,
//! `status` counting the items, and `logs RUN ID[INDEX]` one item's output.

use super::common::{json, ok};

#[test]
fn a_fan_out_streams_each_item_and_status_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("fan.yaml");
    std::fs::write(
        &file,
        "name: fan\nparams:\n  repos: { type: list, default: [api, web, cli] }\nsteps:\n  - id: each\n    foreach: \"{{ params.repos }}\"\n    shell: echo \"checked {{ item }}\"\n",
    )
    .unwrap();
    ok(d, &["workflow", "apply", &file.display().to_string()]);
    let out = ok(d, &["workflow", "start", "fan", "--follow"]);
    for (i, repo) in ["api", "web", "cli"].iter().enumerate() {
        assert!(
            out.lines()
                .any(|l| l == format!("[each[{i}]] checked {repo}")),
            "{out}"
        );
    }
    let runs = json(d, &["workflow", "runs"]);
    let run = runs[0]["id"].as_str().unwrap().to_string();
    let status = ok(d, &["workflow", "status", &run]);
    assert!(
        status.contains("fan-out:   each: 3/3 items ended"),
        "{status}"
    );
    let one = ok(d, &["workflow", "logs", &run, "each[1]"]);
    assert_eq!(one.trim(), "[each[1]] checked web");
}
