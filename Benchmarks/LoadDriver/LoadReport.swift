import Histogram
import SidecarProtocol

/// The figures of one run, merged over its connections.
struct LoadReport {
    var target: LoadTarget
    var operation: LoadOperation
    /// The method or command named in reports (with its batch).
    var name: String
    /// Tasks per request (a batch), else 1.
    var itemsPerRequest: Int
    var socket: String
    var connections: Int
    var depth: Int
    var threads: Int
    var durationSeconds: Double
    var warmupSeconds: Double
    var replies: UInt64 = 0
    var latencyNanoseconds = LatencyHistogram.make()
    /// For a task submission to sidecard: what the daemon counted meanwhile.
    var daemonTasks: DaemonTaskFigures?

    mutating func add(_ result: ConnectionResult) {
        replies += result.replies
        latencyNanoseconds.add(result.latencyNanoseconds)
    }

    var requestsPerSecond: Double { Double(replies) / durationSeconds }

    /// Tasks per second for a submission (requests × batch); requests per second otherwise.
    var itemsPerSecond: Double { requestsPerSecond * Double(itemsPerRequest) }

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
        var text = """
            target \(target.rawValue) (\(name)) at \(socket): \(connections) connection(s) × depth \(depth), \
            \(threads) driver thread(s), \(rounded(durationSeconds)) s after \(rounded(warmupSeconds)) s warm-up
              requests      \(replies)
              requests/s    \(rounded(requestsPerSecond))
            """
        if itemsPerRequest > 1 || operation.submitsTasks {
            text += "\n  tasks/s       \(rounded(itemsPerSecond))   (\(itemsPerRequest) per request)"
        }
        text += "\n  latency (µs)  \(latency)"
        if let daemonTasks { text += "\n" + daemonTasks.text }
        return text
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
            "itemsPerRequest": .int(Int64(itemsPerRequest)),
            "itemsPerSecond": .double(rounded(itemsPerSecond)),
        ]
        for (name, value) in percentiles {
            object["\(name)Micros"] = .double(rounded(value))
        }
        if let daemonTasks {
            for (key, value) in daemonTasks.jsonMembers { object[key] = value }
        }
        return JSONWriter.string(.object(object))
    }
}

/// One decimal: enough for microseconds and requests per second.
func rounded(_ value: Double) -> Double {
    (value * 10).rounded() / 10
}
