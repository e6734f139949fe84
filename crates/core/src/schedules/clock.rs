//! The scheduler's notion of now, injectable so tests can move time by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use flightdeck_types::Timestamp;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        crate::clock::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.as_millis()))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.as_millis(), Ordering::SeqCst);
    }

    pub fn advance_secs(&self, secs: i64) -> Timestamp {
        Timestamp(self.0.fetch_add(secs * 1000, Ordering::SeqCst) + secs * 1000)
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
