import ArgumentParser
import NIOCore
import SidecarProtocol

/// The server the driver talks to. Both targets get the same client code; only the request
/// bytes and the reply check differ (see ``Workload``).
enum LoadTarget: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// `sidecard`: framed JSON-RPC requests, answered by framed results.
    case sidecar
    /// `redis-server`: RESP commands.
    case redis

    /// The id every request of a load run carries. Replies on one connection come back in the
    /// order of the requests (they are all the same method), so one id serves them all, just as
    /// every Redis command of a run is the same bytes.
    static let sidecarRequestID: Int64 = 1
}

/// One target and one operation: the request bytes, encoded once, and how replies are checked.
struct Workload: Sendable {
    var target: LoadTarget
    var operation: LoadOperation
    /// Tasks per request of `tasks-submit-many` (values per `LPUSH`); 1 for every other operation.
    var batch = 1

    /// One request, encoded once; the driver only ever copies these bytes.
    var request: ByteBuffer {
        var buffer = ByteBuffer()
        switch target {
        case .sidecar:
            let request = RPCRequest(
                id: .int(LoadTarget.sidecarRequestID), method: operation.name(for: target), params: sidecarParams)
            Frame.write(request.jsonValue, into: &buffer)
        case .redis:
            // The array form is what Redis client libraries send.
            let arguments: [String]
            switch operation {
            case .ping: arguments = ["PING"]
            case .get, .cacheGet, .cacheGetL2: arguments = ["GET", LoadOperation.redisKey]
            case .set, .cacheSet: arguments = ["SET", LoadOperation.redisKey, LoadOperation.value]
            case .tasksSubmit: arguments = ["LPUSH", LoadOperation.redisQueueKey, LoadOperation.redisTaskValue]
            case .tasksSubmitMany:
                arguments = ["LPUSH", LoadOperation.redisQueueKey]
                    + Array(repeating: LoadOperation.redisTaskValue, count: batch)
            }
            buffer.writeString("*\(arguments.count)\r\n")
            for argument in arguments {
                buffer.writeString("$\(argument.utf8.count)\r\n\(argument)\r\n")
            }
        }
        return buffer
    }

    private var sidecarParams: JSONValue? {
        switch operation {
        case .ping: return nil
        case .get: return ["path": .string(LoadOperation.statePath)]
        case .set: return ["path": .string(LoadOperation.statePath), "value": .string(LoadOperation.value)]
        case .cacheGet, .cacheGetL2: return ["key": .string(LoadOperation.redisKey)]
        // ttl 0: no expiry, as SET without EX/PX; it also keeps every cache.get reply the same
        // bytes (`"ttl":null`) for the scanner's fast path.
        case .cacheSet: return ["key": .string(LoadOperation.redisKey), "value": .string(LoadOperation.value), "ttl": 0]
        case .tasksSubmit: return Self.task
        case .tasksSubmitMany: return ["tasks": .array(Array(repeating: Self.task, count: batch))]
        }
    }

    /// The task the `tasks-*` operations submit: the same text as ``LoadOperation/redisTaskValue``.
    private static let task: JSONValue = ["kind": .string(LoadOperation.taskKind), "payload": .string(LoadOperation.value)]

    /// Requests counted per reply: the tasks of a batch for `tasks-submit-many`, else 1.
    var itemsPerRequest: Int { operation == .tasksSubmitMany ? batch : 1 }

    /// `count` requests back to back, so that answering k replies is one write of a slice.
    func requests(count: Int) -> ByteBuffer {
        let one = request
        var buffer = ByteBuffer()
        buffer.reserveCapacity(one.readableBytes * count)
        for _ in 0..<count { buffer.writeImmutableBuffer(one) }
        return buffer
    }

    func makeReplyScanner() -> ReplyScanner {
        switch target {
        case .sidecar:
            return ReplyScanner(
                protocol: .jsonRPC(FrameDecoder(maximumFrameLength: 1 << 20)), operation: operation, batch: itemsPerRequest)
        case .redis:
            return ReplyScanner(protocol: .resp, operation: operation, batch: itemsPerRequest)
        }
    }

    /// What must be done once before a run of this workload: a `get` (of either kind) needs
    /// the key to exist.
    var setup: Workload? {
        operation.setup.map { Workload(target: target, operation: $0) }
    }

    /// The method or command named in reports, with the batch (`LPUSH ×100`).
    var name: String {
        let name = operation.name(for: target)
        return operation == .tasksSubmitMany ? "\(name) ×\(batch)" : name
    }
}
