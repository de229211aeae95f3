//! SQLite and PostgreSQL implementations of `works_core::Store`.
