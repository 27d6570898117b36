"""The fixed prose of ``BENCHMARKS.md``: method, profile, gaps, tuning history, peer (bench/report.py)."""

from __future__ import annotations

__all__ = ["GAPS", "METHOD", "PEER", "PROFILE", "TUNING"]

METHOD = [
    "- All scenarios use the simulator's default event mix (`convstream bridge --source simulator "
    "--events N --workers 2` with `CONVSTREAM_BRIDGE__LINGER_MS=200`, seed 1: two independent shards of "
    "the contact center, ≈6 snapshot events per conversation), pre-loaded once into a fresh 12-partition "
    "topic. Its wall rate, start-up of the two worker processes included, is the simulator → Kafka figure.",
    "- Rates of subprocess consumers (`convstream consume --until-end`) are events / (exit time − first "
    "`partitions assigned` log line): start-up (imports, connections, group join) excluded; the rate "
    "including start-up is in the JSON. The ceiling and naive timers start at the first record.",
    "- Decode-only ceiling: `confluent_kafka.Consumer.consume(1000)` + `consumer.codec.avro.decode_value` "
    "per record, nothing else (bench/ceiling.py).",
    "- Naive: bench/naive.py, one message at a time: decode, `SELECT state`, fold, the same guarded upsert "
    "statement, Postgres COMMIT, synchronous Kafka commit; same tables, time-boxed.",
    "- Memory: VmRSS of the one-process consumer sampled every second alongside `count(*)` of the table. "
    "The RSS at 10 k / 100 k rows (distinct conversations) is the median of the 11 samples around the first "
    "one with that many rows: the allocator saw-tooths by ~30 MB with a ~10 s period, so one sample mostly "
    "says where on a tooth it fell (the single samples are in the JSON). The peak is the highest sample.",
    "- Replay: `convstream replay --to-earliest --execute` on the one-process run's group, then "
    "`consume --until-end` again (logic unchanged: 0 rows rewritten expected).",
    "- Latency: the bridge has no pacing option, so the harness republishes the pre-loaded records (already "
    "Avro-framed, same keys) into a fresh topic in 20 ms chunks at 5,000/s while a consumer runs. Latency "
    "per record = first time a 20 ms poller saw its offset committed in `consumer_offset` − the record's "
    "Kafka timestamp (CreateTime). The first record is published and flushed before the paced run and not "
    "counted: the idempotent producer's first delivery waits ~0.5 s for its producer id, which would "
    "otherwise show up as consumer latency. The consumer's `convstream_event_to_row_latency_seconds` "
    "histogram is not usable here: it measures commit time − *event* time, and simulated event times are "
    "not wall clock.",
    "- The devstack Postgres runs with fsync=off and synchronous_commit=off (see Machine), which flatters "
    "per-commit patterns (the naive baseline most).",
]

PROFILE = [
    "Profiled with py-spy (`record --idle --nonblocking`, 100 Hz: wall-clock samples, waiting included) on "
    "`convstream consume --until-end` over 300 k events of the default mix into an empty table, one "
    "process, defaults, migration 0005 (LZ4) applied; share of the main thread's samples:",
    "",
    "| Part | share of wall time |",
    "|---|---:|",
    "| **waiting for Postgres** | **35 %** |",
    "| · the guarded upsert from the staging table (~190 rows of ~3 KB JSONB per batch) | 18 % |",
    "| · the end of the COPY into the staging table | 7 % |",
    "| · the batch's SELECTs (digests, states), begin/commit, offsets, queue locks | 10 % |",
    "| decode (C reader, framing and checks) | 14 % |",
    "| fold | 13 % |",
    "| freeing the batch's objects when it is done | 8 % |",
    "| rows to COPY values (row_values, orjson) | 5 % |",
    "| poll (librdkafka consume, Record objects) | 5 % |",
    "| derive the rows, collect their digests | 4 % |",
    "| known-record check (keys, BLAKE2b digests, split) | 3 % |",
    "| serialize state (state_to_json) | 2 % |",
    "| state_from_json of loaded states | 1 % |",
    "| start-up and shutdown (outside the measured rate) | 6 % |",
    "| the rest (batching, grouping, metrics) | 4 % |",
    "",
    "Postgres is the server's own time: the upsert parses each state's JSON into JSONB (~30 µs per 3 KB "
    "document), TOAST-compresses it and maintains five indexes (`EXPLAIN ANALYZE`: 16 ms for 190 inserts "
    "with pglz). The consumer does nothing meanwhile: its CPU time is ~60 % of the wall time. CPU-only "
    "profiles (py-spy without `--idle`) hide this and showed the wait as 9 %, which is what this page said "
    "before.",
    "",
    "A replay with unchanged logic no longer decodes or folds anything: every record is recognised in its "
    "row's `folded_digests` (`consume/known.py`). Its main loop then spends its time in polling (librdkafka "
    "and Record objects), the digest of each value (BLAKE2b, ~1.5 µs per 1.2 KB record), one `SELECT` of "
    "the batch's digests and the offsets transaction. In the first pass the digests cost ~5 % (the digest "
    "3 %, the `SELECT` and the set ~2 %).",
]

GAPS = [
    "- **End to end, one process** (see the targets table for this run's figure against 20,000 events/s). "
    "Why: per batch the loop works (~60 % of wall: decode, fold, state JSON, rows, freeing objects), then "
    "waits for Postgres (~35 %), strictly in turn. The CPU part is already at CPython's floor for this "
    "design: the decoder is C; the fold's hot paths are C-level tuple and dict operations (compiling the "
    "domain with mypyc made the fold 9 % *slower*, 52,600 → 47,700 events/s; interning the decoder's "
    "short strings in C changed nothing measurable, 4.9 µs/record either way, same end-to-end time); "
    "what is left is creating and freeing ~100 Python objects per event. What would close it: "
    "(1) pipelining — commit batch N from a second thread (psycopg releases the GIL while it waits) "
    "while batch N+1 is polled, decoded and folded, N+1 taking the states N is committing from memory "
    "instead of from Postgres. The wall time then approaches the CPU part alone, ~60 % of today's: "
    "≈ 1.6× the end-to-end events/s in the targets table, about 20,000 on this machine on a good day "
    "(12,188 at 20261121T141345Z). It changes the delivery contract (a fenced or rejected write of N must "
    "discard N+1's fold and re-seek), so it needs its own issue and chaos tests rather than a last-minute "
    "change. Overlapping only poll and decode (no state hand-over) would bound the gain at ~20 %. "
    "(2) A native fold (a Rust or C extension with the Python fold as its property-tested reference, as "
    "the C decoder has) for the CPU part. (3) Meanwhile: two processes give 1.4–1.65× on this 2-core "
    "machine (scale row; ~17,400 events/s), and more replicas on more cores scale further.",
    "- **60 % of the decode-only ceiling.** The ceiling (consume + decode only, ~11 µs per event) leaves "
    "19 µs per event at 60 % for poll, decode, fold, serialize, write and commit together; the fold alone "
    "takes ~19 µs in CPython (stage table). Even the pipelined 20,000 events/s would be ~22 % of it. In "
    "a CPython consumer this target contradicts its own stage costs; we report the ratio and do not chase "
    "it at the expense of absolute speed.",
]

TUNING = [
    "Measured on this machine with 300 k–620 k events of the default mix; figures before → after.",
    "",
    "- Postgres: migration 0005 stores `conversation.state` with LZ4 instead of pglz (where the server has "
    "LZ4; otherwise it keeps pglz). Over a 300 k first pass the guarded upsert's server time (Postgres "
    "log durations) 5.07 → 3.74 s, the main loop's share waiting for it 25 → 18 %; copying 9,000 real "
    "state documents into a table 65 → 39 µs/row. End to end +1 %, +9 %, +17 % in three alternating "
    "pairs of runs: the machine's own drift (the same run's CPU time varies 18–23 s) is as large.",
    "- Tried and not kept: mypyc-compiled domain modules (fold 9 % slower); a string cache in the C "
    "decoder (no measurable change); `batch_max_events` 3,000 or 5,000 (end to end unchanged).",
    "- Avro decode: fastavro's generic reader + dict-to-dataclass 61 µs/record → a Python reader generated "
    "from the schema 39 µs → the C extension `consumer.codec._avroread` interpreting a program built from "
    "the schema (same output, same errors, property-tested against the Python one) "
    "(see the stage table for this run's figure). End to end, one process: ~9,500 → ~13,500 events/s.",
    "- Replay: a snapshot participant not newer than what the state knows is checked by comparisons alone "
    "(`consumer.domain.merge._restated`) instead of being re-merged field by field and found equal: "
    "replay of 300 k events ~9,500 → ~12,700 events/s (start-up included).",
    "- Replay, then: records already folded are recognised before decoding (`consume/known.py`: each row "
    "keeps the 8-byte digests of the record values folded into its state, written with the row; a record "
    "whose key's row, of this logic version, lists its digest is set aside). The `make bench` replay "
    "recognised all 620,000 records, yet ran at the same ~14,600 events/s: py-spy with `--idle` showed the "
    "main thread waiting in `consume()` two thirds of the time. librdkafka stops fetching a partition "
    "whose share of the 12 MB queue is full and retries after `fetch.queue.backoff.ms`, 1 s by default, so "
    "a consumer that drains the queue faster than that sits idle. 20 ms: replay of 300 k events 13,800 → "
    "38,600 events/s wall (start-up included), the same as with a 64 MB queue, at no memory cost. The same "
    "backoff had made small queues look too small (the −20 % above): with it, a 6 MB queue and 2 MB "
    "fetches run as fast as 12 MB / 4 MB (first pass 10,500 events/s both; replay 38,100) and the peak RSS "
    "of the first pass drops 153 → 128 MB (median 142 → 124 MB), two runs each.",
    "- Scale: the queues topic is created with one partition (`CONVSTREAM_TOPICS__QUEUES_PARTITIONS`). "
    "With 12, the cooperative-sticky assignor balanced 24 partitions over two members by count, and could "
    "give one member all 12 events partitions and the other the 12 queue partitions: two processes then "
    "ran at one process's rate (0.86–1.02× in three of four runs). The consumer warns at start-up when the "
    "queues topic has more than one partition.",
    "- GC: `gc.freeze()` after start-up and a higher gen-0 threshold (`runtime/gctuning.py`): fold 23.8 → "
    "13.9 µs/event (stage table).",
    "- Postgres write: the batch's rows `COPY`ed into a session staging table, then one guarded upsert "
    "from it, instead of `executemany` upserts: about 2–3× the rows/s (pg_write_speed raw outputs above).",
    "- Latency: `poll_batch` asks librdkafka for one record first, so the `batch_max_ms` window starts when "
    "data arrives (a full-chunk `consume()` held a lone record back up to `batch_max_ms` first), and "
    "`batch_max_ms` 250 → 100 ms: p99 at 5,000 events/s 1,000 → ~350 ms. Under a backlog batches still "
    "fill by `batch_max_events` first, so throughput is unchanged.",
    "- Memory: librdkafka's prefetch queue `queued.max.messages.kbytes` 64 → 12 MB and `fetch.max.bytes` "
    "16 → 4 MB, `batch_max_events` 5,000 → 1,000: peak RSS ~340 → ~160 MB at the same events/s. Smaller "
    "still (10 MB queue, 2 MB fetches) measured 140 MB but starved the consumer (−20 % events/s), so the "
    "defaults stayed at 12 MB / 4 MB (until the fetch backoff above: now 6 MB / 2 MB). "
    "Then glibc's malloc thresholds fixed at start-up (`consumer.consume.memtuning`: "
    "mmap 128 KB, trim 256 KB; glibc otherwise raises them up to 32 MB/64 MB as large buffers are freed and "
    "keeps finished batches resident): peak ~158 → ~148 MB, median ~150 → ~135 MB, same events/s. Of the "
    "rest, ~70 MB is the interpreter and imported libraries (14 MB of it `confluent_kafka.schema_registry` "
    "pulling in authlib and joserfc).",
]

PEER = [
    "- `pip install -c constraints.txt quixstreams==3.28.1` (the latest release) cannot resolve: quixstreams "
    "requires confluent-kafka<2.13 and pydantic<2.14, convstream pins confluent-kafka==2.16.0 and "
    "pydantic==2.14.3. So quixstreams is not in pyproject.toml/constraints.txt; the harness builds a "
    "separate venv (`.cache/bench-peer`, exact pins in `bench/peer-requirements.txt`: quixstreams 3.28.1, "
    "confluent-kafka 2.12.2, rocksdict) on the first full run, with convstream installed `--no-deps`.",
    "- bench/peer_quix.py does the same job with Quix's idioms: our Avro codec as the value deserializer, "
    "our fold in a stateful `apply` (state in Quix's RocksDB store with its changelog topic), the same "
    "guarded upsert in a `BatchingSink` (one transaction per checkpoint). Differences: Quix commits Kafka "
    "offsets after the sink flush (at-least-once); convstream stores offsets in Postgres in the write "
    "transaction (exactly-once effects); Quix runs on the older confluent-kafka 2.12.2.",
]
