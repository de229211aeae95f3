//! The HTTP adapter: JSON API under /api/v1 and the web UI.
