import ArgumentParser

/// What each request of a load run does. Every operation has a Sidecar form and a Redis form
/// of the same size and meaning, so that the two servers are compared on the same work.
enum LoadOperation: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// `sidecar.ping` / `PING`.
    case ping
    /// `state.get {"path":"/bench/key"}` / `GET bench:key`, of a 64-byte string.
    case get
    /// `state.set {"path":"/bench/key","value":…}` / `SET bench:key …`, a 64-byte string.
    /// Sidecar acknowledges it only after the SQLite transaction that holds it has committed.
    case set
    /// `cache.get {"key":"bench:key"}` answered from L1 / `GET bench:key`, of a 64-byte string.
    /// A reply from any other tier fails the run.
    case cacheGet = "cache-get"
    /// `cache.get {"key":"bench:key"}` answered from L2 (Redis) / `GET bench:key`. Only a daemon
    /// whose L1 keeps nothing answers it (`--cache-l1-bytes 1`: every entry is larger than the
    /// bound, so an L2 hit does not fill L1); a reply from L1 fails the run.
    case cacheGetL2 = "cache-get-l2"
    /// `cache.set {"key":"bench:key","value":…,"ttl":0}` / `SET bench:key …`, a 64-byte string
    /// without expiry on both sides.
    case cacheSet = "cache-set"
    /// `tasks.submit {"kind":"sidecar.noop","payload":…}` / `LPUSH bench:tasks <the task as
    /// JSON>`: one task per request, the 64-byte value as its payload. Sidecar acknowledges it
    /// after the commit that stores the task, and its built-in pool then runs the task.
    case tasksSubmit = "tasks-submit"
    /// `tasks.submitMany {"tasks":[…]}` of `--batch` such tasks / one `LPUSH bench:tasks` of
    /// `--batch` values: a batch per request, counted in tasks.
    case tasksSubmitMany = "tasks-submit-many"

    /// The state path (Sidecar) that `get` reads and `set` writes.
    static let statePath = "/bench/key"
    /// The key (Redis) that `GET` reads and `SET` writes, and the cache key (Sidecar) of the
    /// `cache-*` operations (which a daemon with L2 stores in Redis under its prefix, so the two
    /// never collide).
    static let redisKey = "bench:key"
    /// The value `set` writes and `get` expects: 64 ASCII bytes, the same in JSON (plus
    /// quotes) and in RESP.
    static let value = String(repeating: "0123456789abcdef", count: 4)
    /// The kind of the tasks that the `tasks-*` operations submit: the daemon runs them itself.
    static let taskKind = "sidecar.noop"
    /// The Redis list that `LPUSH` fills in the `tasks-*` operations (emptied before and after a run).
    static let redisQueueKey = "bench:tasks"
    /// One task as a Redis queue holds it: the JSON object sidecard receives, so that both
    /// servers are handed the same description (and nearly the same bytes) per task.
    static let redisTaskValue = #"{"kind":"\#(taskKind)","payload":"\#(value)"}"#

    /// The method or command named in reports.
    func name(for target: LoadTarget) -> String {
        switch (target, self) {
        case (.sidecar, .ping): return "sidecar.ping"
        case (.sidecar, .get): return "state.get"
        case (.sidecar, .set): return "state.set"
        case (.sidecar, .cacheGet), (.sidecar, .cacheGetL2): return "cache.get"
        case (.sidecar, .cacheSet): return "cache.set"
        case (.sidecar, .tasksSubmit): return "tasks.submit"
        case (.sidecar, .tasksSubmitMany): return "tasks.submitMany"
        case (.redis, .tasksSubmit), (.redis, .tasksSubmitMany): return "LPUSH"
        case (.redis, .ping): return "PING"
        case (.redis, .get), (.redis, .cacheGet), (.redis, .cacheGetL2): return "GET"
        case (.redis, .set), (.redis, .cacheSet): return "SET"
        }
    }

    /// Whether the Redis form is `GET` of the value (`SET` and `PING` answer without it).
    var readsValue: Bool {
        switch self {
        case .get, .cacheGet, .cacheGetL2: return true
        case .ping, .set, .cacheSet, .tasksSubmit, .tasksSubmitMany: return false
        }
    }

    /// Whether the operation submits tasks (a Redis `LPUSH`), whose replies carry new ids (a
    /// list length), and whose run leaves work behind in the server.
    var submitsTasks: Bool {
        switch self {
        case .tasksSubmit, .tasksSubmitMany: return true
        case .ping, .get, .set, .cacheGet, .cacheGetL2, .cacheSet: return false
        }
    }

    /// The write that must be done once before a run of this operation so that it reads a
    /// value: the same key, the same value. `nil` for operations that read nothing.
    var setup: LoadOperation? {
        switch self {
        case .get: return .set
        case .cacheGet, .cacheGetL2: return .cacheSet
        case .ping, .set, .cacheSet, .tasksSubmit, .tasksSubmitMany: return nil
        }
    }
}
