import NIOCore
import NIOPosix

/// `--notify-latency`: `subscribers` connections subscribe to
/// ``NotificationSubscriberHandler/watchedPath``, one more connection writes it `writes` times
/// (each value stamped with its send time), and each subscriber records send → receipt for
/// every `state.changed`. Bounded in time: writing stops after the warm-up plus `duration`,
/// and the subscribers get `timeout` to catch up with the last write.
struct NotificationLatencyRun {
    var path: String
    var subscribers: Int
    var writes: Int
    var writeInterval: TimeAmount
    var duration: TimeAmount
    var warmup: TimeAmount
    var timeout: TimeAmount
    var threads: Int

    /// - Throws: ``LoadError`` when a connection fails or the server answers wrongly.
    func run(group: EventLoopGroup, connect: (ClientBootstrap) throws -> Channel) throws -> NotificationReport {
        let subscriberBootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NotificationSubscriberHandler())
                }
            }
        let writerBootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NotificationWriterHandler())
                }
            }
        var channels: [Channel] = []
        defer { for channel in channels { channel.close(promise: nil) } }
        for _ in 0..<subscribers {
            channels.append(try connect(subscriberBootstrap))
        }
        let subscriberChannels = channels
        let writerChannel = try connect(writerBootstrap)
        channels.append(writerChannel)

        let measureFrom = NIODeadline.now() + warmup
        let subscribed = subscriberChannels.map { channel in
            channel.eventLoop.flatSubmit {
                Self.catching(channel.eventLoop) {
                    try channel.pipeline.syncOperations.handler(type: NotificationSubscriberHandler.self)
                        .subscribe(countingFrom: measureFrom.uptimeNanoseconds)
                }
            }
        }
        try wait(EventLoopFuture.andAllSucceed(subscribed, on: group.next()), for: timeout, on: group.next())

        let plan = NotificationWriterHandler.Plan(
            measureFrom: measureFrom, stopAt: measureFrom + duration, writes: UInt64(writes), interval: writeInterval)
        let written = writerChannel.eventLoop.flatSubmit {
            Self.catching(writerChannel.eventLoop) {
                try writerChannel.pipeline.syncOperations.handler(type: NotificationWriterHandler.self).start(plan)
            }
        }
        let writer = try wait(written, for: warmup + duration + timeout, on: group.next())

        // Every subscriber ends on the last write (coalescing may skip others, never that one);
        // a subscriber that has not got it by the timeout is reported, not waited for.
        let caughtUp = subscriberChannels.map { channel in
            channel.eventLoop.flatSubmit {
                Self.catching(channel.eventLoop) {
                    try channel.pipeline.syncOperations.handler(type: NotificationSubscriberHandler.self)
                        .awaitStamp(writer.lastStamp, on: channel.eventLoop)
                }
            }
        }
        _ = try? wait(EventLoopFuture.andAllComplete(caughtUp, on: group.next()), for: timeout, on: group.next())

        let results = subscriberChannels.map { channel in
            channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: NotificationSubscriberHandler.self).result
            }
        }
        var report = NotificationReport(
            socket: "", subscribers: subscribers, threads: threads,
            warmupSeconds: Double(warmup.nanoseconds) / 1e9,
            writeIntervalMicros: Double(writeInterval.nanoseconds) / 1000)
        report.writes = writer.measuredWrites
        for result in try EventLoopFuture.whenAllSucceed(results, on: group.next()).wait() {
            report.add(result, lastStamp: writer.lastStamp)
        }
        guard report.writes > 0 else { throw LoadError.noReplies(seconds: Double(duration.nanoseconds) / 1e9) }
        return report
    }

    private static func catching<T>(
        _ eventLoop: EventLoop, _ body: () throws -> EventLoopFuture<T>
    ) -> EventLoopFuture<T> {
        do {
            return try body()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// Waits for `future`, or throws ``LoadError/timedOut(seconds:)`` after `limit`.
    private func wait<T: Sendable>(_ future: EventLoopFuture<T>, for limit: TimeAmount, on eventLoop: EventLoop) throws -> T {
        let bounded = eventLoop.makePromise(of: T.self)
        let deadline = eventLoop.scheduleTask(in: limit) {
            bounded.fail(LoadError.timedOut(seconds: Double(limit.nanoseconds) / 1e9))
        }
        future.cascade(to: bounded)
        defer { deadline.cancel() }
        return try bounded.futureResult.wait()
    }
}
