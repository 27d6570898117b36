-- 0002_queue_name_source: remember where a row's last_queue_name came from (SPEC §4.4).
--
-- true: an event carried the queue name (it wins over the directory; a rename never touches it);
-- false: the name was resolved from the queue directory (or there is none yet), so a rename or a late
-- directory entry refreshes it; null: written before this migration (the refresh then falls back to
-- "null or equal to the directory's previous name").
ALTER TABLE {conversation} ADD COLUMN IF NOT EXISTS last_queue_name_from_event boolean;
