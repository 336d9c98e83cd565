"""The schema of version 1 of `SQLiteStore`'s database, as released (its `_schema._TABLES`, the trigger
expanded): tests build a version-1 file with it to check the migration."""

from __future__ import annotations

__all__ = ["V1_DDL"]

V1_DDL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    total_pico INTEGER NOT NULL DEFAULT 0,
    reserved_pico INTEGER NOT NULL DEFAULT 0,
    limit_pico INTEGER,
    event_seq INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_sessions_user ON sessions (user_id, created_at);

CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_threads_session ON threads (session_id, created_at);
CREATE INDEX IF NOT EXISTS ix_threads_user ON threads (user_id);

CREATE TABLE IF NOT EXISTS orchestrations (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    domain TEXT NOT NULL,
    final_score REAL,
    total_pico INTEGER NOT NULL,
    iterations INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_owner TEXT,
    lease_expires REAL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_orchestrations_session ON orchestrations (session_id, created_at);
CREATE INDEX IF NOT EXISTS ix_orchestrations_thread ON orchestrations (thread_id, created_at);
CREATE INDEX IF NOT EXISTS ix_orchestrations_user
    ON orchestrations (user_id, domain, status, total_pico, iterations, final_score);
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_score
    ON orchestrations (user_id, final_score) WHERE final_score IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_orchestrations_resumable
    ON orchestrations (created_at) WHERE status IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS ix_orchestrations_session_overage
    ON orchestrations (session_id) WHERE json_extract(doc, '$.overage_cost') > 0;
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_overage
    ON orchestrations (user_id) WHERE json_extract(doc, '$.overage_cost') > 0;
CREATE INDEX IF NOT EXISTS ix_orchestrations_user_active
    ON orchestrations (user_id) WHERE status IN ('pending', 'running');

CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    orchestration_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    role TEXT NOT NULL,
    domain TEXT NOT NULL,
    cost_pico INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    score REAL,
    failed INTEGER NOT NULL,
    error TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_calls_user_model ON calls (user_id, model_name, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_user_latency ON calls (user_id, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_session ON calls (session_id, model_name, latency_ms);
CREATE INDEX IF NOT EXISTS ix_calls_model ON calls (model_name, latency_ms);

CREATE TABLE IF NOT EXISTS call_stats (
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    domain TEXT NOT NULL,
    calls INTEGER NOT NULL,
    generations INTEGER NOT NULL,
    judgements INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    scored INTEGER NOT NULL,
    PRIMARY KEY (scope, scope_id, model_name, domain)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS calls_summarise AFTER INSERT ON calls BEGIN

    INSERT INTO call_stats VALUES (
        'user', NEW.user_id, NEW.model_name, '', 1, NEW.role = 'generate', NEW.role = 'judge', NEW.failed,
        NEW.cost_pico, NEW.input_tokens, NEW.output_tokens,
        CASE WHEN NEW.role = 'generate' AND NEW.score IS NOT NULL THEN NEW.score ELSE 0.0 END,
        NEW.role = 'generate' AND NEW.score IS NOT NULL
    ) ON CONFLICT (scope, scope_id, model_name, domain) DO UPDATE SET
        calls = calls + 1, generations = generations + excluded.generations,
        judgements = judgements + excluded.judgements, errors = errors + excluded.errors,
        cost_pico = cost_pico + excluded.cost_pico, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, score_sum = score_sum + excluded.score_sum,
        scored = scored + excluded.scored;

    INSERT INTO call_stats VALUES (
        'session', NEW.session_id, NEW.model_name, '', 1, NEW.role = 'generate', NEW.role = 'judge', NEW.failed,
        NEW.cost_pico, NEW.input_tokens, NEW.output_tokens,
        CASE WHEN NEW.role = 'generate' AND NEW.score IS NOT NULL THEN NEW.score ELSE 0.0 END,
        NEW.role = 'generate' AND NEW.score IS NOT NULL
    ) ON CONFLICT (scope, scope_id, model_name, domain) DO UPDATE SET
        calls = calls + 1, generations = generations + excluded.generations,
        judgements = judgements + excluded.judgements, errors = errors + excluded.errors,
        cost_pico = cost_pico + excluded.cost_pico, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, score_sum = score_sum + excluded.score_sum,
        scored = scored + excluded.scored;

    INSERT INTO call_stats VALUES (
        'model', '', NEW.model_name, NEW.domain, 1, NEW.role = 'generate', NEW.role = 'judge', NEW.failed,
        NEW.cost_pico, NEW.input_tokens, NEW.output_tokens,
        CASE WHEN NEW.role = 'generate' AND NEW.score IS NOT NULL THEN NEW.score ELSE 0.0 END,
        NEW.role = 'generate' AND NEW.score IS NOT NULL
    ) ON CONFLICT (scope, scope_id, model_name, domain) DO UPDATE SET
        calls = calls + 1, generations = generations + excluded.generations,
        judgements = judgements + excluded.judgements, errors = errors + excluded.errors,
        cost_pico = cost_pico + excluded.cost_pico, input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens, score_sum = score_sum + excluded.score_sum,
        scored = scored + excluded.scored;
END;

CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    orchestration_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS reservations (
    session_id TEXT NOT NULL,
    orchestration_id TEXT NOT NULL,
    amount_pico INTEGER NOT NULL,
    PRIMARY KEY (session_id, orchestration_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cancel_requests (
    orchestration_id TEXT PRIMARY KEY,
    requested_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS routing_stats (
    router TEXT NOT NULL,
    domain TEXT NOT NULL,
    model_name TEXT NOT NULL,
    n INTEGER NOT NULL,
    score_sum REAL NOT NULL,
    score_sq_sum REAL NOT NULL,
    cost_sum REAL NOT NULL,
    latency_ms_sum REAL NOT NULL,
    output_tokens_sum INTEGER NOT NULL,
    PRIMARY KEY (router, domain, model_name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""
