import NIOCore
import SidecarProtocol

/// One request of an ``OutboundMessage``: a call (with the id chosen by the client and the
/// promise its reply completes) or a notification (neither).
struct OutboundRequest: Sendable {
    var id: Int64?
    var method: String
    var params: JSONValue?
    var reply: EventLoopPromise<JSONValue>?

    var jsonValue: JSONValue {
        RPCRequest(id: id.map(RPCID.int), method: method, params: params).jsonValue
    }
}

/// What the client writes into the pipeline: one frame holding one request or a batch.
///
/// Once ``RPCClientHandler`` receives it, the handler owns the reply promises: it completes
/// each exactly once (reply, timeout, cancellation or connection loss).
struct OutboundMessage: Sendable {
    var requests: [OutboundRequest]
    /// Sent as a JSON array even when it holds one request.
    var isBatch: Bool
    /// When unanswered calls fail with ``SidecarClientError/timedOut``.
    var deadline: NIODeadline
}

/// Asks the handler to give up on calls whose callers were cancelled.
struct CancelRequests: Sendable {
    var ids: [Int64]
}
