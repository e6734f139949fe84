//! Wall-clock time: for record keeping (created/updated/audit times) and as the physical
//! part of the hybrid logical clock that orders concurrent edits (`store/hlc.rs`, which never
//! lets it step back).

use flightdeck_types::Timestamp;

pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn now() -> Timestamp {
    Timestamp(now_millis())
}

/// Waits, polling the clock, until the wall clock has passed the millisecond it reads now;
/// returns the new reading. Whatever is written after it is stamped later than everything
/// before it, on any store of this machine (tests and benchmarks that need writes in order).
pub fn next_millisecond() -> i64 {
    let now = now_millis();
    loop {
        let later = now_millis();
        if later > now {
            return later;
        }
        std::thread::yield_now();
    }
}
