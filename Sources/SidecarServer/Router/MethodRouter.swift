import SidecarProtocol

/// The table from method name to handler. Services add their methods to it at start-up
/// (one file per service, e.g. `SidecarMethods.swift`); it is read-only once serving begins.
public struct MethodRouter: Sendable {
    private var handlers: [String: MethodHandler] = [:]

    public init() {}

    /// Binds `method` to `handler`.
    /// - Precondition: the name is not bound yet; binding twice is a programming error.
    public mutating func register(_ method: String, _ handler: MethodHandler) {
        precondition(handlers[method] == nil, "method \(method) registered twice")
        handlers[method] = handler
    }

    /// The handler for `method`, or `nil`.
    public func handler(for method: String) -> MethodHandler? {
        handlers[method]
    }

    /// Every registered method name, sorted.
    public var methodNames: [String] {
        handlers.keys.sorted()
    }
}
