-- 0005_state_lz4: compress conversation.state with LZ4 instead of PostgreSQL's default pglz.
--
-- A state document is ~3 KB of JSON, so nearly every written state is compressed, and pglz was the
-- largest single share of the batch upsert's server time (BENCHMARKS.md). LZ4 compresses several times
-- faster, to a similar size. Only values written from now on use it; stored pglz values stay readable.
--
-- LZ4 needs PostgreSQL 14 or later built with it (the PGDG and Debian packages are). On a server without
-- it the statement fails with feature_not_supported (or a syntax error before 14): the column then keeps
-- pglz, with a notice, and the migration still succeeds. EXECUTE keeps the DDL out of PL/pgSQL's
-- compile-time syntax check, so the handler also catches the pre-14 syntax error.
DO $migration$
BEGIN
    EXECUTE $ddl$ALTER TABLE {conversation} ALTER COLUMN state SET COMPRESSION lz4$ddl$;
EXCEPTION
    WHEN feature_not_supported OR syntax_error THEN
        RAISE NOTICE 'conversation.state keeps pglz compression: %', SQLERRM;
END
$migration$;
