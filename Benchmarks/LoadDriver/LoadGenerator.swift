import ArgumentParser
import NIOCore
import NIOPosix
import SidecarProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sidecar-loadgen`: the same pipelined client against `sidecard` or `redis-server` (ping, get,
/// set, cache and task submissions), tasks end to end through each (`--end-to-end`), and the
/// latencies of `sidecard`'s state subscriptions and task queue.
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
            cache-set (cache.set of a 64-byte string without expiry / SET), tasks-submit (tasks.submit of a \
            sidecar.noop task whose payload is the 64-byte string, acknowledged after its commit / LPUSH of the \
            same task as JSON to bench:tasks) or tasks-submit-many (tasks.submitMany of --batch such tasks / one \
            LPUSH of --batch values; reported in tasks/s too). sidecard's pool runs every task submitted: a \
            tasks-* run waits for the daemon to be idle first, reads tasks.metrics at both ends of the measured \
            window (tasks taken and run meanwhile) and reports how long the daemon took to be idle after it; \
            for Redis the list is deleted before and after. Each connection keeps exactly \
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

            --end-to-end instead pushes tasks through a queue and reports tasks/s from the first submit to \
            the last task done: one producer connection sends batches of --batch (tasks.submitMany / LPUSH), \
            --depth batches open at a time and never more than --backlog tasks unfinished, for --duration \
            seconds, then the run waits for the rest. sidecar with --workers 0: sidecar.noop tasks run by the \
            daemon's built-in pool (done when tasks.wait on each batch's last task returns, checked with \
            tasks.metrics); sidecar with --workers K: bench.work tasks done by K worker connections \
            (tasks.claim max --claim-max wait 1, then tasks.complete per task, pipelined with the next claim); \
            redis with --workers K: K consumer connections with --claim-max BRPOPs in flight each (a plain \
            list, not durable). A warm-up phase of --warmup seconds runs first. All connections share one \
            driver thread.

            --queue-latency (sidecar only) instead submits one sidecar.noop at a time on one connection \
            (tasks.submit, then tasks.wait) and prints the submit acknowledgement and submit → succeeded \
            latencies, and the daemon's queueLatencyMs p50/p99 from tasks.metrics at the end.
            """
    )

    @Option(help: "The server: sidecar or redis.")
    var target: LoadTarget = .sidecar

    @Option(help: "The request: ping, get, set, cache-get, cache-get-l2, cache-set, tasks-submit or tasks-submit-many.")
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

    @Option(help: "Tasks per request of tasks-submit-many and of --end-to-end's producer.")
    var batch = 100

    @Flag(help: "Measure tasks from submit to done instead of a load run.")
    var endToEnd = false

    @Option(help: "With --end-to-end: worker (consumer) connections; 0 (sidecar only): the daemon's built-in pool runs the tasks.")
    var workers = 0

    @Option(help: "With --end-to-end: tasks.claim's max (sidecar), BRPOPs in flight per consumer (redis).")
    var claimMax = 100

    @Option(help: "With --end-to-end: the most tasks submitted and not yet done.")
    var backlog = 5000

    @Flag(help: "Measure submit → start latency, one sidecar.noop at a time, instead of a load run (sidecar only).")
    var queueLatency = false

    @Option(help: "Seconds a tasks-* run waits for sidecard's queue to empty before and after it.")
    var drainTimeout: Double = 60

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
        guard batch >= 1, batch <= 10_000 else { throw ValidationError("--batch must be from 1 to 10000.") }
        guard workers >= 0 else { throw ValidationError("--workers cannot be negative.") }
        guard claimMax >= 1, claimMax <= 1000 else { throw ValidationError("--claim-max must be from 1 to 1000.") }
        guard backlog >= batch else { throw ValidationError("--backlog must be at least --batch.") }
        guard drainTimeout > 0 else { throw ValidationError("--drain-timeout must be more than 0 seconds.") }
        guard [coldStart, notifyLatency, endToEnd, queueLatency].filter({ $0 }).count <= 1 else {
            throw ValidationError("--cold-start, --notify-latency, --end-to-end and --queue-latency are different runs; pick one.")
        }
        if notifyLatency, target != .sidecar { throw ValidationError("--notify-latency measures sidecard only.") }
        if queueLatency, target != .sidecar { throw ValidationError("--queue-latency measures sidecard only.") }
        if endToEnd, target == .redis, workers == 0 {
            throw ValidationError("--end-to-end --target redis needs --workers (BRPOP consumers): Redis runs nothing itself.")
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
            } else if endToEnd {
                let run = QueueFlowRun(
                    target: target, workers: workers, batch: batch, depth: depth, claimMaximum: claimMax, backlog: backlog,
                    duration: seconds(duration), warmup: seconds(warmup), timeout: seconds(max(timeout, drainTimeout)))
                let control = try ControlConnection.connect(target: target, path: path, group: group, timeout: timeoutAmount) {
                    try connect($0, path: path)
                }
                defer { control.close() }
                var report = try run.run(group: group, control: control) { bootstrap in try connect(bootstrap, path: path) }
                report.socket = path
                print(json ? report.json : report.text)
            } else if queueLatency {
                let control = try ControlConnection.connect(target: target, path: path, group: group, timeout: timeoutAmount) {
                    try connect($0, path: path)
                }
                defer { control.close() }
                let run = QueueLatencyRun(duration: seconds(duration), warmup: seconds(warmup), timeout: seconds(max(timeout, drainTimeout)))
                var report = try run.run(control: control)
                report.socket = path
                print(json ? report.json : report.text)
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
        let workload = Workload(target: target, operation: operation, batch: batch)
        let depth = self.depth
        if let setup = workload.setup {
            _ = try exchangeOnce(setup, path: path, group: group)
        }
        // A task submission leaves work behind: sidecard runs it, Redis keeps it in a list.
        let control: ControlConnection? =
            operation.submitsTasks
            ? try ControlConnection.connect(target: target, path: path, group: group, timeout: timeoutAmount) { try connect($0, path: path) }
            : nil
        defer { control?.close() }
        var before: TaskMetricsSnapshot?
        if let control {
            switch target {
            case .sidecar: before = try control.waitUntilTasksIdle(timeout: seconds(drainTimeout)).0
            case .redis: _ = try control.command(["DEL", LoadOperation.redisQueueKey]).wait()
            }
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
        // sidecard's counts at both ends of the window, with the time each reply arrived.
        var windowMetrics: [EventLoopFuture<(TaskMetricsSnapshot, NIODeadline)>] = []
        if let control, target == .sidecar {
            windowMetrics = [window.start, window.end].map { deadline in
                control.eventLoop.flatScheduleTask(deadline: deadline) {
                    control.taskMetrics().map { ($0, NIODeadline.now()) }
                }.futureResult
            }
        }
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
            target: target, operation: operation, name: workload.name, itemsPerRequest: workload.itemsPerRequest, socket: path,
            connections: connections, depth: depth, threads: threads, durationSeconds: duration, warmupSeconds: warmup
        )
        for result in try EventLoopFuture.whenAllSucceed(results, on: group.next()).wait() {
            report.add(result)
        }
        guard report.replies > 0 else { throw LoadError.noReplies(seconds: duration) }
        if let control {
            switch target {
            case .sidecar:
                let ends = try EventLoopFuture.whenAllSucceed(windowMetrics, on: control.eventLoop).wait()
                let (idle, idleAt) = try control.waitUntilTasksIdle(timeout: seconds(drainTimeout))
                let (first, firstAt) = ends[0]
                let (last, lastAt) = ends[1]
                report.daemonTasks = DaemonTaskFigures(
                    submitted: last.submitted - first.submitted, succeeded: last.succeeded - first.succeeded,
                    failed: idle.failed - (before?.failed ?? idle.failed),
                    windowSeconds: Double((lastAt - firstAt).nanoseconds) / 1e9,
                    drainSeconds: max(0, Double((idleAt - window.end).nanoseconds) / 1e9))
            case .redis:
                _ = try control.command(["DEL", LoadOperation.redisQueueKey]).wait()
            }
        }
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
