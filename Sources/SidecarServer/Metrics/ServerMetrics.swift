import Atomics
import CoreMetrics
import NIOCore
import SidecarProtocol

/// The daemon's request and connection statistics.
///
/// Request figures live in one ``MetricsShard`` per event loop (no lock on the request path);
/// connection figures are atomics, since accepting happens on any loop. Connection events are
/// also reported through swift-metrics, so a process that bootstraps a metrics backend sees them.
final class ServerMetrics: Sendable {
    private let shards: [ObjectIdentifier: NIOLoopBoundBox<MetricsShard>]
    let connectionsCurrent = ManagedAtomic<Int>(0)
    let connectionsTotal = ManagedAtomic<Int>(0)
    let connectionsRefused = ManagedAtomic<Int>(0)
    /// Requests (including those of a batch) accepted and not yet answered, across all connections.
    let requestsInFlight = ManagedAtomic<Int>(0)

    private let acceptedCounter = Counter(label: "sidecar_connections_accepted_total")
    private let refusedCounter = Counter(label: "sidecar_connections_refused_total")

    init(eventLoops: [any EventLoop]) {
        var shards: [ObjectIdentifier: NIOLoopBoundBox<MetricsShard>] = [:]
        for loop in eventLoops {
            shards[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(MetricsShard(), eventLoop: loop)
        }
        self.shards = shards
    }

    /// The shard owned by `eventLoop`; call it on that loop only.
    func shard(for eventLoop: any EventLoop) -> MetricsShard {
        guard let bound = shards[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("no metrics shard for event loop \(eventLoop)")
        }
        return bound.value
    }

    func connectionOpened() {
        connectionsCurrent.wrappingIncrement(ordering: .relaxed)
        connectionsTotal.wrappingIncrement(ordering: .relaxed)
        acceptedCounter.increment()
    }

    func connectionClosed() {
        connectionsCurrent.wrappingDecrement(ordering: .relaxed)
    }

    func connectionRefused() {
        connectionsRefused.wrappingIncrement(ordering: .relaxed)
        refusedCounter.increment()
    }

    /// Merges every loop's shard and adds the connection figures: the result of `sidecar.metrics`.
    func snapshot() async throws -> JSONValue {
        var merged = MetricsSnapshot()
        for bound in shards.values {
            let snapshot = try await bound.eventLoop.submit { bound.value.snapshot() }.get()
            merged.merge(snapshot)
        }
        var sections = merged.jsonSections
        sections["connections"] = [
            "current": .int(Int64(connectionsCurrent.load(ordering: .relaxed))),
            "total": .int(Int64(connectionsTotal.load(ordering: .relaxed))),
            "refused": .int(Int64(connectionsRefused.load(ordering: .relaxed))),
        ]
        return .object(sections)
    }
}
