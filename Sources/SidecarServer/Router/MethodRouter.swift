import SidecarProtocol

/// The table from method name to handler. Services add their methods to it at start-up
/// (one file per service, e.g. `SidecarMethods.swift`); it is read-only once serving begins.
public struct MethodRouter: Sendable {
    /// A bound method: its handler, and a dense index the metrics use instead of hashing the name again.
    struct Route: Sendable {
        var index: Int
        var handler: MethodHandler
    }

    private var routes: [String: Route] = [:]

    public init() {}

    /// Binds `method` to `handler`.
    /// - Precondition: the name is not bound yet; binding twice is a programming error.
    public mutating func register(_ method: String, _ handler: MethodHandler) {
        precondition(routes[method] == nil, "method \(method) registered twice")
        routes[method] = Route(index: routes.count, handler: handler)
    }

    /// The handler for `method`, or `nil`.
    public func handler(for method: String) -> MethodHandler? {
        routes[method]?.handler
    }

    func route(for method: String) -> Route? {
        routes[method]
    }

    /// Every registered method name, sorted.
    public var methodNames: [String] {
        routes.keys.sorted()
    }
}
