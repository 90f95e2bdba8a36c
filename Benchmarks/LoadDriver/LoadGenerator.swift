import ArgumentParser
import NIOCore
import NIOPosix
import SidecarProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sidecar-loadgen`: the same pipelined client against `sidecard` or `redis-server` (ping, get
/// or set), and the change-to-notification latency of `sidecard`'s state subscriptions.
@main
struct LoadGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar-loadgen",
        abstract: "Drive sidecard or redis-server over a Unix socket with the same client and measure it.",
        discussion: """
            --operation picks the request: ping (sidecar.ping / PING), get (state.get of /bench/key / GET \
            bench:key, after one set so that it returns a value), set (state.set / SET of a 64-byte string; \
            sidecard acknowledges it after its SQLite commit), cache-get (cache.get of bench:key after one \
            cache-set, every reply answered from L1 / GET), cache-get-l2 (the same, every reply answered \
            from L2: for a daemon with --redis whose L1 holds nothing, such as --cache-l1-bytes 1) or \
            cache-set (cache.set of a 64-byte string without expiry / SET). Each connection keeps exactly \
            --depth requests in flight: it sends that many at the start and one more per reply. Replies in \
            the first --warmup seconds are not counted; the run then lasts --duration seconds and stops by \
            itself. Latency is from a request's send to its reply.

            --cold-start instead connects once, sends one request and prints the time from the connect to \
            the reply (the server may be started by socket activation in between).

            --notify-latency (sidecar only) instead opens --subscribers connections that subscribe to \
            /bench/watched and one that state.sets it --writes times, one at a time, each value carrying its \
            send time; it prints the send → state.changed latency over all deliveries. Writing stops after \
            --warmup + --duration seconds at the latest; the subscribers then get --timeout seconds to \
            receive the last write.
            """
    )

    @Option(help: "The server: sidecar or redis.")
    var target: LoadTarget = .sidecar

    @Option(help: "The request: ping, get, set, cache-get, cache-get-l2 or cache-set.")
    var operation: LoadOperation = .ping

    @Option(help: "The server's Unix socket. For sidecar the default is the daemon's own (SIDECAR_SOCKET, XDG_RUNTIME_DIR).")
    var socket: String?

    @Option(help: "Concurrent connections.")
    var connections = 1

    @Option(help: "Requests in flight on each connection.")
    var depth = 1

    @Option(help: "Seconds measured.")
    var duration: Double = 5

    @Option(help: "Seconds run before measuring, not counted.")
    var warmup: Double = 1

    @Option(help: "Event loop threads of the driver (few, to leave the CPU to the server).")
    var threads = 1

    @Option(help: "Seconds to wait for a connection or, with --cold-start, for the reply.")
    var timeout: Double = 10

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Flag(help: "Measure one connect → first reply instead of a load run.")
    var coldStart = false

    @Flag(help: "Measure state.set → state.changed latency instead of a load run (sidecar only).")
    var notifyLatency = false

    @Option(help: "With --notify-latency: connections subscribed to the written path.")
    var subscribers = 1

    @Option(help: "With --notify-latency: counted writes (after the warm-up).")
    var writes = 1000

    @Option(help: "With --notify-latency: least seconds between two writes (0: each as soon as the last is acknowledged).")
    var writeInterval: Double = 0

    func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1.") }
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1.") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard duration > 0 else { throw ValidationError("--duration must be more than 0 seconds.") }
        guard warmup >= 0 else { throw ValidationError("--warmup cannot be negative.") }
        guard timeout > 0 else { throw ValidationError("--timeout must be more than 0 seconds.") }
        guard subscribers >= 1 else { throw ValidationError("--subscribers must be at least 1.") }
        guard writes >= 1 else { throw ValidationError("--writes must be at least 1.") }
        guard writeInterval >= 0 else { throw ValidationError("--write-interval cannot be negative.") }
        if notifyLatency {
            guard target == .sidecar else { throw ValidationError("--notify-latency measures sidecard only.") }
            guard !coldStart else { throw ValidationError("--notify-latency and --cold-start are different runs.") }
        }
        if target == .redis, socket == nil {
            throw ValidationError("--target redis needs --socket (the path given to redis-server --unixsocket).")
        }
    }

    func run() throws {
        let path = resolvedSocket
        let group = MultiThreadedEventLoopGroup(numberOfThreads: coldStart ? 1 : threads)
        defer { try? group.syncShutdownGracefully() }
        do {
            if coldStart {
                let elapsed = try measureColdStart(path: path, group: group)
                let micros = rounded(Double(elapsed.nanoseconds) / 1000)
                if json {
                    print(JSONWriter.string(["target": .string(target.rawValue), "coldStartMicros": .double(micros)]))
                } else {
                    print("cold start (\(target.rawValue)): connect → first reply \(rounded(micros / 1000)) ms")
                }
            } else if notifyLatency {
                let run = NotificationLatencyRun(
                    path: path, subscribers: subscribers, writes: writes, writeInterval: seconds(writeInterval),
                    duration: seconds(duration), warmup: seconds(warmup), timeout: timeoutAmount, threads: threads)
                var report = try run.run(group: group) { bootstrap in try connect(bootstrap, path: path) }
                report.socket = path
                print(json ? report.json : report.text)
            } else {
                let report = try runLoad(path: path, group: group)
                print(json ? report.json : report.text)
            }
        } catch {
            printError("sidecar-loadgen: \(error)")
            throw ExitCode.failure
        }
    }

    private var resolvedSocket: String {
        var environment: [String: String] = [:]
        for name in [SocketPath.environmentVariable, "XDG_RUNTIME_DIR"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return SocketPath.resolve(explicit: socket, environment: environment)
    }

    private var timeoutAmount: TimeAmount { seconds(timeout) }

    private func seconds(_ value: Double) -> TimeAmount { .nanoseconds(Int64(value * 1e9)) }

    // MARK: - Load run

    private func runLoad(path: String, group: MultiThreadedEventLoopGroup) throws -> LoadReport {
        let workload = Workload(target: target, operation: operation)
        let depth = self.depth
        if let setup = workload.setup {
            _ = try exchangeOnce(setup, path: path, group: group)
        }
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeoutAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(workload: workload, depth: depth))
                }
            }
        var channels: [Channel] = []
        for _ in 0..<connections {
            channels.append(try connect(bootstrap, path: path))
        }
        let start = NIODeadline.now() + .nanoseconds(Int64(warmup * 1e9))
        let window = MeasurementWindow(start: start, end: start + .nanoseconds(Int64(duration * 1e9)))
        let results = channels.map { channel in
            channel.eventLoop.flatSubmit {
                do {
                    let handler = try channel.pipeline.syncOperations.handler(type: LoadConnectionHandler.self)
                    return try handler.start(window: window)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        }
        var report = LoadReport(
            target: target, operation: operation, socket: path, connections: connections, depth: depth, threads: threads,
            durationSeconds: duration, warmupSeconds: warmup
        )
        for result in try EventLoopFuture.whenAllSucceed(results, on: group.next()).wait() {
            report.add(result)
        }
        guard report.replies > 0 else { throw LoadError.noReplies(seconds: duration) }
        return report
    }

    // MARK: - Cold start

    private func measureColdStart(path: String, group: MultiThreadedEventLoopGroup) throws -> TimeAmount {
        try exchangeOnce(Workload(target: target, operation: operation), path: path, group: group)
    }

    /// Connects, sends one request of `workload` and waits for its reply (at most `--timeout`).
    /// - Returns: the time from the start of the connect to the reply.
    private func exchangeOnce(_ workload: Workload, path: String, group: MultiThreadedEventLoopGroup) throws -> TimeAmount {
        let loop = group.next()
        let replied = loop.makePromise(of: NIODeadline.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeoutAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstReplyHandler(workload: workload, promise: replied))
                }
            }
        let timeout = self.timeout
        let deadline = loop.scheduleTask(in: timeoutAmount) { replied.fail(LoadError.timedOut(seconds: timeout)) }
        let started = NIODeadline.now()
        let channel: Channel
        do {
            channel = try connect(bootstrap, path: path)
        } catch {
            deadline.cancel()
            replied.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        let repliedAt = try replied.futureResult.wait()
        deadline.cancel()
        return repliedAt - started
    }

    private func connect(_ bootstrap: ClientBootstrap, path: String) throws -> Channel {
        do {
            return try bootstrap.connect(unixDomainSocketPath: path).wait()
        } catch {
            throw LoadError.cannotConnect(path: path, target: target, underlying: "\(error)")
        }
    }

    private func printError(_ message: String) {
        var standardError = StandardError()
        print(message, to: &standardError)
    }
}

/// Standard error as a `TextOutputStream`.
private struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { bytes in
            #if canImport(Glibc)
            _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count)
            #else
            _ = Darwin.write(STDERR_FILENO, bytes.baseAddress, bytes.count)
            #endif
        }
    }
}
