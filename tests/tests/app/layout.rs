//! The app from 800x600 up to 1920x1080 (issue 21, item 6): every view with its data, checked
//! in the window's own layout: nothing scrolls sideways, no control sits outside the view (or
//! outside a table that scrolls itself), no select too narrow to show its choice, no button
//! with clipped text, every board column on screen, one height for inputs and selects, the
//! view's title its largest text (the type scale's hierarchy); the sidebar folds away on a
//! small window and comes back as a drawer, and folds and unfolds on a large one. In the dark theme a placeholder is clearly dimmer than a value, and an
//! environment's variables line up with the input row that adds one (item 10).

use flightdeck_core::{environments, memory, runs, schedules, tasks, Store};
use flightdeck_tests::app::App;
use flightdeck_tests::poll;
use flightdeck_tests::webdriver::Session;
use flightdeck_types::{
    ExecutionSpec, NewEnvironment, NewExecution, NewMemory, NewSchedule, NewTask, ShellSpec,
    TaskStatus,
};

use super::WAIT;

/// What is wrong with the layout of the view on screen, one line per problem (see the
/// module comment).
const PROBLEMS: &str = r#"
const content = document.querySelector('.content');
const box = content.getBoundingClientRect();
const out = [];
const name = el => (el.getAttribute('data-testid') || el.tagName.toLowerCase())
    + ' "' + (el.textContent || el.value || '').trim().slice(0, 24) + '"';
if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push('the window scrolls sideways: ' + document.documentElement.scrollWidth);
if (content.scrollWidth > content.clientWidth + 1)
    out.push('the view scrolls sideways: ' + content.scrollWidth + ' > ' + content.clientWidth);
const scrollsItself = el => {
    for (let p = el.parentElement; p && p !== content; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (s.overflowX === 'auto' || s.overflowX === 'scroll') return true;
    }
    return false;
};
const measure = document.createElement('canvas').getContext('2d');
for (const el of content.querySelectorAll('button, select, input, textarea')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (el.type === 'checkbox' || el.type === 'radio') continue;
    if (!scrollsItself(el) && (r.left < box.left - 1 || r.right > box.right + 1))
        out.push(name(el) + ' outside the view: ' + Math.round(r.left) + '..' + Math.round(r.right)
            + ' of ' + Math.round(box.left) + '..' + Math.round(box.right));
    if (el.tagName === 'SELECT' && el.selectedIndex >= 0) {
        const text = el.options[el.selectedIndex].text;
        measure.font = getComputedStyle(el).font;
        const need = Math.min(measure.measureText(text).width, 120) + 20;
        if (r.width < need)
            out.push(name(el) + ' too narrow for "' + text + '": ' + Math.round(r.width) + ' < ' + Math.round(need));
    }
    if (el.tagName === 'BUTTON' && el.scrollWidth > el.clientWidth + 1)
        out.push(name(el) + ' clips its text');
}
const heights = [...content.querySelectorAll('input.input, select.input')]
    .filter(e => e.type !== 'checkbox' && e.type !== 'radio')
    .map(e => e.getBoundingClientRect().height)
    .filter(h => h > 0);
if (heights.length && Math.max(...heights) - Math.min(...heights) > 1)
    out.push('inputs and selects differ in height: ' + Math.min(...heights) + ' to ' + Math.max(...heights));
// An environment's variables: each column's text starts where the text typed into the input
// row below it does.
const textStart = el => { const c = getComputedStyle(el); return el.getBoundingClientRect().left
    + parseFloat(c.borderLeftWidth) + parseFloat(c.paddingLeft); };
const variable = content.querySelector('[data-testid=env-var]');
if (variable) {
    const inputs = ['var-name', 'var-value'].map(t => content.querySelector('[data-testid=' + t + ']'));
    inputs.forEach((input, i) => {
        const cell = variable.children[i];
        if (!input || Math.abs(textStart(cell) - textStart(input)) > 1)
            out.push('variable column ' + i + ' does not line up with its input: '
                + Math.round(textStart(cell)) + ' vs ' + (input ? Math.round(textStart(input)) : 'none'));
    });
}
// Hierarchy: the view's title is its largest text, well above the body's size.
const title = content.querySelector('.view h1');
if (title) {
    const size = parseFloat(getComputedStyle(title).fontSize);
    const base = parseFloat(getComputedStyle(content).fontSize);
    if (size < 1.4 * base) out.push('the title is barely above the text: ' + size + ' vs ' + base);
    for (const el of content.querySelectorAll('.view *')) {
        if (el === title || title.contains(el)) continue;
        const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        const r = el.getBoundingClientRect();
        if (!text || r.width === 0) continue;
        if (parseFloat(getComputedStyle(el).fontSize) >= size)
            out.push(name(el) + ' is as large as the title: ' + getComputedStyle(el).fontSize);
    }
}
for (const col of content.querySelectorAll('[data-testid=board-column]')) {
    const r = col.getBoundingClientRect();
    if (r.left < box.left - 1 || r.right > box.right + 1 || r.width < 120)
        out.push('board column ' + col.getAttribute('data-status') + ' not on screen: '
            + Math.round(r.left) + '..' + Math.round(r.right));
}
return out;
"#;

/// The task title input's value colour, its placeholder's colour and the colour scheme, as
/// computed in the theme on screen. WebKit computes no style for `::placeholder`, so the
/// placeholder's colour is the one the stylesheet's `::placeholder` rules matching the input
/// give, its variables resolved on the input (WebKit's own grey when none does).
const PLACEHOLDER_COLOURS: &str = r#"
const input = document.querySelector('[data-testid=new-task-title]');
let colour = 'darkgray';
for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
        const selector = rule.selectorText || '';
        if (!selector.includes('::placeholder') || !rule.style.color) continue;
        const own = selector.split(',').map(s => s.trim()).filter(s => s.endsWith('::placeholder'))
            .map(s => s.slice(0, -'::placeholder'.length));
        if (!own.some(s => input.matches(s))) continue;
        colour = rule.style.color.replace(/var\((--[\w-]+)\)/,
            (_, name) => getComputedStyle(input).getPropertyValue(name).trim());
    }
}
const probe = document.createElement('span');
probe.style.color = colour;
input.parentElement.appendChild(probe);
const resolved = getComputedStyle(probe).color;
probe.remove();
return [getComputedStyle(input).color, resolved,
        getComputedStyle(document.querySelector('.shell')).colorScheme];
"#;

fn shell(line: &str) -> Option<ExecutionSpec> {
    Some(ExecutionSpec::Shell(ShellSpec {
        line: Some(line.into()),
        ..Default::default()
    }))
}

/// A workspace with something in every view: tasks in every column, an environment with a
/// variable and a secret, a schedule, a run that succeeded and one that failed, memories.
fn seeded() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open_workspace(Some(data.path()), "default").unwrap();
    let env = environments::create(
        &store,
        NewEnvironment {
            name: "backend-services".into(),
            working_dir: Some("/tmp".into()),
            env_vars: [("RUST_LOG".to_string(), "info".to_string())].into(),
            secret_vars: vec!["OPENAI_API_KEY".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let mut first = None;
    for (title, status) in [
        ("Fix the flaky login test on CI", TaskStatus::Todo),
        ("Migrate billing to the new API", TaskStatus::InProgress),
        ("Upgrade Postgres on staging", TaskStatus::Blocked),
        ("Nightly dependency audit", TaskStatus::Done),
        ("Drop the old reports page", TaskStatus::Cancelled),
    ] {
        let task = tasks::create(
            &store,
            NewTask {
                title: title.into(),
                status: Some(status),
                environment: Some(env.id.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        first.get_or_insert(task);
    }
    let task = first.unwrap();
    schedules::add(
        &store,
        serde_json::from_value::<NewSchedule>(serde_json::json!({
            "name": "nightly dependency audit",
            "task_id": task.id,
            "kind": "cron",
            "cron_expr": "0 2 * * *",
            "spec": shell("echo audit"),
        }))
        .unwrap(),
    )
    .unwrap();
    for line in ["echo fine", "exit 3"] {
        runs::queue(
            &store,
            NewExecution {
                task_id: Some(task.id.clone()),
                spec: shell(line),
                ..Default::default()
            },
        )
        .unwrap();
    }
    for content in [
        "The staging database is wiped and reloaded every night at 02:00 UTC",
        "Run the billing migrations with --dry-run first; they lock the ledger",
    ] {
        let input = NewMemory {
            content: content.into(),
            ..Default::default()
        };
        memory::add(&store, None, input).unwrap();
    }
    data
}

/// The relative luminance (0 to 255) of a CSS `rgb(...)` or `rgba(...)` colour.
fn luminance(css: &str) -> f64 {
    let parts: Vec<f64> = css
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .split([',', ')', ' '])
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    assert!(parts.len() >= 3, "not an rgb colour: {css}");
    0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]
}

/// Whether the element matching `css` takes room on screen.
fn shown(ui: &Session, css: &str) -> bool {
    let script = format!(
        "const e = document.querySelector('{css}'); \
         if (!e) return false; const r = e.getBoundingClientRect(); \
         return r.width > 0 && r.height > 0;"
    );
    ui.execute(&script).unwrap().as_bool().unwrap_or(false)
}

/// Opens the view of nav item `nav`, through the folded sidebar's drawer when it is folded,
/// and waits for `ready` in it.
fn open(ui: &Session, nav: &str, ready: &str) {
    let item = format!("[data-testid=nav-{nav}]");
    if !shown(ui, &item) {
        ui.click(&ui.find("[data-testid=nav-toggle]").unwrap())
            .unwrap();
        poll::until("the sidebar's drawer", WAIT, || {
            Ok(shown(ui, &item).then_some(()))
        });
    }
    ui.click(&ui.find(&item).unwrap()).unwrap();
    poll::until(ready, WAIT, || {
        Ok((!ui.find_all(ready)?.is_empty()).then_some(()))
    });
}

/// Every view at the window's current size: what [`PROBLEMS`] finds, by view.
fn problems_in_every_view(ui: &Session) -> Vec<String> {
    let views = [
        ("tasks", "[data-testid=board-column]"),
        ("environments", "[data-testid=env-row]"),
        ("runs", "[data-testid=run-row][data-status=failed]"),
        ("workflows", "[data-testid=workflows]"),
        ("schedules", "[data-testid=schedule-row]"),
        ("errors", "[data-testid=error-row]"),
        ("insights", "[data-testid=insights]"),
        ("memory", "[data-testid=memory-row]"),
        ("sync", "[data-testid=sync]"),
        ("settings", "[data-testid=theme-dark]"),
    ];
    let mut found = Vec::new();
    for (nav, ready) in views {
        open(ui, nav, ready);
        if nav == "environments" {
            ui.click(&ui.find("[data-testid=env-row]").unwrap())
                .unwrap();
            poll::until("the environment's editor", WAIT, || {
                Ok((!ui.find_all("[data-testid=secret-var]")?.is_empty()).then_some(()))
            });
        }
        let listed = ui.execute(PROBLEMS).unwrap();
        for problem in listed.as_array().cloned().unwrap_or_default() {
            found.push(format!("{nav}: {}", problem.as_str().unwrap_or_default()));
        }
    }
    found
}

#[test]
fn every_view_fits_from_800x600_to_1920x1080_and_the_sidebar_folds() {
    let data = seeded();
    let app = App::launch(data.path());
    let ui = app.session();
    poll::until("the board", WAIT, || {
        Ok((!ui.find_all("[data-testid=board-column]")?.is_empty()).then_some(()))
    });

    let (width, _) = ui.set_window_size(800, 600).unwrap();
    assert!(width <= 800, "the window did not shrink: {width}");
    poll::until("the sidebar folded on a small window", WAIT, || {
        Ok((!shown(ui, "[data-testid=nav-tasks]")).then_some(()))
    });
    let small = problems_in_every_view(ui);
    // The drawer closes once a view is picked from it.
    assert!(
        !shown(ui, "[data-testid=nav-tasks]"),
        "the drawer stayed open"
    );

    let (width, _) = ui.set_window_size(1920, 1080).unwrap();
    assert!(width > 1200, "the window did not grow: {width}");
    poll::until("the sidebar back on a large window", WAIT, || {
        Ok(shown(ui, "[data-testid=nav-tasks]").then_some(()))
    });
    let large = problems_in_every_view(ui);
    assert!(
        small.is_empty() && large.is_empty(),
        "at 800x600:\n{}\nat 1920x1080:\n{}",
        small.join("\n"),
        large.join("\n")
    );

    // In the dark theme, a placeholder is clearly dimmer than a typed value.
    open(ui, "settings", "[data-testid=theme-dark]");
    ui.click(&ui.find("[data-testid=theme-dark]").unwrap())
        .unwrap();
    open(ui, "tasks", "[data-testid=new-task-title]");
    let colours = ui.execute(PLACEHOLDER_COLOURS).unwrap();
    let text = |i: usize| colours[i].as_str().unwrap_or_default().to_string();
    assert_eq!(text(2), "dark", "{colours}");
    let (value, placeholder) = (luminance(&text(0)), luminance(&text(1)));
    assert!(
        placeholder <= 0.6 * value,
        "placeholder {} is not clearly dimmer than value {}",
        text(1),
        text(0)
    );

    // Folded and unfolded by hand on a large window.
    ui.click(&ui.find("[data-testid=nav-toggle]").unwrap())
        .unwrap();
    poll::until("the sidebar folded by hand", WAIT, || {
        Ok((!shown(ui, "[data-testid=nav-tasks]")).then_some(()))
    });
    ui.click(&ui.find("[data-testid=nav-toggle]").unwrap())
        .unwrap();
    poll::until("the sidebar unfolded by hand", WAIT, || {
        Ok(shown(ui, "[data-testid=nav-tasks]").then_some(()))
    });
}
