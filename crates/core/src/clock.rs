//! Wall-clock time for record keeping (created/updated/audit times). Never used to order
//! changes: cr-sqlite's logical clocks do that.

use flightdeck_types::Timestamp;

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn now() -> Timestamp {
    Timestamp(now_millis())
}
