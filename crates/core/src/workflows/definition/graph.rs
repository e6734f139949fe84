//! The steps as a graph: duplicate ids, unknown `needs`, cycles, and what a step waits for.

use std::collections::{BTreeSet, HashMap};

use flightdeck_types::WorkflowDefinition;

/// Duplicate ids, unknown `needs`, and cycles (named by their steps).
pub(super) fn check_graph(d: &WorkflowDefinition, problems: &mut Vec<String>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, step) in d.steps.iter().enumerate() {
        if let Some(first) = seen.insert(&step.id, i) {
            problems.push(format!(
                "duplicate step id `{}` (steps {} and {})",
                step.id,
                first + 1,
                i + 1
            ));
        }
    }
    for step in &d.steps {
        for need in &step.needs {
            if !seen.contains_key(need.as_str()) {
                problems.push(format!(
                    "step `{}`, field `needs`: unknown step `{need}`",
                    step.id
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(d) {
        problems.push(format!("a cycle in `needs`: {}", cycle.join(" -> ")));
    }
}

/// One cycle through `needs`, as step ids with the first repeated at the end.
pub fn find_cycle(d: &WorkflowDefinition) -> Option<Vec<String>> {
    let needs: HashMap<&str, &[String]> = d
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.needs.as_slice()))
        .collect();
    // 0 unvisited, 1 on the current path, 2 done.
    let mut mark: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        id: &'a str,
        needs: &HashMap<&'a str, &'a [String]>,
        mark: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(id).copied().unwrap_or(0) {
            2 => return None,
            1 => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(id.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(id, 1);
        path.push(id);
        for next in needs.get(id).copied().unwrap_or_default() {
            if needs.contains_key(next.as_str()) {
                if let Some(c) = visit(next, needs, mark, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        mark.insert(id, 2);
        None
    }
    for step in &d.steps {
        let mut path = Vec::new();
        if let Some(c) = visit(&step.id, &needs, &mut mark, &mut path) {
            return Some(c);
        }
    }
    None
}

/// Every step `id` waits for, directly or not.
pub fn ancestors<'a>(d: &'a WorkflowDefinition, id: &str) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&str> = d
        .step(id)
        .map(|s| s.needs.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(next) = stack.pop() {
        if let Some(step) = d.step(next) {
            if out.insert(step.id.as_str()) {
                stack.extend(step.needs.iter().map(String::as_str));
            }
        }
    }
    out
}
