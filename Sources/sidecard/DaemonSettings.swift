import Logging
import SidecarCache
import SidecarRedis
import SidecarProtocol
import SidecarServer
import SidecarState
import SidecarStore
import SidecarTasks

/// The daemon's settings: each from its flag, else the configuration file, else the default.
struct DaemonSettings {
    var server: ServerConfiguration
    var database: SidecarDatabaseConfiguration
    var state: StateService.Configuration
    var cache: CacheConfiguration
    var tasks: TaskScheduler.Configuration
    var logLevel: Logger.Level

    init(flags: Sidecard, environment: [String: String]) throws {
        let file: ConfigurationFile?
        if let explicit = flags.config {
            file = try ConfigurationFile.load(path: explicit, required: true)
        } else if let path = ConfigurationFile.defaultPath(environment: environment) {
            file = try ConfigurationFile.load(path: path, required: false)
        } else {
            file = nil
        }

        let socketPath = SocketPath.resolve(explicit: try flags.socket ?? file?.string("socket"), environment: environment)
        var server = ServerConfiguration(socketPath: socketPath)
        server.version = Sidecard.version
        server.maximumFrameLength = try Self.positive(
            "max-frame-bytes", flags.maxFrameBytes ?? file?.int("max-frame-bytes") ?? server.maximumFrameLength,
            maximum: Int(UInt32.max))
        server.maximumConnections = try Self.positive(
            "max-connections", flags.maxConnections ?? file?.int("max-connections") ?? server.maximumConnections)
        server.maximumOutboundBytes = try Self.positive(
            "max-outbound-bytes", flags.maxOutboundBytes ?? file?.int("max-outbound-bytes") ?? server.maximumOutboundBytes)
        server.threads = try Self.positive("threads", flags.threads ?? file?.int("threads") ?? server.threads, maximum: 256)

        var allowed = Set(flags.allowUid)
        for uid in try file?.intArray("allow-uid") ?? [] {
            guard let valid = UInt32(exactly: uid) else { throw ConfigurationError("allow-uid: \(uid) is not a user id") }
            allowed.insert(valid)
        }
        server.allowedUIDs = allowed

        let idle = try flags.idleExit ?? file?.double("idle-exit") ?? 0
        guard idle >= 0 else { throw ConfigurationError("idle-exit must be 0 (off) or a positive number of seconds, got \(idle)") }
        server.idleExitSeconds = idle > 0 ? idle : nil

        let shutdown = try flags.shutdownTimeout ?? file?.double("shutdown-timeout") ?? server.shutdownTimeoutSeconds
        guard shutdown >= 0 else { throw ConfigurationError("shutdown-timeout must not be negative, got \(shutdown)") }
        server.shutdownTimeoutSeconds = shutdown

        let levelName = try flags.logLevel ?? file?.string("log-level") ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ConfigurationError("log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(levelName)'")
        }
        self.logLevel = level
        self.server = server

        guard let dataDirectory = try flags.dataDir ?? file?.string("data-dir")
            ?? SidecarDatabaseConfiguration.defaultDataDirectory(environment: environment)
        else {
            throw ConfigurationError("data-dir: neither $XDG_STATE_HOME nor $HOME is set; pass --data-dir")
        }
        var database = SidecarDatabaseConfiguration(dataDirectory: dataDirectory)
        database.maximumReaderCount = try Self.positive(
            "db-readers", flags.dbReaders ?? file?.int("db-readers") ?? database.maximumReaderCount, maximum: 64)
        let slowQueryMilliseconds = try flags.slowQueryMs ?? file?.int("slow-query-ms") ?? 50
        guard slowQueryMilliseconds >= 0 else { throw ConfigurationError("slow-query-ms must not be negative, got \(slowQueryMilliseconds)") }
        database.slowQueryThreshold = .milliseconds(slowQueryMilliseconds)
        self.database = database

        var state = StateService.Configuration()
        state.historyLimit = try Self.positive("history-limit", flags.historyLimit ?? file?.int("history-limit") ?? state.historyLimit)
        let ephemeralTexts = flags.ephemeral.isEmpty ? (try file?.stateEphemeral() ?? []) : flags.ephemeral
        state.ephemeral = EphemeralPaths(try ephemeralTexts.map { text in
            do {
                return try JSONPointer(text)
            } catch {
                throw ConfigurationError("ephemeral: \(error)")
            }
        })
        self.state = state
        self.cache = try Self.cache(flags: flags, file: file)
        var tasks = TaskScheduler.Configuration()
        tasks.workers = try Self.positive("workers", flags.workers ?? file?.int("workers") ?? tasks.workers, maximum: 1000)
        let noExec = try file?.bool("no-exec") ?? false
        tasks.execEnabled = !(flags.noExec || noExec)
        let grace = try flags.killGrace ?? file?.double("kill-grace") ?? 5
        guard grace >= 0, grace <= 3600 else { throw ConfigurationError("kill-grace must be between 0 and 3600 seconds, got \(grace)") }
        tasks.killGrace = .milliseconds(Int64((grace * 1000).rounded()))
        let retention = try flags.taskRetention ?? file?.double("task-retention") ?? 7 * 86_400
        guard retention >= 0 else { throw ConfigurationError("task-retention must not be negative, got \(retention)") }
        tasks.retention = .milliseconds(Int64((retention * 1000).rounded()))
        if let aging = try flags.priorityAging ?? file?.double("priority-aging") {
            guard aging > 0, aging <= 86_400 else {
                throw ConfigurationError("priority-aging must be more than 0 and at most 86400 seconds, got \(aging)")
            }
            tasks.priorityAging = .milliseconds(Int64((aging * 1000).rounded()))
        }
        self.tasks = tasks
    }

    private static func cache(flags: Sidecard, file: ConfigurationFile?) throws -> CacheConfiguration {
        var cache = CacheConfiguration()
        if let url = try flags.redis ?? file?.string("redis") {
            do {
                cache.redis = try RedisEndpoint(url: url)
            } catch {
                throw ConfigurationError("redis: \(error)")
            }
        }
        cache.redisTimeout = .milliseconds(
            try positive("redis-timeout-ms", flags.redisTimeoutMs ?? file?.int("redis-timeout-ms") ?? 100, maximum: 60_000))
        cache.prefix = try flags.cachePrefix ?? file?.string("cache-prefix") ?? cache.prefix
        let defaultTTL = try flags.cacheDefaultTtl ?? file?.int("cache-default-ttl") ?? Int(cache.defaultTTL)
        guard defaultTTL >= 0 else { throw ConfigurationError("cache-default-ttl must not be negative, got \(defaultTTL)") }
        cache.defaultTTL = Int64(defaultTTL)
        cache.maximumValueBytes = try positive(
            "cache-max-value-bytes", flags.cacheMaxValueBytes ?? file?.int("cache-max-value-bytes") ?? cache.maximumValueBytes)
        cache.l1Limits = LRUCache.Limits(
            maximumEntries: try positive("cache-l1-entries", flags.cacheL1Entries ?? file?.int("cache-l1-entries") ?? cache.l1Limits.maximumEntries),
            maximumBytes: try positive("cache-l1-bytes", flags.cacheL1Bytes ?? file?.int("cache-l1-bytes") ?? cache.l1Limits.maximumBytes))
        let recovery = try flags.breakerRecovery ?? file?.double("breaker-recovery") ?? 30
        guard recovery >= 0, recovery <= 86_400 else {
            throw ConfigurationError("breaker-recovery must be between 0 and 86400 seconds, got \(recovery)")
        }
        cache.breaker = CircuitBreaker.Configuration(
            failureThreshold: try positive("breaker-failures", flags.breakerFailures ?? file?.int("breaker-failures") ?? 5),
            recoveryTimeout: .milliseconds(Int64((recovery * 1000).rounded())))
        let warm = flags.cacheWarm.isEmpty ? (try file?.stringArray("cache-warm") ?? []) : flags.cacheWarm
        cache.warmPatterns = try warm.map { text in
            do {
                return try GlobPattern(text)
            } catch {
                throw ConfigurationError("cache-warm: \(error)")
            }
        }
        return cache
    }

    private static func positive(_ key: String, _ value: Int, maximum: Int = Int.max) throws -> Int {
        guard value > 0, value <= maximum else {
            throw ConfigurationError("\(key) must be between 1 and \(maximum), got \(value)")
        }
        return value
    }
}
