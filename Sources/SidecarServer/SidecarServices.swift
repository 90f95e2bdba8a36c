import SidecarCache
import SidecarProtocol
import SidecarState
import SidecarTasks
import SidecarStore

/// The services the daemon serves over the transport. Each binds its methods to the router
/// in a file of its own (`StateMethods.swift`, …) and adds its section to `sidecar.metrics`.
public struct SidecarServices: Sendable {
    /// The durable app state (`state.*`).
    public var state: StateService
    /// The tiered cache (`cache.*`).
    public var cache: CacheService
    /// The durable task scheduler (`tasks.*`).
    public var tasks: TaskScheduler
    /// The SQLite store the services share (`sidecar.metrics` → `db`).
    public var database: SidecarDatabase

    public init(state: StateService, cache: CacheService, tasks: TaskScheduler, database: SidecarDatabase) {
        self.state = state
        self.cache = cache
        self.tasks = tasks
        self.database = database
    }

    /// Binds every service's methods.
    func register(into router: inout MethodRouter) {
        StateMethods.register(into: &router, state: state)
        CacheMethods.register(into: &router, cache: cache)
        TaskMethods.register(into: &router, tasks: tasks)
    }

    /// The services' sections of `sidecar.metrics`.
    func metricsSections() async -> JSONObject {
        var sections: JSONObject = ["db": database.metricsSnapshot()]
        if let (revision, subscriptions) = try? await state.statistics().get() {
            sections["state"] = ["subscriptions": .int(Int64(subscriptions)), "revision": .int(revision)]
        }
        sections["cache"] = try? await cache.statistics().get()
        sections["tasks"] = try? await tasks.metrics().get()
        return sections
    }
}
