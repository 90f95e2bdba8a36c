import ArgumentParser
import NIOCore
import NIOPosix
import SidecarProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sidecar-loadgen`: the same pipelined ping client against `sidecard` or `redis-server`.
@main
struct LoadGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar-loadgen",
        abstract: "Drive sidecard (sidecar.ping) or redis-server (PING) over a Unix socket and measure it.",
        discussion: """
            Each connection keeps exactly --depth requests in flight: it sends that many at the start and one \
            more per reply. Replies in the first --warmup seconds are not counted; the run then lasts \
            --duration seconds and stops by itself. Latency is from a request's send to its reply.

            --cold-start instead connects once, sends one ping and prints the time from the connect to the \
            reply (the server may be started by socket activation in between).
            """
    )

    @Option(help: "The server: sidecar or redis.")
    var target: LoadTarget = .sidecar

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

    func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1.") }
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1.") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1.") }
        guard duration > 0 else { throw ValidationError("--duration must be more than 0 seconds.") }
        guard warmup >= 0 else { throw ValidationError("--warmup cannot be negative.") }
        guard timeout > 0 else { throw ValidationError("--timeout must be more than 0 seconds.") }
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

    private var timeoutAmount: TimeAmount { .nanoseconds(Int64(timeout * 1e9)) }

    // MARK: - Load run

    private func runLoad(path: String, group: MultiThreadedEventLoopGroup) throws -> LoadReport {
        let target = self.target
        let depth = self.depth
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeoutAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(LoadConnectionHandler(target: target, depth: depth))
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
            target: target, socket: path, connections: connections, depth: depth, threads: threads,
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
        let loop = group.next()
        let replied = loop.makePromise(of: NIODeadline.self)
        let target = self.target
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeoutAmount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstReplyHandler(target: target, promise: replied))
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
