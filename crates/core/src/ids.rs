//! Entity ids: UUIDv7 text, so that ids sort by creation time and never collide across devices.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
