/// The schema as an append-only list of named migrations. Never edit or reorder an entry that has
/// shipped: add a new one. Each runs once, in its own transaction, recorded in `schema_migrations`.
enum Migrations {
    static let all: [(name: String, sql: String)] = [
        ("001_accounts", """
        CREATE TABLE fax_accounts (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            fax_number TEXT NOT NULL UNIQUE CHECK (fax_number GLOB '[0-9]*' AND fax_number NOT GLOB '*[^0-9]*'),
            name TEXT NOT NULL DEFAULT '',
            email TEXT,
            email_format TEXT NOT NULL DEFAULT 'pdf' CHECK (email_format IN ('pdf', 'tiff')),
            plan TEXT NOT NULL DEFAULT 'basic' CHECK (plan IN ('basic', 'plus', 'pro', 'enterprise')),
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
            billing_cycle_day INTEGER NOT NULL DEFAULT 1 CHECK (billing_cycle_day BETWEEN 1 AND 28),
            max_concurrent_sends INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE fax_usage (
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            period_start TEXT NOT NULL,
            pages_sent INTEGER NOT NULL DEFAULT 0,
            pages_received INTEGER NOT NULL DEFAULT 0,
            overage_pages INTEGER NOT NULL DEFAULT 0,
            cost_cents INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (account_id, period_start)
        );
        """),
        ("002_transmissions", """
        CREATE TABLE fax_transmissions (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
            status TEXT NOT NULL CHECK (status IN ('queued', 'dialing', 'transmitting', 'completed', 'partial', 'failed', 'cancelled')),
            from_number TEXT,
            to_number TEXT,
            from_name TEXT,
            to_name TEXT,
            file_path TEXT,
            file_sha256 TEXT,
            pdf_path TEXT,
            fine INTEGER NOT NULL DEFAULT 1,
            pages_total INTEGER NOT NULL DEFAULT 0,
            pages_transferred INTEGER NOT NULL DEFAULT 0,
            duration_s REAL NOT NULL DEFAULT 0,
            bit_rate INTEGER NOT NULL DEFAULT 0,
            ecm INTEGER NOT NULL DEFAULT 0,
            resolution TEXT,
            compression TEXT,
            remote_station_id TEXT,
            transport TEXT,
            trunk TEXT,
            sip_status INTEGER,
            sip_reason TEXT,
            t30_code INTEGER,
            t30_name TEXT,
            hangup_cause TEXT,
            error TEXT,
            cost_cents INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL DEFAULT 1,
            next_attempt_at REAL,
            resume_page INTEGER NOT NULL DEFAULT 0,
            ladder_step INTEGER NOT NULL DEFAULT 0,
            idempotency_key TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            started_at REAL,
            completed_at REAL,
            outcome_json TEXT,
            UNIQUE (account_id, idempotency_key)
        );
        CREATE INDEX fax_transmissions_queue ON fax_transmissions (status, next_attempt_at) WHERE direction = 'outbound';
        CREATE INDEX fax_transmissions_account ON fax_transmissions (account_id, created_at);
        CREATE TABLE fax_attempts (
            id INTEGER PRIMARY KEY,
            transmission_id INTEGER NOT NULL REFERENCES fax_transmissions(id),
            number INTEGER NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            result TEXT,
            failure_class TEXT,
            first_page INTEGER NOT NULL DEFAULT 0,
            pages_confirmed INTEGER NOT NULL DEFAULT 0,
            ecm INTEGER NOT NULL,
            v17 INTEGER NOT NULL,
            t38 INTEGER NOT NULL,
            sip_status INTEGER,
            t30_code INTEGER,
            t30_name TEXT,
            hangup_cause TEXT,
            outcome_json TEXT,
            UNIQUE (transmission_id, number)
        );
        CREATE TABLE fax_pages (
            id INTEGER PRIMARY KEY,
            transmission_id INTEGER NOT NULL REFERENCES fax_transmissions(id),
            page_number INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'received', 'failed')),
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0,
            x_resolution INTEGER NOT NULL DEFAULT 0,
            y_resolution INTEGER NOT NULL DEFAULT 0,
            compression TEXT,
            sha256 TEXT,
            bad_rows INTEGER NOT NULL DEFAULT 0,
            transferred_at REAL,
            UNIQUE (transmission_id, page_number)
        );
        """),
        ("003_contacts_webhooks_logs", """
        CREATE TABLE fax_contacts (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            number TEXT NOT NULL,
            name TEXT,
            usage_count INTEGER NOT NULL DEFAULT 0,
            last_used_at REAL,
            created_at REAL NOT NULL,
            UNIQUE (account_id, number)
        );
        CREATE TABLE fax_webhooks (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            events TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            disabled_reason TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE fax_logs (
            id INTEGER PRIMARY KEY,
            transmission_id INTEGER REFERENCES fax_transmissions(id),
            level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
            message TEXT NOT NULL,
            details_json TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX fax_logs_transmission ON fax_logs (transmission_id);
        """),
        ("004_outbox", """
        CREATE TABLE fax_outbox (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
            event TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            transmission_id INTEGER REFERENCES fax_transmissions(id),
            webhook_id INTEGER REFERENCES fax_webhooks(id),
            payload_json TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            created_at REAL NOT NULL,
            delivered_at REAL
        );
        CREATE INDEX fax_outbox_due ON fax_outbox (status, next_attempt_at);
        """),
        ("005_deliveries", """
        CREATE TABLE fax_deliveries (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES fax_outbox(id),
            attempt INTEGER NOT NULL,
            started_at REAL NOT NULL,
            duration_ms INTEGER NOT NULL,
            status_code INTEGER,
            error TEXT,
            UNIQUE (outbox_id, attempt)
        );
        CREATE INDEX fax_outbox_order ON fax_outbox (transmission_id, channel, webhook_id, id);
        """),
        ("006_api_keys", """
        CREATE TABLE fax_api_keys (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            key_hash TEXT NOT NULL UNIQUE,
            prefix TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE fax_idempotency (
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            response_json TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (account_id, key)
        );
        """),
        ("007_call_recording", """
        ALTER TABLE fax_accounts ADD COLUMN record_calls INTEGER NOT NULL DEFAULT 0;
        """),
        // One idempotency layer: fax_idempotency holds the claim, the process that made it (an
        // instance id per service start, so a crash's claims are known as orphans) and the
        // transmissions queued under it so far (written in each transmission's own transaction,
        // so a retry after a crash resumes instead of queueing twice).
        // fax_transmissions.idempotency_key is no longer written; SQLite cannot drop a column
        // that is part of a UNIQUE constraint, so it stays, NULL from here on.
        ("008_idempotency_one_layer", """
        ALTER TABLE fax_idempotency ADD COLUMN instance_id TEXT;
        ALTER TABLE fax_idempotency ADD COLUMN transmission_uuids TEXT NOT NULL DEFAULT '';
        UPDATE fax_transmissions SET idempotency_key = NULL;
        """),
        // Voice calls (issue 16): the call log in Telnyx Call Control v2 terms, and the command_id
        // window (a repeat within 5 minutes is answered from here and not done twice). Voice
        // calls are not fax_transmissions: their lifecycle, ids and webhooks differ.
        ("009_voice_calls", """
        CREATE TABLE voice_calls (
            id INTEGER PRIMARY KEY,
            call_control_id TEXT NOT NULL UNIQUE,
            call_leg_id TEXT NOT NULL,
            call_session_id TEXT NOT NULL,
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
            from_number TEXT NOT NULL,
            to_number TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('dialing', 'ringing', 'active', 'ended')),
            client_state TEXT,
            webhook_url TEXT,
            connection_id TEXT,
            trunk TEXT,
            created_at REAL NOT NULL,
            answered_at REAL,
            ended_at REAL,
            duration_s REAL NOT NULL DEFAULT 0,
            hangup_cause TEXT,
            hangup_source TEXT,
            sip_hangup_cause TEXT,
            recording_path TEXT,
            muted INTEGER NOT NULL DEFAULT 0,
            held INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE INDEX voice_calls_account ON voice_calls (account_id, created_at);
        CREATE INDEX voice_calls_live ON voice_calls (state) WHERE state != 'ended';
        CREATE TABLE voice_commands (
            account_id INTEGER NOT NULL REFERENCES fax_accounts(id),
            call_control_id TEXT NOT NULL,
            command_id TEXT NOT NULL,
            command TEXT NOT NULL,
            status INTEGER NOT NULL DEFAULT 0,
            response_json TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            PRIMARY KEY (account_id, call_control_id, command_id)
        );
        """),
        // What an account's DID answers as: fax (as before), voice (call control), or auto
        // (answered as voice, handed to the fax terminal when CNG/V.21 is heard).
        ("010_number_mode", """
        ALTER TABLE fax_accounts ADD COLUMN number_mode TEXT NOT NULL DEFAULT 'fax' CHECK (number_mode IN ('fax', 'voice', 'auto'));
        """),
        // A voice number that answers at once and streams the call to an application: the
        // streaming_start body (JSON) applied at answer; NULL: calls are parked for the application.
        ("011_voice_stream", """
        ALTER TABLE fax_accounts ADD COLUMN voice_stream TEXT;
        """),
    ]
}
