import SidecarProtocol

/// The scheduler's counters and latency samples, for `tasks.metrics`.
struct TaskMetrics: Sendable {
    var submitted = 0
    var succeeded = 0
    var failed = 0
    var cancelled = 0
    /// Attempts that failed and were scheduled to run again.
    var retries = 0
    /// Run durations (start to finish) and queue latencies (ready to start), in milliseconds:
    /// the newest ``sampleCapacity`` of each.
    private var durations = SampleRing()
    private var queueLatencies = SampleRing()

    mutating func recordRun(durationMilliseconds: Int64) { durations.add(durationMilliseconds) }
    mutating func recordStart(queueLatencyMilliseconds: Int64) { queueLatencies.add(queueLatencyMilliseconds) }

    /// `{submitted, succeeded, failed, cancelled, retries, running, queued: {low, normal, high, critical},
    /// successRate, durationMs: {avg, p50, p99}, queueLatencyMs: {p50, p99}}`.
    func jsonValue(running: Int, queued: [TaskPriority: Int], scheduled: Int) -> JSONValue {
        let finished = succeeded + failed
        var queuedObject: JSONObject = [:]
        for priority in TaskPriority.allCases { queuedObject[priority.rawValue] = .int(Int64(queued[priority] ?? 0)) }
        return [
            "submitted": .int(Int64(submitted)), "succeeded": .int(Int64(succeeded)), "failed": .int(Int64(failed)),
            "cancelled": .int(Int64(cancelled)), "retries": .int(Int64(retries)), "running": .int(Int64(running)),
            "queued": .object(queuedObject), "scheduled": .int(Int64(scheduled)),
            "successRate": finished == 0 ? .null : .double(Double(succeeded) / Double(finished)),
            "durationMs": ["avg": durations.mean, "p50": durations.percentile(0.5), "p99": durations.percentile(0.99)],
            "queueLatencyMs": ["p50": queueLatencies.percentile(0.5), "p99": queueLatencies.percentile(0.99)],
        ]
    }
}

/// The newest samples, overwriting the oldest; percentiles are computed when asked.
private struct SampleRing: Sendable {
    static let capacity = 10_000
    private var samples: [Int64] = []
    private var next = 0

    mutating func add(_ sample: Int64) {
        if samples.count < Self.capacity {
            samples.append(sample)
        } else {
            samples[next] = sample
            next = (next + 1) % Self.capacity
        }
    }

    var mean: JSONValue {
        samples.isEmpty ? .null : .double(Double(samples.reduce(0, +)) / Double(samples.count))
    }

    func percentile(_ fraction: Double) -> JSONValue {
        guard !samples.isEmpty else { return .null }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)
        return .int(sorted[max(0, index)])
    }
}
