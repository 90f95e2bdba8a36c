import Histogram
import NIOCore
import SidecarProtocol

/// `--queue-latency` (sidecard only): on an idle daemon, one `sidecar.noop` at a time over one
/// connection: `tasks.submit`, then `tasks.wait` for it, then the next. The client measures
/// submit sent → submit acknowledged (after the commit) and submit sent → `tasks.wait` answered
/// (the task has succeeded); at the end the daemon's own `queueLatencyMs` (start −
/// max(runAt, createdAt), whole milliseconds, its newest 10,000 starts: warm-up included) is
/// read from `tasks.metrics`.
struct QueueLatencyRun {
    var duration: TimeAmount
    var warmup: TimeAmount
    var timeout: TimeAmount

    /// - Throws: ``LoadError`` when the daemon answers wrongly or a step takes longer than `timeout`.
    func run(control: ControlConnection) throws -> QueueLatencyReport {
        let (before, _) = try control.waitUntilTasksIdle(timeout: timeout)
        let loop = control.eventLoop
        let measureFrom = NIODeadline.now() + warmup
        let end = measureFrom + duration
        let stepTimeout = timeout
        let done = loop.flatSubmit {
            QueueLatencyLoop(control: control, measureFrom: measureFrom, end: end, stepTimeout: stepTimeout).start()
        }
        let bounded = loop.makePromise(of: QueueLatencyResult.self)
        let limit = warmup + duration + timeout
        let deadline = loop.scheduleTask(in: limit) { bounded.fail(LoadError.timedOut(seconds: Double(limit.nanoseconds) / 1e9)) }
        done.cascade(to: bounded)
        defer { deadline.cancel() }
        let result = try bounded.futureResult.wait()
        guard result.tasks > 0 else { throw LoadError.noReplies(seconds: Double(duration.nanoseconds) / 1e9) }
        let metrics = try control.taskMetrics().wait()
        guard metrics.failed == before.failed else {
            throw LoadError.badReply("\(metrics.failed - before.failed) task(s) failed during the run (tasks.metrics)")
        }
        return QueueLatencyReport(
            tasks: result.tasks, warmupSeconds: Double(warmup.nanoseconds) / 1e9, submitNanoseconds: result.submit,
            roundTripNanoseconds: result.roundTrip, daemon: metrics)
    }
}

/// What the client measured in a queue-latency run.
struct QueueLatencyResult: Sendable {
    var tasks: UInt64 = 0
    /// Submit sent → acknowledged.
    var submit = LatencyHistogram.make()
    /// Submit sent → `tasks.wait` answered with the succeeded task.
    var roundTrip = LatencyHistogram.make()
}

/// The steps of a queue-latency run, on the control connection's event loop: each reply
/// sends the next request.
private final class QueueLatencyLoop {
    private static let task: JSONValue = ["kind": .string(LoadOperation.taskKind), "payload": .string(LoadOperation.value)]

    private let control: ControlConnection
    private let measureFrom: NIODeadline
    private let end: NIODeadline
    private let waitSeconds: Int64
    private let promise: EventLoopPromise<QueueLatencyResult>
    private var result = QueueLatencyResult()

    init(control: ControlConnection, measureFrom: NIODeadline, end: NIODeadline, stepTimeout: TimeAmount) {
        self.control = control
        self.measureFrom = measureFrom
        self.end = end
        self.waitSeconds = max(1, stepTimeout.nanoseconds / 1_000_000_000)
        self.promise = control.eventLoop.makePromise(of: QueueLatencyResult.self)
    }

    func start() -> EventLoopFuture<QueueLatencyResult> {
        step()
        return promise.futureResult
    }

    private func step() {
        let sent = NIODeadline.now()
        guard sent < end else {
            promise.succeed(result)
            return
        }
        control.call("tasks.submit", Self.task).assumeIsolated().whenComplete { outcome in
            let acknowledged = NIODeadline.now()
            switch outcome {
            case .failure(let error):
                self.promise.fail(error)
            case .success(let reply):
                guard let id = reply["id"]?.stringValue, reply["created"] == .bool(true) else {
                    self.promise.fail(LoadError.badReply("tasks.submit answered \(JSONWriter.string(reply))"))
                    return
                }
                self.awaitRun(of: id, sent: sent, acknowledged: acknowledged)
            }
        }
    }

    private func awaitRun(of id: String, sent: NIODeadline, acknowledged: NIODeadline) {
        control.call("tasks.wait", ["id": .string(id), "timeout": .int(waitSeconds)]).assumeIsolated().whenComplete { outcome in
            let finished = NIODeadline.now()
            switch outcome {
            case .failure(let error):
                self.promise.fail(error)
            case .success(let task):
                guard task["status"] == .string("succeeded") else {
                    self.promise.fail(LoadError.badReply("tasks.wait answered a task that did not succeed: \(JSONWriter.string(task))"))
                    return
                }
                if sent >= self.measureFrom {
                    self.result.tasks += 1
                    self.result.submit.record(UInt64(max(0, (acknowledged - sent).nanoseconds)))
                    self.result.roundTrip.record(UInt64(max(0, (finished - sent).nanoseconds)))
                }
                self.step()
            }
        }
    }
}
