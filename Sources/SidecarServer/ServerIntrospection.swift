#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import SidecarProtocol
import SidecarState

/// What the server knows about itself, for `sidecar.status` and `sidecar.metrics`.
final class ServerIntrospection: Sendable {
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let services: SidecarServices?
    private let startedAt = NIODeadline.now()
    private let listener = NIOLockedValueBox<(path: String, activated: Bool)?>(nil)

    init(configuration: ServerConfiguration, metrics: ServerMetrics, services: SidecarServices?) {
        self.configuration = configuration
        self.metrics = metrics
        self.services = services
    }

    /// The result of `sidecar.metrics`: the transport's figures and each service's section.
    func metricsSnapshot() async throws -> JSONValue {
        guard case .object(var sections) = try await metrics.snapshot() else { return .null }
        if let services {
            sections.merge(await services.metricsSections()) { _, service in service }
        }
        return .object(sections)
    }

    /// Records where the server listens, once it does.
    func listening(on path: String, activated: Bool) {
        listener.withLockedValue { $0 = (path, activated) }
    }

    /// The result of `sidecar.status`.
    var status: JSONValue {
        let listener = listener.withLockedValue { $0 }
        let uptime = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        return [
            "version": .string(configuration.version),
            "pid": .int(Int64(getpid())),
            "uptimeSeconds": .double((uptime * 1000).rounded() / 1000),
            "socket": .string(listener?.path ?? configuration.socketPath),
            "socketActivated": .bool(listener?.activated ?? false),
            "connections": .int(Int64(metrics.connectionsCurrent.load(ordering: .relaxed))),
        ]
    }
}
