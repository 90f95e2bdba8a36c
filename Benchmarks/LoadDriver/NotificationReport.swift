import Histogram
import SidecarProtocol

/// The figures of one notification-latency run, merged over its subscribers.
struct NotificationReport {
    var socket: String
    var subscribers: Int
    var threads: Int
    var warmupSeconds: Double
    var writeIntervalMicros: Double
    /// Counted writes (after the warm-up), each acknowledged.
    var writes: UInt64 = 0
    /// Counted notifications received, over all subscribers.
    var deliveries: UInt64 = 0
    /// Subscribers that received the last write before the drain timed out.
    var subscribersCaughtUp = 0
    var latencyNanoseconds = LatencyHistogram.make()

    mutating func add(_ result: SubscriberResult, lastStamp: UInt64) {
        deliveries += result.deliveries
        latencyNanoseconds.add(result.latencyNanoseconds)
        if result.newestStamp >= lastStamp { subscribersCaughtUp += 1 }
    }

    /// One notification per subscriber per write, when none was coalesced away.
    var expectedDeliveries: UInt64 { writes * UInt64(subscribers) }

    private func micros(atPercentile percentile: Double) -> Double {
        Double(latencyNanoseconds.valueAtPercentile(percentile)) / 1000
    }

    private var percentiles: [(name: String, value: Double)] {
        [
            ("p50", micros(atPercentile: 50)),
            ("p90", micros(atPercentile: 90)),
            ("p99", micros(atPercentile: 99)),
            ("p999", micros(atPercentile: 99.9)),
            ("max", Double(latencyNanoseconds.max) / 1000),
            ("mean", latencyNanoseconds.mean / 1000),
        ]
    }

    /// A few lines for a person.
    var text: String {
        let latency = percentiles.map { "\($0.name) \(rounded($0.value))" }.joined(separator: "  ")
        return """
            notification latency at \(socket): \(subscribers) subscriber(s) of \(NotificationSubscriberHandler.watchedPath), \
            1 writer (state.set, one at a time\(writeIntervalMicros > 0 ? ", ≥ \(rounded(writeIntervalMicros)) µs apart" : "")), \
            \(threads) driver thread(s), after \(rounded(warmupSeconds)) s warm-up
              writes        \(writes)
              deliveries    \(deliveries) of \(expectedDeliveries)\(deliveries < expectedDeliveries ? " (the rest coalesced or not received)" : "")
              caught up     \(subscribersCaughtUp) of \(subscribers) subscriber(s) received the last write
              latency (µs)  \(latency)   (write sent → state.changed read)
            """
    }

    /// One flat JSON object (every key unique, so that a shell script can pick fields out).
    var json: String {
        var object: JSONObject = [
            "mode": "notify-latency",
            "socket": .string(socket),
            "subscribers": .int(Int64(subscribers)),
            "threads": .int(Int64(threads)),
            "warmupSeconds": .double(warmupSeconds),
            "writeIntervalMicros": .double(writeIntervalMicros),
            "writes": .int(Int64(clamping: writes)),
            "deliveries": .int(Int64(clamping: deliveries)),
            "expectedDeliveries": .int(Int64(clamping: expectedDeliveries)),
            "subscribersCaughtUp": .int(Int64(subscribersCaughtUp)),
        ]
        for (name, value) in percentiles {
            object["\(name)Micros"] = .double(rounded(value))
        }
        return JSONWriter.string(.object(object))
    }
}
