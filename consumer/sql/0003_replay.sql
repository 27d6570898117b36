-- 0003_replay: coordination of `convstream replay --coordinate` with running consumers, and the history
-- of `convstream rebuild` swaps (SPEC §8).
--
-- replay_request: one row per consumer group; `convstream replay --execute --coordinate` bumps
-- generation in the same transaction as the new consumer_offset values. Running consumers read it every
-- few seconds; a new generation makes them drop what they fetched and seek to the stored offsets.
CREATE TABLE IF NOT EXISTS replay_request (
    group_id     text PRIMARY KEY,
    generation   bigint NOT NULL DEFAULT 0,
    requested_at timestamptz NOT NULL DEFAULT now(),
    detail       jsonb
);

-- conversation_swap: each rebuild swap (kind swap) and rollback (kind rollback). retired_table is the
-- name the previous content got; retired_group the consumer_offset namespace holding the offsets that
-- content was consistent with (what a rollback hands back to the live group).
CREATE TABLE IF NOT EXISTS conversation_swap (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('swap', 'rollback')),
    live_table      text NOT NULL,
    installed_table text NOT NULL,
    retired_table   text NOT NULL,
    group_id        text NOT NULL,
    retired_group   text NOT NULL,
    swapped_at      timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON replay_request TO convstream_runtime;
GRANT SELECT ON conversation_swap TO convstream_runtime;
