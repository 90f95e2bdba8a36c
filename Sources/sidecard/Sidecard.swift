import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Logging
import SidecarCache
import SidecarTasks
import NIOPosix
import ServiceLifecycle
import SidecarProtocol
import SidecarServer
import SidecarState
import SidecarStore

/// `sidecard`: the per-user Sidecar daemon.
@main
struct Sidecard: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sidecard",
        abstract: "The Sidecar daemon: app state, cache and tasks for desktop apps, over JSON-RPC on a Unix socket.",
        discussion: """
            Listens on a Unix domain socket and speaks length-prefixed JSON-RPC 2.0 \
            (see protocol/PROTOCOL.md). Under systemd it is socket-activated (LISTEN_FDS) and \
            reports readiness with sd_notify.

            Every option can also be set in $XDG_CONFIG_HOME/sidecar/config.toml (default \
            ~/.config/sidecar/config.toml) under the same name without the dashes, e.g. \
            `max-connections = 64` or `allow-uid = [1001]`. Flags win over the file.
            """,
        version: version
    )

    @Option(name: .long, help: ArgumentHelp(
        "The socket to listen on.",
        discussion: "Default: $SIDECAR_SOCKET, else $XDG_RUNTIME_DIR/sidecar/sidecar.sock, else /tmp/sidecar-$UID/sidecar.sock. Ignored when socket-activated.",
        valueName: "path"))
    var socket: String?

    @Option(name: .long, help: ArgumentHelp("The largest frame accepted, in bytes (default 16777216).", valueName: "bytes"))
    var maxFrameBytes: Int?

    @Option(name: .long, help: ArgumentHelp("The most connections served at once (default 1024).", valueName: "count"))
    var maxConnections: Int?

    @Option(name: .long, help: ArgumentHelp(
        "The most unsent bytes a connection may hold, and the most bytes of notifications held for it while it does not read, before it is closed (default 8388608).", valueName: "bytes"))
    var maxOutboundBytes: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Also serve this user id (repeatable). The daemon's own user and root are always served.", valueName: "uid"))
    var allowUid: [UInt32] = []

    @Option(name: .long, help: ArgumentHelp(
        "Exit after this many seconds with no connection and no pending work (default 0: never).", valueName: "seconds"))
    var idleExit: Double?

    @Option(name: .long, help: ArgumentHelp(
        "How long a shutdown waits for in-flight requests (default 10).", valueName: "seconds"))
    var shutdownTimeout: Double?

    @Option(name: .long, help: ArgumentHelp("Event loop threads (default 1; more only helps with many busy clients on many cores).", valueName: "count"))
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Where the database lives (default $XDG_STATE_HOME/sidecar, else ~/.local/state/sidecar; created 0700).",
        valueName: "path"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("Database reader connections (default 5).", valueName: "count"))
    var dbReaders: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Log statements slower than this, and keep the last 100 in sidecar.metrics (default 50).", valueName: "ms"))
    var slowQueryMs: Int?

    @Option(name: .long, help: ArgumentHelp(
        "How many state changes state.history and state.revert reach back (default 10000).", valueName: "count"))
    var historyLimit: Int?

    @Option(name: .long, help: ArgumentHelp(
        "Keep this state subtree in memory only: same over RPC, never written to disk, empty after a restart (repeatable; config [state] ephemeral = [...]).",
        valueName: "pointer"))
    var ephemeral: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Enable the cache's L2 in this Redis: redis://[:password@]host[:port][/db] or unix:///path/to.sock[?db=N] (default: none, L1 only).",
        valueName: "url"))
    var redis: String?

    @Option(name: .long, help: ArgumentHelp("Connect and command timeout for Redis (default 100).", valueName: "ms"))
    var redisTimeoutMs: Int?

    @Option(name: .long, help: ArgumentHelp("Namespace of the cache's keys in Redis (default sidecar:).", valueName: "prefix"))
    var cachePrefix: String?

    @Option(name: .long, help: ArgumentHelp("TTL of a cache.set without one; 0 = no expiry (default 300).", valueName: "seconds"))
    var cacheDefaultTtl: Int?

    @Option(name: .long, help: ArgumentHelp("Largest cached value, as JSON bytes (default 1048576).", valueName: "bytes"))
    var cacheMaxValueBytes: Int?

    @Option(name: .long, help: ArgumentHelp("Entries the in-memory L1 keeps (default 10000).", valueName: "count"))
    var cacheL1Entries: Int?

    @Option(name: .long, help: ArgumentHelp("Bytes the in-memory L1 keeps (default 67108864).", valueName: "bytes"))
    var cacheL1Bytes: Int?

    @Option(name: .long, help: ArgumentHelp("Consecutive Redis failures that open the breaker (default 5).", valueName: "count"))
    var breakerFailures: Int?

    @Option(name: .long, help: ArgumentHelp("Seconds the open breaker waits before probing Redis again (default 30).", valueName: "seconds"))
    var breakerRecovery: Double?

    @Option(name: .long, help: ArgumentHelp(
        "At start-up, load the Redis entries matching this glob into L1, in the background (repeatable).", valueName: "pattern"))
    var cacheWarm: [String] = []

    @Option(name: .long, help: ArgumentHelp("Built-in task workers (default 10).", valueName: "count"))
    var workers: Int?

    @Flag(name: .long, help: "Do not run tasks of kind exec (they wait for an external worker instead).")
    var noExec = false

    @Option(name: .long, help: ArgumentHelp(
        "Seconds between SIGTERM and SIGKILL when an exec task is stopped (default 5).", valueName: "seconds"))
    var killGrace: Double?

    @Option(name: .long, help: ArgumentHelp("Seconds finished tasks are kept (default 604800, 7 days).", valueName: "seconds"))
    var taskRetention: Double?

    @Option(name: .long, help: ArgumentHelp(
        "A queued task rises one priority level per this many seconds of waiting, so low never starves (default off).",
        valueName: "seconds"))
    var priorityAging: Double?

    @Option(name: .long, help: ArgumentHelp(
        "trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String?

    @Option(name: .long, help: ArgumentHelp(
        "Read settings from this TOML file instead of the default location.", valueName: "path"))
    var config: String?

    func run() async throws {
        let environment = SystemInterface.environment
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings(flags: self, environment: environment)
        } catch let error as ConfigurationError {
            Self.fail("sidecard: \(error.description)")
        }

        // Files the daemon creates (socket, later the database) are the user's alone.
        umask(0o077)
        let journal = environment["JOURNAL_STREAM"] != nil
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "sidecard")

        // One group for the connections and the services: the state document lives on its
        // first loop, so with the default single thread a request never changes thread.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: max(1, settings.server.threads))
        let services: SidecarServices
        do {
            let database = try SidecarDatabase(
                configuration: settings.database,
                migrations: StateService.migrations + TaskScheduler.migrations,
                logger: Logger(label: "sidecar.store")
            )
            // The services share the first loop: with the default single thread, every request stays on it.
            let serviceLoop = eventLoopGroup.next()
            let state = try await StateService(database: database, eventLoop: serviceLoop, configuration: settings.state)
            let cache = CacheService(configuration: settings.cache, eventLoop: serviceLoop, logger: Logger(label: "sidecar.cache"))
            let tasks = try await TaskScheduler(
                database: database, eventLoop: serviceLoop, configuration: settings.tasks, logger: Logger(label: "sidecar.tasks"))
            services = SidecarServices(state: state, cache: cache, tasks: tasks, database: database)
        } catch {
            Self.fail("sidecard: \(error)")
        }

        let notifier = SystemdNotifier()
        let server = SidecarServer(
            configuration: settings.server,
            eventLoopGroup: eventLoopGroup,
            logger: logger,
            events: ServerEvents(
                ready: { path in notifier.notify("READY=1\nSTATUS=listening on \(path)") },
                stopping: { notifier.notify("STOPPING=1\nSTATUS=shutting down") }
            ),
            services: services,
            hasPendingWork: { services.tasks.hasPendingWork }
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: WatchdogService(notifier: notifier, server: server)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        await services.cache.start()
        services.tasks.start()
        do {
            try await group.run()
        } catch let error as ServerStartupError {
            Self.fail("sidecard: \(error.description)")
        }
        await services.tasks.shutdown(timeout: .milliseconds(Int64(settings.server.shutdownTimeoutSeconds * 1000)))
        services.cache.shutdown()
        try await services.database.close()
        try await eventLoopGroup.shutdownGracefully()
    }

    private static func fail(_ message: String) -> Never {
        SystemInterface.writeToStandardError(message + "\n")
        Glibc.exit(1)
    }
}
