-- 0001_init: the conversation table, the queue directory, fenced consumer offsets, the runtime role.
--
-- Template rules (consumer/ops/migrate.py renders this file with psycopg.sql):
--   a placeholder in single braces naming the conversation table, or conversation_SUFFIX, becomes a
--   quoted identifier (the table from PostgresSettings.table, or TABLE_SUFFIX for its indexes);
--   a literal brace must be doubled. Keep this file brace-free otherwise.
-- All times are timestamptz (UTC). Applied in one transaction, under the migration advisory lock.

CREATE TABLE IF NOT EXISTS {conversation} (
    conversation_id                      text PRIMARY KEY,
    conversation_start                   timestamptz,
    conversation_end                     timestamptz,
    originating_direction                text,
    original_media_type                  text,
    conversation_initiator               text,
    calculated_status                    text,              -- null only on an error-only row
    status_changed_at                    timestamptz,
    last_queue_id                        text,
    last_queue_name                      text,
    external_tag                         text,
    division_ids                         text[] NOT NULL DEFAULT ARRAY[]::text[],
    customer_participation               boolean,
    self_served                          boolean,
    media_stats_min_conversation_mos     double precision,
    media_stats_min_conversation_rfactor double precision,
    error_message                        text,
    error_at                             timestamptz,
    state                                jsonb,             -- null only on an error-only row
    last_event_at                        timestamptz,
    logic_version                        integer,           -- null only on an error-only row
    db_when_created                      timestamptz NOT NULL DEFAULT now(),
    db_last_updated                      timestamptz NOT NULL DEFAULT now()
);

-- Dashboards: counts by status, status by queue.
CREATE INDEX IF NOT EXISTS {conversation_status_queue_idx}
    ON {conversation} (calculated_status, last_queue_id);
-- Dashboards: waiting by queue and the oldest waiting conversation (small: only waiting rows).
CREATE INDEX IF NOT EXISTS {conversation_waiting_idx}
    ON {conversation} (last_queue_id, status_changed_at)
    WHERE calculated_status = 'waiting_in_queue';
-- Per-queue drill-down and the queue-name refresh when the directory renames a queue.
CREATE INDEX IF NOT EXISTS {conversation_last_queue_idx}
    ON {conversation} (last_queue_id);
-- Incremental extraction and "changed since" queries.
CREATE INDEX IF NOT EXISTS {conversation_db_last_updated_idx}
    ON {conversation} (db_last_updated);

CREATE TABLE IF NOT EXISTS queue (
    queue_id    text PRIMARY KEY,
    name        text,
    division_id text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS consumer_offset (
    group_id    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Least privilege: the runtime logs in as its own role (created by the DBA, never here, so no password
-- lives in a migration) that is a member of convstream_runtime: row reads and writes, no DDL.
-- Roles are cluster-wide: two databases may create it at once, hence the duplicate handlers.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'convstream_runtime') THEN
        BEGIN
            CREATE ROLE convstream_runtime NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'convstream migrate: cannot create role convstream_runtime'
                    USING HINT = 'run CREATE ROLE convstream_runtime NOLOGIN as a role with CREATEROLE, then migrate again',
                          ERRCODE = 'insufficient_privilege';
        END;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO convstream_runtime', current_schema());
    BEGIN
        -- The COPY write path stages rows in a session-local temp table.
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO convstream_runtime', current_database());
    EXCEPTION
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'convstream migrate: could not grant TEMPORARY on the database; PUBLIC usually has it';
    END;
END
$$;

GRANT SELECT, INSERT, UPDATE ON {conversation}, queue, consumer_offset TO convstream_runtime;
GRANT SELECT ON schema_migrations TO convstream_runtime;
