//! Tests of the guarantees Anthropy Works makes, run over the core facade on every
//! store backend. The tests live in `tests/`; this library holds their fixtures.
