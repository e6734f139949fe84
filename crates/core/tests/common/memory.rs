//! The real all-MiniLM-L6-v2, loaded once per test binary.

use std::sync::OnceLock;

use flightdeck_core::memory::MiniLm;

pub fn minilm() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        MiniLm::load_default().expect(
            "the all-MiniLM-L6-v2 model is needed: run scripts/setup.sh or set FLIGHTDECK_MODEL_DIR",
        )
    })
}
