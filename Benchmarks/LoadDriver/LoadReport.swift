import Histogram
import SidecarProtocol

/// The figures of one run, merged over its connections.
struct LoadReport {
    var target: LoadTarget
    var operation: LoadOperation
    var socket: String
    var connections: Int
    var depth: Int
    var threads: Int
    var durationSeconds: Double
    var warmupSeconds: Double
    var replies: UInt64 = 0
    var latencyNanoseconds = LatencyHistogram.make()

    mutating func add(_ result: ConnectionResult) {
        replies += result.replies
        latencyNanoseconds.add(result.latencyNanoseconds)
    }

    var requestsPerSecond: Double { Double(replies) / durationSeconds }

    /// The latency at `percentile` (0...100), in microseconds.
    func latencyMicroseconds(atPercentile percentile: Double) -> Double {
        Double(latencyNanoseconds.valueAtPercentile(percentile)) / 1000
    }

    private var percentiles: [(name: String, value: Double)] {
        [
            ("p50", latencyMicroseconds(atPercentile: 50)),
            ("p90", latencyMicroseconds(atPercentile: 90)),
            ("p99", latencyMicroseconds(atPercentile: 99)),
            ("p999", latencyMicroseconds(atPercentile: 99.9)),
            ("max", Double(latencyNanoseconds.max) / 1000),
            ("mean", latencyNanoseconds.mean / 1000),
        ]
    }

    /// A few lines for a person.
    var text: String {
        let latency = percentiles.map { "\($0.name) \(rounded($0.value))" }.joined(separator: "  ")
        return """
            target \(target.rawValue) (\(operation.name(for: target))) at \(socket): \(connections) connection(s) × depth \(depth), \
            \(threads) driver thread(s), \(rounded(durationSeconds)) s after \(rounded(warmupSeconds)) s warm-up
              requests      \(replies)
              requests/s    \(rounded(requestsPerSecond))
              latency (µs)  \(latency)
            """
    }

    /// One flat JSON object (every key unique, so that a shell script can pick fields out).
    var json: String {
        var object: JSONObject = [
            "target": .string(target.rawValue),
            "operation": .string(operation.rawValue),
            "socket": .string(socket),
            "connections": .int(Int64(connections)),
            "depth": .int(Int64(depth)),
            "threads": .int(Int64(threads)),
            "durationSeconds": .double(durationSeconds),
            "warmupSeconds": .double(warmupSeconds),
            "requests": .int(Int64(clamping: replies)),
            "requestsPerSecond": .double(rounded(requestsPerSecond)),
        ]
        for (name, value) in percentiles {
            object["\(name)Micros"] = .double(rounded(value))
        }
        return JSONWriter.string(.object(object))
    }
}

/// One decimal: enough for microseconds and requests per second.
func rounded(_ value: Double) -> Double {
    (value * 10).rounded() / 10
}
