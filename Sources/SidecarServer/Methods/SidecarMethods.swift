import SidecarProtocol

/// The daemon's own methods: discovery, liveness, status and metrics.
enum SidecarMethods {
    static let discover = "rpc.discover"
    static let ping = "sidecar.ping"
    static let echo = "sidecar.echo"
    static let status = "sidecar.status"
    static let metrics = "sidecar.metrics"

    /// The longest `sidecar.echo` delay, in milliseconds.
    static let maximumEchoDelay: Int64 = 60_000

    static func register(into router: inout MethodRouter, server: ServerIntrospection) {
        router.register(discover, .immediate { context in
            try context.params.expectNone()
            return OpenRPC.document
        })
        router.register(ping, .immediate { context in
            try context.params.expectNone()
            return "pong"
        })
        router.register(echo, .waiting { context in
            let value = try context.params.required("value")
            let delay = try context.params.int("delayMs", default: 0, range: 0...maximumEchoDelay)
            if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
            return value
        })
        router.register(status, .immediate { context in
            try context.params.expectNone()
            return server.status
        })
        router.register(metrics, .waiting { context in
            try context.params.expectNone()
            return try await server.metricsSnapshot()
        })
    }
}
