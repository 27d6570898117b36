-- 0004_folded_digests: the records already folded into each row's state (consumer/known.py).
--
-- The 8-byte BLAKE2b digests of the exact Kafka record values folded into `state` by a fold of the row's
-- logic_version, concatenated (at most 256). A replay with unchanged logic recognises its records here
-- and skips decoding and folding them; null (rows written before this migration, or by another logic
-- version) only means nothing is recognised: those records are folded again, as before.
ALTER TABLE {conversation} ADD COLUMN IF NOT EXISTS folded_digests bytea;
