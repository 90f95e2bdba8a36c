import NIOCore

/// What one phase of an end-to-end run measured.
struct FlowPhaseResult: Sendable {
    /// Tasks sent in the phase, every one of them finished.
    var tasks: UInt64
    var started: NIODeadline
    /// When the producer stopped sending (the phase's time was up).
    var stoppedProducing: NIODeadline
    /// When the last task of the phase was reported finished.
    var finished: NIODeadline
}

/// The shared counts of an end-to-end run (``QueueFlowRun``): the producer sends batches
/// while a phase lasts and while the backlog (tasks sent and not yet finished) stays under its
/// limit; the workers (or, for sidecard's built-in pool, the producer's `tasks.wait`s) report
/// finished tasks. A phase ends when the producer has stopped and every task sent is finished.
///
/// Every handler of a run lives on the coordinator's event loop, so the counts need no lock.
final class FlowCoordinator {
    private struct Phase {
        var started: NIODeadline
        var firstTask: UInt64
        var stoppedProducing: NIODeadline?
        var promise: EventLoopPromise<FlowPhaseResult>
    }

    let eventLoop: EventLoop
    /// Tasks per producer request.
    let batch: Int
    /// The most tasks sent and not yet finished.
    let backlogLimit: Int
    private(set) var sent: UInt64 = 0
    private(set) var finished: UInt64 = 0
    private var phase: Phase?
    private var failure: Error?
    /// The producer, told when it may send more.
    weak var producer: FlowProducerHandler?

    init(eventLoop: EventLoop, batch: Int, backlogLimit: Int) {
        self.eventLoop = eventLoop
        self.batch = batch
        self.backlogLimit = backlogLimit
    }

    /// Starts a phase: the producer sends for `duration`, then the phase waits for the rest.
    /// - Returns: the phase's figures, once every task sent in it has finished.
    func startPhase(duration: TimeAmount) -> EventLoopFuture<FlowPhaseResult> {
        if let failure { return eventLoop.makeFailedFuture(failure) }
        let promise = eventLoop.makePromise(of: FlowPhaseResult.self)
        let now = NIODeadline.now()
        phase = Phase(started: now, firstTask: sent, stoppedProducing: nil, promise: promise)
        eventLoop.assumeIsolated().scheduleTask(deadline: now + duration) { self.stopProducing() }
        producer?.pump()
        return promise.futureResult
    }

    /// Whether the producer may send one more batch now.
    var maySend: Bool {
        guard let phase, phase.stoppedProducing == nil, failure == nil else { return false }
        return sent + UInt64(batch) <= finished + UInt64(backlogLimit)
    }

    /// The producer sent a batch.
    func didSend() {
        sent += UInt64(batch)
    }

    /// `count` more tasks finished (consumed, completed, or run by the pool).
    func didFinish(_ count: Int) {
        finished += UInt64(count)
        producer?.pump()
        endPhaseIfDone()
    }

    /// Ends the run with `error`: the phase's future fails.
    func fail(_ error: Error) {
        guard failure == nil else { return }
        failure = error
        if let phase {
            self.phase = nil
            phase.promise.fail(error)
        }
    }

    private func stopProducing() {
        guard phase != nil, phase?.stoppedProducing == nil else { return }
        phase?.stoppedProducing = NIODeadline.now()
        endPhaseIfDone()
    }

    private func endPhaseIfDone() {
        guard let phase, let stoppedProducing = phase.stoppedProducing, finished >= sent else { return }
        self.phase = nil
        phase.promise.succeed(
            FlowPhaseResult(
                tasks: sent - phase.firstTask, started: phase.started, stoppedProducing: stoppedProducing,
                finished: NIODeadline.now()))
    }
}
