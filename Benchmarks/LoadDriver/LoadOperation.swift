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

    /// The state path (Sidecar) that `get` reads and `set` writes.
    static let statePath = "/bench/key"
    /// The key (Redis) that `GET` reads and `SET` writes.
    static let redisKey = "bench:key"
    /// The value `set` writes and `get` expects: 64 ASCII bytes, the same in JSON (plus
    /// quotes) and in RESP.
    static let value = String(repeating: "0123456789abcdef", count: 4)

    /// The method or command named in reports.
    func name(for target: LoadTarget) -> String {
        switch (target, self) {
        case (.sidecar, .ping): return "sidecar.ping"
        case (.sidecar, .get): return "state.get"
        case (.sidecar, .set): return "state.set"
        case (.redis, .ping): return "PING"
        case (.redis, .get): return "GET"
        case (.redis, .set): return "SET"
        }
    }
}
