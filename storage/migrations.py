"""Numbered schema migrations: a fresh database and an old one end at the same schema.

Each migration is a list of SQL statements applied in one transaction; `schema_version`
records which have run. Never edit a released migration: add a new one. The DDL is SQLite's,
in the portable subset storage.dialect translates for PostgreSQL (`id INTEGER PRIMARY KEY`,
INTEGER / TEXT / REAL, REFERENCES, UNIQUE, CHECK, DEFAULT constants, CREATE INDEX). Where
the engines cannot share the text (triggers), a migration is a function of the dialect that
returns its statements, built by storage.dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.dialect import change_log_triggers, dialect_of, has_table_sql, migration_lock_sql

if TYPE_CHECKING:
    from storage.db import Connection, Database

# A migration's statements, or a function giving them for a dialect where the engines differ.
Statements = list[str] | Callable[[str], list[str]]

MIGRATIONS: list[tuple[int, str, Statements]] = [
    (
        1,
        "core tables",
        [
            """CREATE TABLE alliances (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                parent_id INTEGER REFERENCES alliances(id),
                timezone TEXT,
                digest_weekday INTEGER NOT NULL DEFAULT 4,
                digest_time TEXT NOT NULL DEFAULT '17:00',
                digest_enabled INTEGER NOT NULL DEFAULT 1,
                quiet_start TEXT NOT NULL DEFAULT '21:30',
                quiet_end TEXT NOT NULL DEFAULT '07:30',
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE schools (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                alliance_id INTEGER REFERENCES alliances(id)
            )""",
            """CREATE TABLE members (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                school_id INTEGER REFERENCES schools(id),
                alliance_id INTEGER REFERENCES alliances(id),
                userid TEXT UNIQUE,
                role TEXT NOT NULL DEFAULT 'teacher'
                    CHECK (role IN ('admin', 'staff', 'leader', 'teacher')),
                active INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX members_alliance ON members(alliance_id)",
            "CREATE INDEX members_school ON members(school_id)",
            """CREATE TABLE chats (
                id INTEGER PRIMARY KEY,
                chat_id TEXT NOT NULL UNIQUE,
                channel TEXT NOT NULL,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                webhook_url TEXT,
                bound_by TEXT,
                bound_at TEXT NOT NULL
            )""",
            """CREATE TABLE notices (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER REFERENCES alliances(id),
                body TEXT NOT NULL,
                needs_ack INTEGER NOT NULL DEFAULT 0,
                author_id INTEGER REFERENCES members(id),
                created_at TEXT NOT NULL,
                publish_at TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'published'
                    CHECK (status IN ('scheduled', 'published', 'cancelled'))
            )""",
            """CREATE TABLE notice_acks (
                notice_id INTEGER NOT NULL REFERENCES notices(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                at TEXT NOT NULL,
                PRIMARY KEY (notice_id, member_id)
            )""",
            """CREATE TABLE activities (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                kind TEXT NOT NULL,
                title TEXT NOT NULL,
                place TEXT,
                school_id INTEGER REFERENCES schools(id),
                starts_at TEXT NOT NULL,
                ends_at TEXT NOT NULL,
                signin_opens_at TEXT NOT NULL,
                signin_code TEXT,
                hours REAL NOT NULL DEFAULT 2,
                reflection_due TEXT,
                status TEXT NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'cancelled')),
                cancel_reason TEXT,
                created_by INTEGER REFERENCES members(id),
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX activities_alliance_start ON activities(alliance_id, starts_at)",
            """CREATE TABLE signins (
                id INTEGER PRIMARY KEY,
                activity_id INTEGER NOT NULL REFERENCES activities(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                at TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('on_time', 'late', 'makeup')),
                by_member_id INTEGER REFERENCES members(id),
                UNIQUE (activity_id, member_id)
            )""",
            """CREATE TABLE leaves (
                id INTEGER PRIMARY KEY,
                activity_id INTEGER NOT NULL REFERENCES activities(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                reason TEXT,
                at TEXT NOT NULL,
                UNIQUE (activity_id, member_id)
            )""",
            """CREATE TABLE reflections (
                id INTEGER PRIMARY KEY,
                activity_id INTEGER NOT NULL REFERENCES activities(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                body TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                first_submitted_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (activity_id, member_id)
            )""",
            """CREATE TABLE reflection_versions (
                id INTEGER PRIMARY KEY,
                reflection_id INTEGER NOT NULL REFERENCES reflections(id),
                version INTEGER NOT NULL,
                body TEXT NOT NULL,
                submitted_at TEXT NOT NULL,
                UNIQUE (reflection_id, version)
            )""",
            """CREATE TABLE inbox (
                id INTEGER PRIMARY KEY,
                channel TEXT NOT NULL,
                msgid TEXT NOT NULL,
                userid TEXT NOT NULL,
                chat_id TEXT,
                payload TEXT NOT NULL,
                received_at TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'received'
                    CHECK (status IN ('received', 'processed', 'failed')),
                processed_at TEXT,
                UNIQUE (channel, msgid)
            )""",
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY,
                channel TEXT NOT NULL,
                target_kind TEXT NOT NULL,
                target TEXT NOT NULL,
                payload TEXT NOT NULL,
                due_at TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                status TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
                sent_at TEXT,
                created_at TEXT NOT NULL,
                dedup_key TEXT UNIQUE
            )""",
            "CREATE INDEX outbox_pending ON outbox(status, due_at)",
            """CREATE TABLE sent_reminders (
                key TEXT PRIMARY KEY,
                status TEXT NOT NULL CHECK (status IN ('sent', 'skipped')),
                at TEXT NOT NULL
            )""",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT,
                action TEXT NOT NULL,
                detail TEXT
            )""",
            """CREATE TABLE kv (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
        ],
    ),
    (
        2,
        "alliance work: resources, school feedback, teams and activity targets",
        [
            """CREATE TABLE files (
                id INTEGER PRIMARY KEY,
                sha256 TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                size INTEGER NOT NULL,
                path TEXT NOT NULL,
                executable INTEGER NOT NULL DEFAULT 0,
                uploaded_by INTEGER REFERENCES members(id),
                uploaded_at TEXT NOT NULL
            )""",
            """CREATE TABLE resources (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                title TEXT NOT NULL,
                kind TEXT NOT NULL,
                url TEXT,
                file_id INTEGER REFERENCES files(id),
                tags TEXT NOT NULL DEFAULT '',
                activity_id INTEGER REFERENCES activities(id),
                shared_by INTEGER REFERENCES members(id),
                shared_at TEXT NOT NULL,
                recommended_at TEXT,
                recommended_by INTEGER REFERENCES members(id),
                recommend_note TEXT,
                source TEXT UNIQUE,
                CHECK (url IS NOT NULL OR file_id IS NOT NULL)
            )""",
            "CREATE INDEX resources_alliance_shared ON resources(alliance_id, shared_at)",
            "CREATE INDEX resources_activity ON resources(activity_id)",
            """CREATE TABLE feedback_requests (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                question TEXT NOT NULL,
                due_at TEXT NOT NULL,
                created_by INTEGER REFERENCES members(id),
                created_at TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed'))
            )""",
            """CREATE TABLE feedback_answers (
                id INTEGER PRIMARY KEY,
                request_id INTEGER NOT NULL REFERENCES feedback_requests(id),
                school_id INTEGER NOT NULL REFERENCES schools(id),
                member_id INTEGER REFERENCES members(id),
                body TEXT NOT NULL,
                version INTEGER NOT NULL DEFAULT 1,
                first_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                UNIQUE (request_id, school_id)
            )""",
            """CREATE TABLE feedback_answer_versions (
                id INTEGER PRIMARY KEY,
                answer_id INTEGER NOT NULL REFERENCES feedback_answers(id),
                version INTEGER NOT NULL,
                body TEXT NOT NULL,
                member_id INTEGER REFERENCES members(id),
                at TEXT NOT NULL,
                UNIQUE (answer_id, version)
            )""",
            """CREATE TABLE school_contacts (
                school_id INTEGER PRIMARY KEY REFERENCES schools(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                set_by TEXT,
                set_at TEXT NOT NULL
            )""",
            """CREATE TABLE teams (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                alliance_id INTEGER REFERENCES alliances(id),
                school_id INTEGER REFERENCES schools(id),
                created_by INTEGER REFERENCES members(id),
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE team_members (
                team_id INTEGER NOT NULL REFERENCES teams(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                added_at TEXT NOT NULL,
                PRIMARY KEY (team_id, member_id)
            )""",
            "CREATE INDEX team_members_member ON team_members(member_id)",
            """CREATE TABLE member_tiers (
                member_id INTEGER PRIMARY KEY REFERENCES members(id),
                tier TEXT NOT NULL CHECK (tier IN ('young', 'growing', 'famous'))
            )""",
            """CREATE TABLE activity_targets (
                id INTEGER PRIMARY KEY,
                activity_id INTEGER NOT NULL REFERENCES activities(id),
                school_id INTEGER REFERENCES schools(id),
                team_id INTEGER REFERENCES teams(id),
                CHECK ((school_id IS NULL) <> (team_id IS NULL))
            )""",
            "CREATE INDEX activity_targets_activity ON activity_targets(activity_id)",
        ],
    ),
    (
        3,
        "hand-off from the intake process of a two-process serve",
        [
            # The last row of the intake file (storage/intake.py) already moved into inbox.
            """CREATE TABLE intake_handoff (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                last_intake_id INTEGER NOT NULL
            )""",
        ],
    ),
    (
        4,
        "one hand-off mark per intake process",
        [
            # serve may run several intake processes, each with its own intake file; the
            # first one's file (shard 0) keeps the mark of the single one before.
            """CREATE TABLE intake_marks (
                shard INTEGER PRIMARY KEY CHECK (shard >= 0),
                last_intake_id INTEGER NOT NULL
            )""",
            "INSERT INTO intake_marks (shard, last_intake_id) "
            "SELECT 0, last_intake_id FROM intake_handoff",
            "DROP TABLE intake_handoff",
        ],
    ),
    (
        5,
        "serve is one process again: no intake files to hand off from",
        ["DROP TABLE intake_marks"],
    ),
    (
        6,
        "indexes for lookups that must not grow with the history",
        [
            # 我的: one member's sign-ins, leaves and reflections (the UNIQUE indexes lead
            # with activity_id and cannot serve a lookup by member).
            "CREATE INDEX IF NOT EXISTS signins_member ON signins(member_id)",
            "CREATE INDEX IF NOT EXISTS leaves_member ON leaves(member_id)",
            "CREATE INDEX IF NOT EXISTS reflections_member ON reflections(member_id)",
            # The scheduler's re-arm: activities starting, or with a reflection deadline, in
            # a window of days (activities_alliance_start leads with the alliance).
            "CREATE INDEX IF NOT EXISTS activities_start ON activities(starts_at)",
            "CREATE INDEX IF NOT EXISTS activities_reflection_due ON activities(reflection_due)",
            # 汇总 counts late sign-ins (a few) without reading every sign-in row.
            "CREATE INDEX IF NOT EXISTS signins_status ON signins(status, activity_id)",
        ],
    ),
    (
        7,
        "听评课 records, rating forms (量表) and per-term 听课 quotas",
        [
            # One table for both records: a 评课 on an activity (activity_id set) and a
            # 听课 outside any activity (推门听课: activity_id NULL, topic set). Counted by
            # observer (who wrote it) and shown to the teacher who taught (teacher_id).
            """CREATE TABLE lesson_reviews (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('review', 'observation')),
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                activity_id INTEGER REFERENCES activities(id),
                observer_id INTEGER NOT NULL REFERENCES members(id),
                teacher_id INTEGER REFERENCES members(id),
                lesson_date TEXT NOT NULL,
                topic TEXT,
                subject TEXT,
                strengths TEXT NOT NULL,
                weaknesses TEXT NOT NULL,
                suggestions TEXT NOT NULL,
                score_items TEXT,
                scores TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                CHECK ((kind = 'review') = (activity_id IS NOT NULL))
            )""",
            "CREATE INDEX lesson_reviews_activity ON lesson_reviews(activity_id)",
            "CREATE INDEX lesson_reviews_observer ON lesson_reviews(observer_id)",
            "CREATE INDEX lesson_reviews_teacher ON lesson_reviews(teacher_id)",
            "CREATE INDEX lesson_reviews_alliance_date ON lesson_reviews(alliance_id, lesson_date)",
            # 量表: the items scored 1-5 in a 评课 of an activity of this kind (类型).
            """CREATE TABLE rating_forms (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                activity_kind TEXT NOT NULL,
                items TEXT NOT NULL,
                set_by INTEGER REFERENCES members(id),
                set_at TEXT NOT NULL,
                UNIQUE (alliance_id, activity_kind)
            )""",
            # 听课任务: how many lessons each teacher of the alliance observes per term.
            """CREATE TABLE observation_quotas (
                alliance_id INTEGER PRIMARY KEY REFERENCES alliances(id),
                per_term INTEGER NOT NULL CHECK (per_term > 0),
                set_by INTEGER REFERENCES members(id),
                set_at TEXT NOT NULL
            )""",
        ],
    ),
    (
        8,
        "recurring activities (series) and the term calendar they skip",
        [
            # 发起活动 每周三 …: one row per series; its instances are ordinary activities.
            """CREATE TABLE activity_series (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                title TEXT NOT NULL,
                rule TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'cancelled')),
                created_by INTEGER REFERENCES members(id),
                created_at TEXT NOT NULL
            )""",
            "ALTER TABLE activities ADD COLUMN series_id INTEGER REFERENCES activity_series(id)",
            "CREATE INDEX activities_series ON activities(series_id)",
            # jiaoyan-bot calendar import: terms (开学 .. the day before 放假) and single days,
            # holidays to skip or 调休 make-up working days never skipped.
            """CREATE TABLE calendar_terms (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                starts_on TEXT NOT NULL UNIQUE,
                ends_on TEXT NOT NULL,
                CHECK (starts_on < ends_on)
            )""",
            """CREATE TABLE calendar_days (
                day TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
                name TEXT NOT NULL
            )""",
        ],
    ),
    (
        9,
        "evidence and 课例: attached files, lesson studies' rounds, 说课 designs",
        [
            # record_id NULL: a photo sent with a reflection too short to keep, waiting for
            # that person's next reflection text on that activity.
            """CREATE TABLE evidence (
                id INTEGER PRIMARY KEY,
                file_id INTEGER NOT NULL REFERENCES files(id),
                kind TEXT NOT NULL CHECK (kind IN ('reflection', 'review', 'feedback', 'notice')),
                record_id INTEGER,
                activity_id INTEGER REFERENCES activities(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                attached_at TEXT NOT NULL,
                source TEXT NOT NULL UNIQUE
            )""",
            "CREATE INDEX evidence_record ON evidence(kind, record_id)",
            "CREATE INDEX evidence_activity ON evidence(activity_id)",
            # 课例 (一课多研): one lesson taught over several rounds, each an activity.
            """CREATE TABLE lesson_studies (
                id INTEGER PRIMARY KEY,
                alliance_id INTEGER NOT NULL REFERENCES alliances(id),
                name TEXT NOT NULL,
                created_at TEXT NOT NULL,
                UNIQUE (alliance_id, name)
            )""",
            """CREATE TABLE lesson_study_rounds (
                activity_id INTEGER PRIMARY KEY REFERENCES activities(id),
                study_id INTEGER NOT NULL REFERENCES lesson_studies(id),
                round INTEGER NOT NULL,
                teacher_id INTEGER REFERENCES members(id),
                UNIQUE (study_id, round)
            )""",
            # 说课: a teaching design submitted before the lesson; every version is kept.
            """CREATE TABLE designs (
                id INTEGER PRIMARY KEY,
                activity_id INTEGER NOT NULL REFERENCES activities(id),
                member_id INTEGER NOT NULL REFERENCES members(id),
                body TEXT NOT NULL,
                file_id INTEGER REFERENCES files(id),
                submitted_at TEXT NOT NULL,
                source TEXT NOT NULL UNIQUE
            )""",
            "CREATE INDEX designs_activity ON designs(activity_id)",
        ],
    ),
    (
        10,
        "several serve instances on one PostgreSQL: who holds an inbox or outbox row",
        [
            # The instance processing an inbox row, and since when: another instance takes
            # it over only once that claim is older than a lease (the first one died).
            "ALTER TABLE inbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE inbox ADD COLUMN claimed_at TEXT",
            # The instance sending an outbox row, until when (PostgreSQL only; SQLite has
            # one process and never claims).
            "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
            "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
        ],
    ),
    (
        11,
        "a log of the rows that may bring something due forward, for the scheduler",
        lambda dialect: [
            """CREATE TABLE schedule_changes (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                row_id INTEGER
            )""",
            *change_log_triggers(
                dialect,
                "schedule_changes",
                {
                    # worked out again row by row
                    "activities": (True, None),
                    "notices": (True, None),
                    "feedback_requests": (True, None),
                    # settings: everything is worked out again
                    "alliances": (False, None),
                    "observation_quotas": (False, None),
                    "kv": (False, "substr(NEW.key, 1, 7) = 'digest_'"),
                },
            ),
        ],
    ),
    (
        12,
        "the digest's newest reflections without sorting every reflection of the term",
        [
            # ReportingQueries.recent_reflections: ORDER BY first_submitted_at DESC, id DESC
            # LIMIT 2000. PostgreSQL walks this index backwards and stops after the sample
            # (a province term: 0.8 s -> 10 ms); SQLite's planner keeps its own plan.
            "CREATE INDEX IF NOT EXISTS reflections_first_submitted "
            "ON reflections(first_submitted_at, id)",
        ],
    ),
]


def current_version(db: Database | Connection) -> int:
    conn = _connection(db)
    if not conn.execute(has_table_sql(dialect_of(conn)), ("schema_version",)).fetchone():
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(db: Database | Connection, *, upto: int | None = None) -> int:
    """Apply every migration newer than the database; return the resulting version."""
    conn = _connection(db)
    lock = migration_lock_sql(dialect_of(conn))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    version = current_version(conn)
    for number, name, steps in MIGRATIONS:
        if number <= version or (upto is not None and number > upto):
            continue
        conn.execute("BEGIN IMMEDIATE")
        if lock is not None:
            conn.execute(lock)
        if current_version(conn) >= number:  # another process applied it meanwhile
            conn.execute("COMMIT")
            version = number
            continue
        statements = steps(dialect_of(conn)) if callable(steps) else steps
        try:
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, _now()),
            )
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version


def _now() -> str:
    """When a migration ran, in milliseconds as before (storage.db.to_db_time imports this
    module, so it cannot be used here)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _connection(db: Any) -> Connection:
    """The connection of a database wrapper, or the connection itself."""
    conn: Connection = getattr(db, "conn", db)
    return conn
