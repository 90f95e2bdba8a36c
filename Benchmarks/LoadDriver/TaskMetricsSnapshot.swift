import SidecarProtocol

/// The figures of one `tasks.metrics` reply that the task runs use. Counters grow over the
/// daemon's life, so a run reads them before and after and takes the difference.
struct TaskMetricsSnapshot: Sendable {
    var submitted: Int64
    var succeeded: Int64
    var failed: Int64
    var running: Int64
    /// Queued tasks of every priority.
    var queued: Int64
    var scheduled: Int64
    /// Start − max(runAt, createdAt) of the newest starts, in whole milliseconds (`nil` before any).
    var queueLatencyP50: Int64?
    var queueLatencyP99: Int64?
    /// Start → finish of the newest runs, in whole milliseconds.
    var durationP50: Int64?
    var durationP99: Int64?

    /// - Throws: ``LoadError/badReply(_:)`` when a counter is missing.
    init(json: JSONValue) throws(LoadError) {
        func count(_ value: JSONValue?, _ name: String) throws(LoadError) -> Int64 {
            guard let number = value?.intValue else {
                throw LoadError.badReply("tasks.metrics without an integer \"\(name)\": \(JSONWriter.string(json))")
            }
            return number
        }
        submitted = try count(json["submitted"], "submitted")
        succeeded = try count(json["succeeded"], "succeeded")
        failed = try count(json["failed"], "failed")
        running = try count(json["running"], "running")
        scheduled = try count(json["scheduled"], "scheduled")
        guard let queuedByPriority = json["queued"]?.objectValue else {
            throw LoadError.badReply("tasks.metrics without a \"queued\" object: \(JSONWriter.string(json))")
        }
        var queued: Int64 = 0
        for (priority, value) in queuedByPriority { queued += try count(value, "queued.\(priority)") }
        self.queued = queued
        queueLatencyP50 = json["queueLatencyMs"]?["p50"]?.intValue
        queueLatencyP99 = json["queueLatencyMs"]?["p99"]?.intValue
        durationP50 = json["durationMs"]?["p50"]?.intValue
        durationP99 = json["durationMs"]?["p99"]?.intValue
    }

    /// No task waiting or running (tasks scheduled for later do not count: none of the runs makes any).
    var isIdle: Bool { queued == 0 && running == 0 }
}
