//! `works_core::Api` over HTTP.
