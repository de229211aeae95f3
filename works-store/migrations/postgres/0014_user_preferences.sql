-- Preferences of one person: the layout of their Command Center, as a JSON document
-- checked by the core before it is written. One row per user; only that user reads or
-- writes it. Timestamps are unix milliseconds.

CREATE TABLE user_preferences (
    user_id    TEXT   NOT NULL PRIMARY KEY REFERENCES users (id),
    layout     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
