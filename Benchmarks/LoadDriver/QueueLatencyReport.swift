import Histogram
import SidecarProtocol

/// The figures of one queue-latency run (``QueueLatencyRun``).
struct QueueLatencyReport {
    var tasks: UInt64
    var warmupSeconds: Double
    var submitNanoseconds: Histogram<UInt64>
    var roundTripNanoseconds: Histogram<UInt64>
    /// `tasks.metrics` after the run.
    var daemon: TaskMetricsSnapshot
    var socket = ""

    private static func micros(_ histogram: Histogram<UInt64>, _ percentile: Double) -> Double {
        rounded(Double(histogram.valueAtPercentile(percentile)) / 1000)
    }

    private static func milliseconds(_ value: Int64?) -> String {
        value.map(String.init) ?? "n/a"
    }

    /// A few lines for a person.
    var text: String {
        """
        queue latency at \(socket): one sidecar.noop at a time (tasks.submit, then tasks.wait), 1 connection, \
        after \(rounded(warmupSeconds)) s warm-up
          tasks                   \(tasks)
          submit acked (µs)       p50 \(Self.micros(submitNanoseconds, 50))  p99 \(Self.micros(submitNanoseconds, 99))  \
        max \(rounded(Double(submitNanoseconds.max) / 1000))
          submit → succeeded (µs) p50 \(Self.micros(roundTripNanoseconds, 50))  p99 \(Self.micros(roundTripNanoseconds, 99))  \
        max \(rounded(Double(roundTripNanoseconds.max) / 1000))   (tasks.submit sent → tasks.wait answered)
          daemon queueLatencyMs   p50 \(Self.milliseconds(daemon.queueLatencyP50))  p99 \(Self.milliseconds(daemon.queueLatencyP99))   \
        (start − max(runAt, createdAt), whole ms, warm-up included)
        """
    }

    /// One flat JSON object (every key unique, so that a shell script can pick fields out).
    var json: String {
        var object: JSONObject = [
            "mode": "queue-latency",
            "socket": .string(socket),
            "tasks": .int(Int64(clamping: tasks)),
            "warmupSeconds": .double(warmupSeconds),
            "submitP50Micros": .double(Self.micros(submitNanoseconds, 50)),
            "submitP99Micros": .double(Self.micros(submitNanoseconds, 99)),
            "roundTripP50Micros": .double(Self.micros(roundTripNanoseconds, 50)),
            "roundTripP99Micros": .double(Self.micros(roundTripNanoseconds, 99)),
        ]
        object["queueLatencyP50Ms"] = daemon.queueLatencyP50.map(JSONValue.int) ?? .null
        object["queueLatencyP99Ms"] = daemon.queueLatencyP99.map(JSONValue.int) ?? .null
        return JSONWriter.string(.object(object))
    }
}
