//! Issue 20: the announcements that carry a small push's cells, delivered lost, repeated and
//! out of order on top of the random histories of `sync_random.rs`, leave every device
//! converged, as pulling alone does.

use flightdeck_core::sync::{account, announcements, client, pull_cursor};
use flightdeck_tests::sync_rig::keyring;
use flightdeck_types::sync::{Announcement, PROTOCOL_HEADER, PROTOCOL_VERSION};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{
    apply, check_converged, new_workspace, op, start_server, Device, Latest, Op, Store, DEVICES,
};

/// A step of a history whose devices also hear the server's announcements: an operation, or
/// the delivery to a device of one announcement with cells that its socket heard. The
/// announcements never picked are lost.
#[derive(Debug, Clone)]
enum Step {
    Op(Op),
    Deliver {
        dev: usize,
        pick: Pick,
        index: proptest::sample::Index,
    },
}

/// Which heard announcement a delivery picks (any one, by `index`, when there is none such).
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// The one that follows the device's pull cursor (the usual case).
    Next,
    /// One past the cursor: the next, or one whose predecessors this device has not seen
    /// (out of order, or after a lost one).
    Ahead,
    /// Any heard so far: a repeat, or one already pulled.
    Any,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => op().prop_map(Step::Op),
        3 => (0..DEVICES, 0..3u8, any::<proptest::sample::Index>()).prop_map(|(dev, pick, index)| {
            let pick = [Pick::Next, Pick::Ahead, Pick::Any][pick as usize];
            Step::Deliver { dev, pick, index }
        }),
    ]
}

type HeardLog = std::sync::Arc<std::sync::Mutex<Vec<Announcement>>>;

/// Opens a device's announcement socket, as its daemon would, and logs every announcement.
async fn listen(store: &Store) -> HeardLog {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let (url, token) = account::credentials(store, &keyring()).unwrap();
    let mut request = announcements::socket_url(&url)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers.insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let log = HeardLog::default();
    let heard = log.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let announcement = serde_json::from_str(text.as_str()).unwrap();
                heard.lock().unwrap().push(announcement);
            }
        }
    });
    log
}

/// Waits until every log has heard `head` (announcements take milliseconds).
async fn wait_heard(logs: &[HeardLog], head: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for log in logs {
        while !log.lock().unwrap().iter().any(|a| a.head >= head) {
            assert!(
                std::time::Instant::now() < deadline,
                "head {head} never announced"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// How many delivered announcements were applied, and how many were refused (their cursor
/// was not the device's).
#[derive(Debug, Default)]
struct Deliveries {
    applied: usize,
    refused: usize,
}

async fn deliver(
    device: &Device,
    log: &HeardLog,
    pick: Pick,
    index: &proptest::sample::Index,
) -> Option<bool> {
    let heard: Vec<Announcement> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.changes.is_some())
        .cloned()
        .collect();
    if heard.is_empty() {
        return None;
    }
    let cursor = pull_cursor(device.store()).unwrap();
    let ahead: Vec<&Announcement> = heard.iter().filter(|a| a.head > cursor).collect();
    let chosen = match pick {
        Pick::Next => heard.iter().find(|a| a.after == Some(cursor)),
        Pick::Ahead => (!ahead.is_empty()).then(|| *index.get(&ahead)),
        Pick::Any => None,
    }
    .unwrap_or_else(|| index.get(&heard));
    let applied = client::apply_announced(device.store(), chosen).unwrap();
    if let Some(report) = &applied {
        assert_eq!(pull_cursor(device.store()).unwrap(), chosen.head);
        assert_eq!(report.pulled_cells, chosen.changes.as_ref().unwrap().len());
    } else {
        assert_eq!(
            pull_cursor(device.store()).unwrap(),
            cursor,
            "a refusal writes nothing"
        );
    }
    Some(applied.is_some())
}

/// Issue 20: announcements that carry a small push's cells, delivered lost, repeated and out
/// of order on top of random histories, leave every device converged, as pulling alone does.
#[test]
fn announced_changes_lost_repeated_and_reordered_still_converge() {
    let runtime = flightdeck_tests::runtime();
    let server = runtime.block_on(start_server());
    let case = std::sync::atomic::AtomicUsize::new(0);
    let deliveries = std::sync::Mutex::new(Deliveries::default());
    let config = Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = proptest::test_runner::TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&proptest::collection::vec(step(), 20..60), |steps| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            runtime.block_on(async {
                let token = new_workspace(&server, &format!("announced-{case}")).await;
                let mut devices = Vec::new();
                let mut logs = Vec::new();
                for _ in 0..DEVICES {
                    let device = Device::join(&server, &token).await;
                    logs.push(listen(device.store()).await);
                    devices.push(device);
                }
                let mut latest = Latest::new();
                for step in &steps {
                    flightdeck_core::clock::next_millisecond();
                    match step {
                        Step::Op(Op::Sync { dev }) => {
                            let report = account::sync_now(devices[*dev].store(), &keyring())
                                .await
                                .unwrap();
                            wait_heard(&logs, report.server_head).await;
                        }
                        Step::Op(op) => apply(&mut devices, op, &mut latest).await,
                        Step::Deliver { dev, pick, index } => {
                            match deliver(&devices[*dev], &logs[*dev], *pick, index).await {
                                Some(true) => deliveries.lock().unwrap().applied += 1,
                                Some(false) => deliveries.lock().unwrap().refused += 1,
                                None => {}
                            }
                        }
                    }
                }
                for _ in 0..2 {
                    for device in &devices {
                        device.sync().await;
                    }
                }
                check_converged(&server, &token, &devices, &latest).await
            })
        })
        .unwrap();
    let deliveries = deliveries.into_inner().unwrap();
    eprintln!("{deliveries:?}");
    // Both paths ran: announcements applied in place of a pull, and refused ones.
    assert!(deliveries.applied >= 20, "{deliveries:?}");
    assert!(deliveries.refused >= 40, "{deliveries:?}");
}
