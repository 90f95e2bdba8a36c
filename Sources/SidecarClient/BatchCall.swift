/// One element of a ``SidecarClient/batch(_:timeout:)``: a call that expects a result, or a
/// notification that gets none.
///
/// ```swift
/// let results = try await client.batch([
///     .call("sidecar.ping"),
///     .notification("sidecar.echo", params: ["value": "fire and forget"]),
///     .call("sidecar.echo", params: ["value": 42]),
/// ])
/// // results: [.success("pong"), .success(42)]
/// ```
public struct BatchCall: Sendable, Hashable {
    /// The method to call.
    public var method: String
    /// An array or object, or `nil` to send no `params` member.
    public var params: JSONValue?
    /// `true` when the element is sent without an id, so the daemon does not answer it.
    public var isNotification: Bool

    /// Creates an element; prefer ``call(_:params:)`` and ``notification(_:params:)``.
    public init(method: String, params: JSONValue? = nil, isNotification: Bool) {
        self.method = method
        self.params = params
        self.isNotification = isNotification
    }

    /// A call whose result appears in the batch's results.
    public static func call(_ method: String, params: JSONValue? = nil) -> BatchCall {
        BatchCall(method: method, params: params, isNotification: false)
    }

    /// A notification: sent with the batch, never answered, absent from the results.
    public static func notification(_ method: String, params: JSONValue? = nil) -> BatchCall {
        BatchCall(method: method, params: params, isNotification: true)
    }
}
