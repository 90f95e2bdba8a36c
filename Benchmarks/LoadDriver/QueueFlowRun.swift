import NIOCore
import NIOPosix

/// `--end-to-end`: tasks through a queue, from submission to done, in tasks per second.
///
/// One producer connection sends batches (`tasks.submitMany` / `LPUSH`) while the phase lasts,
/// never more than `backlog` tasks ahead of the finished ones; the phase then waits until every
/// task it sent is finished, and its rate is tasks / (last finished − first sent).
/// - sidecard, `workers` 0: `sidecar.noop` tasks, run by the daemon's built-in pool; finished
///   as the producer's `tasks.wait` reports each batch's last task succeeded, and checked with
///   `tasks.metrics` at the end (the end is the time the daemon's count shows them all).
/// - sidecard, `workers` K: `bench.work` tasks, claimed by K worker connections
///   (``FlowWorkerHandler``) and finished when their `tasks.complete` is acknowledged.
/// - Redis, `workers` K: `LPUSH` by the producer, `BRPOP` by K consumer connections
///   (``FlowRedisConsumerHandler``), `claimMaximum` pops in flight on each: a plain list, not durable.
///
/// A warm-up phase of the same kind runs first and is not counted. Every connection of the run
/// is on one event loop (one driver thread), which owns the ``FlowCoordinator``.
struct QueueFlowRun {
    /// The kind the external workers claim.
    static let workerKind = "bench.work"
    /// The list of the Redis reference (emptied before and after a run).
    static let redisKey = "bench:flow"

    var target: LoadTarget
    var workers: Int
    var batch: Int
    var depth: Int
    var claimMaximum: Int
    var backlog: Int
    var duration: TimeAmount
    var warmup: TimeAmount
    var timeout: TimeAmount

    private var usesPool: Bool { target == .sidecar && workers == 0 }
    private var kind: String { usesPool ? LoadOperation.taskKind : Self.workerKind }
    /// What Redis holds per task: the JSON object sidecard is sent.
    private var redisValue: String { #"{"kind":"\#(Self.workerKind)","payload":"\#(LoadOperation.value)"}"# }

    /// - Throws: ``LoadError`` when a connection fails, the server answers wrongly, or a phase
    ///   does not finish within its time plus `timeout`.
    func run(group: EventLoopGroup, control: ControlConnection, connect: (ClientBootstrap) throws -> Channel) throws -> FlowReport {
        let loop = group.next()
        let batch = self.batch
        let backlog = self.backlog
        let coordinator = try loop.submit {
            NIOLoopBound(FlowCoordinator(eventLoop: loop, batch: batch, backlogLimit: backlog), eventLoop: loop)
        }.wait()

        switch target {
        case .sidecar: _ = try control.waitUntilTasksIdle(timeout: timeout)
        case .redis: _ = try control.command(["DEL", Self.redisKey]).wait()
        }

        var channels: [Channel] = []
        defer {
            for channel in channels { channel.close(promise: nil) }
            if target == .redis { _ = try? control.command(["DEL", Self.redisKey]).wait() }
        }
        let producerMode: FlowProducerHandler.Mode =
            target == .sidecar ? .sidecar(kind: kind, waitForRun: usesPool) : .redis(key: Self.redisKey)
        let payload = target == .sidecar ? LoadOperation.value : redisValue
        let depth = self.depth
        let producerBootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = FlowProducerHandler(mode: producerMode, coordinator: coordinator.value, depth: depth, payload: payload)
                    coordinator.value.producer = handler
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        channels.append(try connect(producerBootstrap))

        let target = self.target
        let kind = self.kind
        let claimMaximum = self.claimMaximum
        let redisValue = self.redisValue
        let workerBootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    switch target {
                    case .sidecar:
                        try channel.pipeline.syncOperations.addHandler(
                            FlowWorkerHandler(coordinator: coordinator.value, kind: kind, claimMaximum: claimMaximum))
                    case .redis:
                        try channel.pipeline.syncOperations.addHandler(
                            FlowRedisConsumerHandler(coordinator: coordinator.value, key: Self.redisKey, value: redisValue, depth: claimMaximum))
                    }
                }
            }
        var workerChannels: [Channel] = []
        for _ in 0..<(usesPool ? 0 : workers) {
            let channel = try connect(workerBootstrap)
            channels.append(channel)
            workerChannels.append(channel)
        }
        let startedWorkers = workerChannels
        try loop.submit {
            for channel in startedWorkers {
                switch target {
                case .sidecar: try channel.pipeline.syncOperations.handler(type: FlowWorkerHandler.self).start()
                case .redis: try channel.pipeline.syncOperations.handler(type: FlowRedisConsumerHandler.self).start()
                }
            }
        }.wait()

        var warmupTasks: UInt64 = 0
        if warmup > .zero {
            warmupTasks = try runPhase(coordinator, for: warmup, on: loop).tasks
        }
        let before = target == .sidecar ? try control.taskMetrics().wait() : nil
        let phase = try runPhase(coordinator, for: duration, on: loop)
        var finished = phase.finished
        var daemonSucceeded: Int64?
        if let before {
            // The pool's batches were counted by their last task; the daemon's count is the proof,
            // and the phase ends when it shows them all.
            let deadline = NIODeadline.now() + timeout
            var polled = false
            while true {
                let after = try control.taskMetrics().wait()
                let readAt = NIODeadline.now()
                guard after.failed == before.failed else {
                    throw LoadError.badReply("\(after.failed - before.failed) task(s) failed during the run (tasks.metrics)")
                }
                let succeeded = after.succeeded - before.succeeded
                if succeeded >= Int64(phase.tasks) {
                    guard succeeded == Int64(phase.tasks) else {
                        throw LoadError.badReply("tasks.metrics counts \(succeeded) tasks succeeded, the run submitted \(phase.tasks)")
                    }
                    if polled { finished = readAt }
                    daemonSucceeded = succeeded
                    break
                }
                polled = true
                guard readAt < deadline else { throw LoadError.timedOut(seconds: Double(timeout.nanoseconds) / 1e9) }
                try loop.scheduleTask(in: .milliseconds(5)) {}.futureResult.wait()
            }
        }
        return FlowReport(
            target: target, workers: usesPool ? 0 : workers, batch: batch, depth: depth, claimMaximum: claimMaximum,
            backlog: backlog, tasks: phase.tasks, warmupTasks: warmupTasks,
            seconds: Double((finished - phase.started).nanoseconds) / 1e9,
            producingSeconds: Double((phase.stoppedProducing - phase.started).nanoseconds) / 1e9,
            drainSeconds: Double((finished - phase.stoppedProducing).nanoseconds) / 1e9,
            daemonSucceeded: daemonSucceeded)
    }

    private func runPhase(
        _ coordinator: NIOLoopBound<FlowCoordinator>, for length: TimeAmount, on loop: EventLoop
    ) throws -> FlowPhaseResult {
        let phase = loop.flatSubmit { coordinator.value.startPhase(duration: length) }
        let bounded = loop.makePromise(of: FlowPhaseResult.self)
        let limit = length + timeout
        let deadline = loop.scheduleTask(in: limit) {
            bounded.fail(LoadError.timedOut(seconds: Double(limit.nanoseconds) / 1e9))
        }
        phase.cascade(to: bounded)
        defer { deadline.cancel() }
        return try bounded.futureResult.wait()
    }
}
