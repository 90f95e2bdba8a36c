import Histogram
import SidecarProtocol

/// Request statistics kept by one event loop for the connections it serves.
///
/// Each loop owns its shard, so recording a request takes no lock; ``ServerMetrics``
/// merges the shards when `sidecar.metrics` asks.
final class MetricsShard {
    /// A method's count, errors and latency distribution (microseconds).
    struct MethodStatistics {
        var name: String
        var count = 0
        var errors = 0
        var latencyMicros = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .two)

        mutating func merge(_ other: MethodStatistics) {
            count += other.count
            errors += other.errors
            latencyMicros.add(other.latencyMicros)
        }
    }

    /// The name recorded for calls to methods that do not exist, so that a client cannot grow
    /// the table without bound by inventing names.
    static let unknownMethod = "(unknown)"

    /// Statistics by route index (see ``MethodRouter``), and for calls to methods that do not exist.
    private var routes: [MethodStatistics?] = []
    private var unknown = MethodStatistics(name: MetricsShard.unknownMethod)
    var errorsByCode: [Int: Int] = [:]
    var bytesIn = 0
    var bytesOut = 0
    var notificationsSent = 0
    var notificationsCoalesced = 0

    /// Records one answered (or notified) request.
    /// - Parameters:
    ///   - method: the method name as called.
    ///   - routeIndex: the method's index in the router, or `nil` when no such method exists.
    ///   - latencyNanos: from frame decoded to response encoded.
    ///   - errorCode: the error answered, or `nil` on success.
    func recordRequest(method: String, routeIndex: Int?, latencyNanos: Int64, errorCode: RPCErrorCode?) {
        let micros = UInt64(max(0, latencyNanos) / 1000)
        if let routeIndex {
            if routeIndex >= routes.count { routes.append(contentsOf: repeatElement(nil, count: routeIndex - routes.count + 1)) }
            if routes[routeIndex] == nil { routes[routeIndex] = MethodStatistics(name: method) }
            Self.record(micros: micros, failed: errorCode != nil, into: &routes[routeIndex]!)  // set just above
        } else {
            Self.record(micros: micros, failed: errorCode != nil, into: &unknown)
        }
        if let errorCode {
            errorsByCode[errorCode.rawValue, default: 0] += 1
        }
    }

    private static func record(micros: UInt64, failed: Bool, into statistics: inout MethodStatistics) {
        statistics.count += 1
        if failed { statistics.errors += 1 }
        _ = statistics.latencyMicros.record(micros)
    }

    /// Records an error answered before any method was known (parse errors, invalid requests, frame limits).
    func recordProtocolError(_ code: RPCErrorCode) {
        errorsByCode[code.rawValue, default: 0] += 1
    }

    func snapshot() -> MetricsSnapshot {
        var methods: [String: MethodStatistics] = [:]
        for statistics in routes.compactMap({ $0 }) + [unknown] where statistics.count > 0 {
            methods[statistics.name] = statistics
        }
        return MetricsSnapshot(
            methods: methods,
            errorsByCode: errorsByCode,
            bytesIn: bytesIn,
            bytesOut: bytesOut,
            notificationsSent: notificationsSent,
            notificationsCoalesced: notificationsCoalesced
        )
    }
}

/// A copy of one or more shards' figures, merged.
struct MetricsSnapshot: Sendable {
    var methods: [String: MetricsShard.MethodStatistics] = [:]
    var errorsByCode: [Int: Int] = [:]
    var bytesIn = 0
    var bytesOut = 0
    var notificationsSent = 0
    var notificationsCoalesced = 0

    mutating func merge(_ other: MetricsSnapshot) {
        for (name, statistics) in other.methods {
            methods[name, default: MetricsShard.MethodStatistics(name: name)].merge(statistics)
        }
        errorsByCode.merge(other.errorsByCode, uniquingKeysWith: +)
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
        notificationsSent += other.notificationsSent
        notificationsCoalesced += other.notificationsCoalesced
    }

    /// The `requests`, `errors`, `bytes` and `notifications` sections of `sidecar.metrics`.
    var jsonSections: JSONObject {
        var byMethod = JSONObject()
        var total = 0
        for name in methods.keys.sorted() {
            let statistics = methods[name]!  // key from the dictionary itself
            total += statistics.count
            let latency = statistics.latencyMicros
            byMethod[name] = [
                "count": .int(Int64(statistics.count)),
                "errors": .int(Int64(statistics.errors)),
                "latencyMicros": [
                    "mean": .double((latency.mean * 10).rounded() / 10),
                    "p50": .int(Int64(latency.valueAtPercentile(50))),
                    "p90": .int(Int64(latency.valueAtPercentile(90))),
                    "p99": .int(Int64(latency.valueAtPercentile(99))),
                    "max": .int(Int64(latency.max)),
                ],
            ]
        }
        var byCode = JSONObject()
        for code in errorsByCode.keys.sorted(by: >) {
            byCode[String(code)] = .int(Int64(errorsByCode[code]!))  // key from the dictionary itself
        }
        return [
            "requests": ["total": .int(Int64(total)), "byMethod": .object(byMethod)],
            "errors": ["byCode": .object(byCode)],
            "bytes": ["in": .int(Int64(bytesIn)), "out": .int(Int64(bytesOut))],
            "notifications": ["sent": .int(Int64(notificationsSent)), "coalesced": .int(Int64(notificationsCoalesced))],
        ]
    }
}
