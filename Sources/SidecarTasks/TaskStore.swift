import GRDB
import SidecarProtocol
import SidecarStore

/// How tasks and schedules live in SQLite. Every function runs inside a read or a write of
/// ``SidecarDatabase``; the scheduler decides when.
enum TaskStore {
    static let migration = SidecarMigration("tasks-v1") { db in
        try db.execute(sql: """
            CREATE TABLE task (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                priority INTEGER NOT NULL,
                status TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                max_retries INTEGER NOT NULL,
                timeout REAL NOT NULL,
                backoff TEXT NOT NULL,
                run_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                started_at INTEGER,
                finished_at INTEGER,
                result TEXT,
                error TEXT,
                errors TEXT NOT NULL,
                progress TEXT,
                idempotency_key TEXT,
                schedule TEXT
            );
            CREATE INDEX task_by_status ON task (status, id);
            CREATE INDEX task_by_kind ON task (kind, id);
            CREATE INDEX task_by_idempotency_key ON task (idempotency_key) WHERE idempotency_key IS NOT NULL;
            CREATE TABLE task_schedule (
                name TEXT PRIMARY KEY,
                definition TEXT NOT NULL,
                next_run_at INTEGER,
                last_run_at INTEGER,
                last_task_id TEXT
            );
            """)
    }

    // MARK: - Writing

    /// The statement that saves a task; look it up once for many saves (``save(_:with:)``).
    ///
    /// It inserts the task, or updates its row as it is now: an upsert rather than `INSERT OR
    /// REPLACE`, which deletes and reinserts the row and so rewrites every index entry, where an
    /// update in place leaves the entries of the columns that did not change (kind, key) alone.
    static func saveStatement(in db: Database) throws -> Statement {
        try db.cachedStatement(sql: """
            INSERT INTO task (id, kind, payload, priority, status, attempt, max_retries, timeout, backoff,
                run_at, created_at, started_at, finished_at, result, error, errors, progress, idempotency_key, schedule)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                priority = excluded.priority, status = excluded.status, attempt = excluded.attempt,
                max_retries = excluded.max_retries, timeout = excluded.timeout, backoff = excluded.backoff,
                run_at = excluded.run_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
                result = excluded.result, error = excluded.error, errors = excluded.errors, progress = excluded.progress
            """)
    }

    /// Saves `task` with the statement of ``saveStatement(in:)``; its JSON columns are written
    /// into `scratch`, a buffer the caller reuses from one save to the next.
    static func save(_ task: TaskRecord, with statement: Statement, scratch: inout [UInt8]) throws {
        // Most tasks have the default backoff and no errors: their text is written once, not per save.
        let backoff = task.backoff == Backoff() ? defaultBackoffText : JSONWriter.string(task.backoff.jsonValue)
        let errors = task.errors.isEmpty ? "[]" : JSONWriter.string(.array(task.errors))
        // Bound through SQLite's C API rather than GRDB's boxed arguments (see StatementBinder).
        var binder = StatementBinder(statement)
        binder.bind(task.id)
        binder.bind(task.kind)
        binder.bind(json: task.payload, scratch: &scratch)
        binder.bind(task.priority.rank)
        binder.bind(task.status.rawValue)
        binder.bind(task.attempt)
        binder.bind(task.maxRetries)
        binder.bind(task.timeout)
        binder.bind(backoff)
        binder.bind(task.runAt)
        binder.bind(task.createdAt)
        binder.bind(task.startedAt)
        binder.bind(task.finishedAt)
        binder.bind(json: task.result, scratch: &scratch)
        binder.bind(task.error)
        binder.bind(errors)
        binder.bind(json: task.progress, scratch: &scratch)
        binder.bind(task.idempotencyKey)
        binder.bind(task.schedule)
        try binder.execute()
    }

    private static let defaultBackoffText = JSONWriter.string(Backoff().jsonValue)

    /// Deletes finished tasks that finished before `cutoff` (Unix ms), optionally of one status.
    static func purge(status: TaskStatus?, finishedBefore cutoff: Int64, in db: Database) throws -> Int {
        if let status {
            try db.execute(
                sql: "DELETE FROM task WHERE status = ? AND finished_at < ?", arguments: [status.rawValue, cutoff])
        } else {
            try db.execute(
                sql: "DELETE FROM task WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?",
                arguments: [cutoff])
        }
        return db.changesCount
    }

    static func saveSchedule(_ schedule: TaskSchedule, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO task_schedule (name, definition, next_run_at, last_run_at, last_task_id) VALUES (?, ?, ?, ?, ?)",
            arguments: [schedule.name, JSONWriter.string(schedule.definitionJSON), schedule.nextRunAt, schedule.lastRunAt, schedule.lastTaskID])
    }

    static func deleteSchedule(named name: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM task_schedule WHERE name = ?", arguments: [name])
    }

    // MARK: - Reading

    /// Every task that is not finished, oldest first: what the scheduler holds in memory.
    static func unfinished(in db: Database) throws -> [TaskRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM task WHERE status IN ('scheduled', 'queued', 'running') ORDER BY id")
            .map(task(from:))
    }

    /// The newest id ever given, to keep ids growing across restarts.
    static func newestID(in db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT max(id) FROM task")
    }

    static func task(id: String, in db: Database) throws -> TaskRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM task WHERE id = ?", arguments: [id]).map(task(from:))
    }

    /// A page of tasks in id order after `after`, filtered.
    static func list(
        status: TaskStatus?, kind: String?, priority: TaskPriority?, after: String?, limit: Int, in db: Database
    ) throws -> [TaskRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let status {
            conditions.append("status = ?")
            arguments += [status.rawValue]
        }
        if let kind {
            conditions.append("kind = ?")
            arguments += [kind]
        }
        if let priority {
            conditions.append("priority = ?")
            arguments += [priority.rank]
        }
        if let after {
            conditions.append("id > ?")
            arguments += [after]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments += [limit]
        return try Row.fetchAll(db, sql: "SELECT * FROM task \(filter) ORDER BY id LIMIT ?", arguments: arguments)
            .map(task(from:))
    }

    static func schedules(in db: Database) throws -> [TaskSchedule] {
        try Row.fetchAll(db, sql: "SELECT * FROM task_schedule ORDER BY name").compactMap { row in
            let definition = try JSONParser.parse(row["definition"] as String)
            return try TaskSchedule(
                name: row["name"], definitionJSON: definition,
                nextRunAt: row["next_run_at"], lastRunAt: row["last_run_at"], lastTaskID: row["last_task_id"])
        }
    }

    private static func task(from row: Row) throws -> TaskRecord {
        func json(_ column: String) throws -> JSONValue? {
            guard let text = row[column] as String? else { return nil }
            return try JSONParser.parse(text)
        }
        guard let priority = TaskPriority(rank: row["priority"]), let status = TaskStatus(rawValue: row["status"]) else {
            throw TaskStoreError.corruptRow(id: row["id"])
        }
        let errors: [JSONValue]
        if case .array(let elements)? = try json("errors") { errors = elements } else { errors = [] }
        return TaskRecord(
            id: row["id"], kind: row["kind"], payload: try json("payload") ?? .null, priority: priority, status: status,
            attempt: row["attempt"], maxRetries: row["max_retries"], timeout: row["timeout"],
            backoff: try Backoff(json: try json("backoff") ?? [:]),
            runAt: row["run_at"], createdAt: row["created_at"], startedAt: row["started_at"], finishedAt: row["finished_at"],
            result: try json("result"), error: row["error"], errors: errors, progress: try json("progress"),
            idempotencyKey: row["idempotency_key"], schedule: row["schedule"])
    }
}

/// A stored task that cannot be read back.
enum TaskStoreError: Error, CustomStringConvertible {
    case corruptRow(id: String)

    var description: String {
        switch self {
        case .corruptRow(let id): "task \(id) in the database has an unknown priority or status"
        }
    }
}
