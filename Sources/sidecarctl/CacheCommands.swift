import ArgumentParser
import SidecarClient

// The cache commands: thin wrappers over `client.cache` (PROTOCOL.md, "Cache"). Each prints
// the result as JSON, like `call`: indented on a terminal, one line otherwise; `cache stats`
// prints lines for people unless given --json.

/// `sidecarctl cache …`
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Read, write, invalidate and inspect the daemon's two-level cache.",
        discussion: """
            Options such as --socket and --timeout go after the subcommand: \
            `sidecarctl cache stats --socket PATH`.

            Examples:
              sidecarctl cache set user:42:profile '{"name": "Ada"}' --ttl 60
              sidecarctl cache get user:42:profile
              sidecarctl cache invalidate 'user:42:*'
              sidecarctl cache stats
            """,
        subcommands: [
            CacheGetCommand.self, CacheSetCommand.self, CacheDeleteCommand.self, CacheInvalidateCommand.self,
            CacheWarmCommand.self, CacheClearCommand.self, CacheStatsCommand.self,
        ]
    )
}

/// `sidecarctl cache get KEY`
struct CacheGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value cached under a key.",
        discussion: """
            Calls cache.get and prints the value as JSON. A miss is not an error: `null` is \
            printed and the exit status is 0, as `sidecarctl get` does for a missing path (use \
            --exists to tell a cached null apart). With --json, prints the whole result \
            {"hit", "value", "tier", "ttl"}: the tier that answered (l1 memory, l2 Redis) and \
            the seconds left.

            Examples:
              sidecarctl cache get user:42:profile
              sidecarctl cache get user:42:profile --exists || echo 'not cached'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The key.", valueName: "key"))
    var key: String

    @Flag(name: .long, help: "Exit with status 3 (and print nothing) on a miss.")
    var exists = false

    @Flag(name: .long, help: "Print the raw cache.get result {hit, value, tier, ttl}.")
    var json = false

    func run() async throws {
        let result = try await global.withClient { client in
            try await client.cache.get(key)
        }
        if !result.hit, exists { throw ExitCode(3) }
        if json {
            Output.printJSON([
                "hit": .bool(result.hit),
                "value": result.value ?? .null,
                "tier": result.tier.map { .string($0.rawValue) } ?? .null,
                "ttl": result.ttl.map { .int(Int64($0)) } ?? .null,
            ])
            return
        }
        Output.printJSON(result.value ?? .null)
    }
}

/// `sidecarctl cache set KEY JSON [--ttl S]`
struct CacheSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Cache a JSON value under a key.",
        discussion: """
            Calls cache.set and prints {"stored": true}. The value goes to memory and, when the \
            daemon runs with --redis, to Redis (other daemons sharing it drop their copy).

            Examples:
              sidecarctl cache set user:42:profile '{"name": "Ada"}' --ttl 60
              sidecarctl cache set greeting '"hello"' --ttl 0     # never expires
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The key (at most 1024 bytes).", valueName: "key"))
    var key: String

    @Argument(help: ArgumentHelp("The value, as JSON (a string needs its quotes: '\"hello\"'); - reads it from standard input.", valueName: "json"))
    var json: String

    @Option(
        name: .long,
        help: ArgumentHelp("Seconds to keep it; 0 never expires (default: the daemon's --cache-default-ttl).", valueName: "seconds")
    )
    var ttl: Int?

    func validate() throws {
        _ = try JSONArgument.parse(json, name: "JSON")
        if let ttl, ttl < 0 {
            throw ValidationError("--ttl must be 0 (no expiry) or a positive number of seconds, got \(ttl).")
        }
    }

    func run() async throws {
        let value = try JSONArgument.parse(json, name: "JSON")
        try await global.withClient { client in
            try await client.cache.set(key, value: value, ttl: ttl)
        }
        Output.printJSON(["stored": true])
    }
}

/// `sidecarctl cache del KEY`
struct CacheDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "del",
        abstract: "Remove a key from the cache.",
        discussion: """
            Calls cache.delete and prints {"deleted": BOOL}: false when the key was not cached \
            (not an error).

            Example:
              sidecarctl cache del user:42:profile
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The key.", valueName: "key"))
    var key: String

    func run() async throws {
        let deleted = try await global.withClient { client in
            try await client.cache.delete(key)
        }
        Output.printJSON(["deleted": .bool(deleted)])
    }
}

/// `sidecarctl cache invalidate PATTERN`
struct CacheInvalidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invalidate",
        abstract: "Remove every key that matches a glob pattern.",
        discussion: """
            Calls cache.invalidate and prints {"l1Removed": N, "l2Removed": N}: the entries \
            removed from this daemon's memory and from Redis. Daemons sharing the Redis drop \
            their copies too. PATTERN is a Redis glob: * any run of characters, ? one character, \
            [abc] one of them, \\ escapes the next character; quote it for the shell.

            Example:
              sidecarctl cache invalidate 'user:42:*'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A Redis glob pattern, such as 'user:42:*'.", valueName: "pattern"))
    var pattern: String

    func run() async throws {
        let removed = try await global.withClient { client in
            try await client.cache.invalidate(pattern: pattern)
        }
        Output.printJSON(["l1Removed": .int(Int64(removed.l1Removed)), "l2Removed": .int(Int64(removed.l2Removed))])
    }
}

/// `sidecarctl cache warm PATTERN`
struct CacheWarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Load the Redis entries that match a glob pattern into the daemon's memory.",
        discussion: """
            Calls cache.warm and prints {"loaded": N}; N is 0 when the daemon runs without \
            --redis or Redis is down.

            Example:
              sidecarctl cache warm 'config:*'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A Redis glob pattern, such as 'config:*'.", valueName: "pattern"))
    var pattern: String

    func run() async throws {
        let loaded = try await global.withClient { client in
            try await client.cache.warm(pattern: pattern)
        }
        Output.printJSON(["loaded": .int(Int64(loaded))])
    }
}

/// `sidecarctl cache clear`
struct CacheClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear",
        abstract: "Remove every entry from the cache, in memory and in Redis.",
        discussion: """
            Calls cache.clear and prints {"l1Removed": N, "l2Removed": N}. In Redis, every key \
            under the daemon's --cache-prefix is removed; daemons sharing it drop their copies.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let removed = try await global.withClient { client in
            try await client.cache.clear()
        }
        Output.printJSON(["l1Removed": .int(Int64(removed.l1Removed)), "l2Removed": .int(Int64(removed.l2Removed))])
    }
}

/// `sidecarctl cache stats`
struct CacheStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the cache's hits, misses, memory use and Redis circuit breaker.",
        discussion: """
            Calls cache.stats and prints, per tier (l1: the daemon's memory, l2: Redis), the \
            hits, misses and hit ratio, then the entries and bytes held, whether Redis is \
            enabled, its errors and timeouts, and the circuit breaker: its state (closed, open, \
            half_open), consecutive failures, when it last opened and how many times it has. \
            With --json, prints the raw cache.stats result instead.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print the raw cache.stats result as JSON.")
    var json = false

    func run() async throws {
        if json {
            let raw = try await global.withClient { client in
                try await client.call("cache.stats")
            }
            Output.printJSON(raw)
            return
        }
        let stats = try await global.withClient { client in
            try await client.cache.stats()
        }
        for line in Self.lines(stats) {
            print(line)
        }
    }

    /// The report: one heading per part, then `  name: value` lines, values aligned.
    static func lines(_ stats: CacheStats) -> [String] {
        let sections: [(String, [(String, String)])] = [
            ("l1 (memory)", [
                ("hits", String(stats.l1.hits)),
                ("misses", String(stats.l1.misses)),
                ("hit ratio", percentage(stats.l1.hitRatio)),
                ("writes", String(stats.l1.writes)),
                ("evictions", String(stats.l1.evictions)),
                ("expirations", String(stats.l1.expirations)),
                ("entries", String(stats.l1.entries)),
                ("bytes", byteCount(stats.l1.bytes)),
            ]),
            ("l2 (redis)", [
                ("enabled", stats.l2.enabled ? "yes" : "no"),
                ("hits", String(stats.l2.hits)),
                ("misses", String(stats.l2.misses)),
                ("hit ratio", percentage(stats.l2.hitRatio)),
                ("writes", String(stats.l2.writes)),
                ("errors", String(stats.l2.errors)),
                ("timeouts", String(stats.l2.timeouts)),
            ]),
            ("breaker", [
                ("state", stats.breaker.state.rawValue),
                ("consecutive failures", String(stats.breaker.consecutiveFailures)),
                ("opened at", stats.breaker.openedAt ?? "-"),
                ("trips", String(stats.breaker.trips)),
            ]),
        ]
        return Output.report(sections)
    }

    /// `80.0%`, one decimal; `-` when there were no reads to divide by.
    static func percentage(_ ratio: Double?) -> String {
        guard let ratio, ratio.isFinite else { return "-" }
        let tenths = Int((ratio * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// `512`, or `4096 (4.0 KiB)`: the exact count, and a rounded one for people above 1 KiB.
    static func byteCount(_ bytes: Int) -> String {
        guard bytes >= 1024 else { return String(bytes) }
        var scaled = Double(bytes)
        var unit = 0
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        let tenths = Int((scaled * 10).rounded())
        return "\(bytes) (\(tenths / 10).\(tenths % 10) \(units[unit]))"
    }
}

