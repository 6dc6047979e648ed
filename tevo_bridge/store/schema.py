"""The store's schema, as numbered migrations applied in order on start (``PRAGMA user_version``).

A migration is only ever appended: a seller's database at version N is brought
forward by running N+1.. in order, each in its own transaction.  A store at a
higher version than ``len(MIGRATIONS)`` was written by a newer tevo-bridge and is
refused (``SchemaTooNew``).  docs/operations.md "Upgrades" lists every version.
"""

#: Schema version 10 (SQLite) and 8 (PostgreSQL): the same statements on both.
PARTIAL_INDEXES = """
    DROP INDEX inbox_order;
    CREATE INDEX inbox_order ON inbox(order_id) WHERE order_id IS NOT NULL;
    DROP INDEX holds_order;
    CREATE INDEX holds_order ON holds(order_id) WHERE order_id IS NOT NULL;
    DROP INDEX audit_order;
    CREATE INDEX audit_order ON audit(order_id) WHERE order_id IS NOT NULL;
    DROP INDEX audit_global;
    CREATE INDEX audit_global ON audit(global_id) WHERE global_id IS NOT NULL;
    DROP INDEX audit_action;
    CREATE INDEX audit_action ON audit(action, order_id) WHERE order_id IS NOT NULL;
    DROP INDEX audit_outcome;
    CREATE INDEX audit_outcome ON audit(to_state, at, order_id, action) WHERE action = 'transition';
"""

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,              -- webhook | order_integration | poll | operator
        kind TEXT NOT NULL,                 -- order_created, hold, invoice, ...
        dedupe_key TEXT NOT NULL UNIQUE,
        order_id INTEGER,
        global_id TEXT,
        outcome TEXT NOT NULL,              -- queued | ignored | answered
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX inbox_order ON inbox(order_id);

    CREATE TABLE orders (
        id INTEGER PRIMARY KEY,             -- the TEvo order id
        state TEXT NOT NULL,
        seller_state TEXT,
        buyer_type TEXT,
        buyer_id INTEGER,
        global_id TEXT,                     -- the Order Integration hold it came from
        customer_id TEXT,
        invoice_id TEXT,
        reject_reason TEXT,
        last_error TEXT,
        snapshot TEXT,                      -- the last TEvo order JSON seen
        source TEXT NOT NULL,               -- the channel that first told us
        created_at TEXT,                    -- TEvo's created_at
        first_seen_at TEXT NOT NULL,
        accepted_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX orders_state ON orders(state);

    CREATE TABLE holds (
        global_id TEXT PRIMARY KEY,
        remote_id TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        price TEXT,
        ticket_group_id INTEGER,
        state TEXT NOT NULL,                -- pending | held | failed | released | invoiced | expired
        hold_id TEXT,
        reason TEXT,
        status INTEGER,                     -- the HTTP answer, replayed byte for byte
        response TEXT,
        order_id INTEGER,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX holds_state ON holds(state, expires_at);

    CREATE TABLE oi_invoices (
        global_id TEXT PRIMARY KEY,
        order_id INTEGER NOT NULL,
        status INTEGER,
        response TEXT,
        created_at TEXT NOT NULL
    );

    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- order | release_hold
        key TEXT NOT NULL UNIQUE,
        order_id INTEGER,
        global_id TEXT,
        state TEXT NOT NULL,                -- queued | running | done | failed
        rerun INTEGER NOT NULL DEFAULT 0,   -- news arrived while it ran: run again
        attempts INTEGER NOT NULL DEFAULT 0,
        run_at REAL NOT NULL,
        lease_until REAL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_due ON jobs(state, run_at);

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        order_id INTEGER,
        global_id TEXT,
        at TEXT NOT NULL,
        action TEXT NOT NULL,               -- a transition (from -> to) or a call made
        from_state TEXT,
        to_state TEXT,
        reason TEXT,
        details TEXT
    );
    CREATE INDEX audit_order ON audit(order_id);
    """,
    # 2: the round of an order's POS reservations (made before it is accepted): a released
    # reservation's global id can never hold again, so a retry after a release reserves anew.
    """
    ALTER TABLE orders ADD COLUMN reservation_round INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: retention ([store] retention_days) finds old inbox and audit rows by time without a full scan.
    """
    CREATE INDEX inbox_received ON inbox(received_at);
    CREATE INDEX audit_at ON audit(at);
    """,
    # 4: the dashboard's reads, each an index seek however large the store: an order by invoice id or first-seen
    # time, the oldest order of a state, an order's trail (its rows and its hold's, by global id), the latest
    # holds of a state; the chart's outcomes per hour read from an index alone. And the pipeline's look-up of an
    # order's Order Integration hold (every order, every pass), which scanned the holds table.
    """
    CREATE INDEX holds_order ON holds(order_id);
    CREATE INDEX orders_invoice ON orders(invoice_id);
    CREATE INDEX orders_first_seen ON orders(first_seen_at);
    CREATE INDEX orders_state_seen ON orders(state, first_seen_at);
    CREATE INDEX audit_global ON audit(global_id);
    CREATE INDEX holds_state_updated ON holds(state, updated_at);
    CREATE INDEX audit_outcome ON audit(to_state, at, order_id, action);
    """,
    # 5: dashboard logouts, kept until the session's cookie would have expired anyway, so a logout holds across
    # restarts and replicas (dashboard/auth.py).
    """
    CREATE TABLE revoked_sessions (
        sid TEXT PRIMARY KEY,
        until REAL NOT NULL                 -- time.time() after which the cookie is expired anyway
    );
    CREATE INDEX revoked_sessions_until ON revoked_sessions(until);
    """,
    # 6: the dashboard's search and its "to ship / to hand over" list. The buyer's name and e-mail addresses,
    # lower-cased, in a column of their own (store/search.py says why), filled here from the snapshots already
    # stored; and the orders with a given call in their history (an airbill saved, pickup details sent) by index.
    """
    ALTER TABLE orders ADD COLUMN buyer_search TEXT;
    UPDATE orders SET buyer_search = lower(trim(coalesce(json_extract(snapshot, '$.buyer.name'), '') || char(10) ||
        coalesce(json_extract(snapshot, '$.buyer.email_addresses[0].address'), ''), char(10)))
        WHERE json_valid(snapshot);
    CREATE INDEX audit_action ON audit(action, order_id);
    """,
    # 7: what TEvo last said of an order after the pipeline read it (its state is seller_state; its shipments'
    # states and tracking here, as JSON) and when, so a view shows TEvo's word with its age; how many times a
    # delivered order was looked at again for TEvo's "completed"; and the POS's own hold id(s) of the order.
    """
    ALTER TABLE orders ADD COLUMN tevo_seen_at TEXT;
    ALTER TABLE orders ADD COLUMN tevo_shipments TEXT;
    ALTER TABLE orders ADD COLUMN tevo_checks INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN pos_hold_id TEXT;
    """,
    # 8: notifications ([notify] urls), each event told once (store/notifications.py): the outbox the notifier
    # fills from the audit trail's transitions and from its own health and summary events, and how far it read.
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,           -- the event: needs_review:<order id>:<audit id>, daily_summary:<date>...
        kind TEXT NOT NULL,
        audit_id INTEGER UNIQUE,            -- the transition it tells of: read from the audit trail once
        order_id INTEGER,
        payload TEXT NOT NULL,              -- JSON: what the message says
        state TEXT NOT NULL,                -- pending | sending | sent | failed
        sent_to TEXT NOT NULL DEFAULT '[]', -- JSON: the destinations (notify_urls.destination_id) that have it
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,              -- pending: when due, sending: when its claim lapses
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX notifications_due ON notifications(state, next_at);
    CREATE TABLE notify_cursor (
        name TEXT PRIMARY KEY,
        at TEXT NOT NULL                    -- the audit trail is read from here (less a grace period)
    );
    """,
    # 9: when a job was last asked for since its claim (time.monotonic() of the host's process that took TEvo's news; +inf for
    # an ask that changed the store), so that TEvo's news that came while it ran but before the run's last read of
    # TEvo does not make a second run (SqlStore.complete_job).
    """
    ALTER TABLE jobs ADD COLUMN asked_at REAL;
    """,
    # 10: the indexes only some rows need are partial, so a hold (whose inbox, holds and audit rows name no order)
    # and an order's transitions (which name no hold) write only the index entries a query reads. Every query
    # these serve already says what the condition says (``order_id = ?`` implies ``order_id IS NOT NULL``;
    # the outcome counts read ``action = 'transition'``). Per hold, 6 B-trees fewer to write and commit.
    PARTIAL_INDEXES,
]
