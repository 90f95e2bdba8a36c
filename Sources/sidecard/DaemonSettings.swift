import Logging
import SidecarProtocol
import SidecarServer
import SidecarState
import SidecarStore

/// The daemon's settings: each from its flag, else the configuration file, else the default.
struct DaemonSettings {
    var server: ServerConfiguration
    var database: SidecarDatabaseConfiguration
    var state: StateService.Configuration
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
    }

    private static func positive(_ key: String, _ value: Int, maximum: Int = Int.max) throws -> Int {
        guard value > 0, value <= maximum else {
            throw ConfigurationError("\(key) must be between 1 and \(maximum), got \(value)")
        }
        return value
    }
}
