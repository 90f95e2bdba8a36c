import NIOCore
import SidecarProtocol
import SidecarState

/// The `state.*` methods: the shared app state document (see PROTOCOL.md, "State").
enum StateMethods {
    static func register(into router: inout MethodRouter, state: StateService) {
        // Every state method runs on the connection's event loop in arrival order and hands
        // its work to the loop that owns the document (the same loop unless `--threads` > 1),
        // so a pipelined `state.set` then `state.get` reads its own write.
        router.register("state.get", .onLoop { context in
            let path = try pointer(context.params, "path")
            guard state.eventLoop.inEventLoop else {
                return .later(state.value(at: path).map(getResult))
            }
            return .encoded(encodedGetResult(state.valueOnLoop(at: path)))
        })
        router.register("state.set", .onLoop { context in
            let edit = StateEdit.set(try pointer(context.params, "path"), try context.params.required("value"))
            return try apply(edit, context: context, state: state)
        })
        router.register("state.merge", .onLoop { context in
            let edit = StateEdit.merge(try pointer(context.params, "path"), try context.params.required("value"))
            return try apply(edit, context: context, state: state)
        })
        router.register("state.patch", .onLoop { context in
            let base = try context.params.value("path") == nil ? JSONPointer.root : try pointer(context.params, "path")
            let patch: JSONPatch
            do {
                patch = try JSONPatch(json: try context.params.required("ops"))
            } catch let error as JSONPatchError {
                throw StateError.invalid("'ops': \(error.message)", operationIndex: error.operationIndex).rpcError
            }
            return try apply(.patch(patch, base: base), context: context, state: state)
        })
        router.register("state.delete", .onLoop { context in
            try apply(.delete(try pointer(context.params, "path")), context: context, state: state, reportExisted: true)
        })
        router.register("state.query", .onLoop { context in
            let selector = try context.params.string("selector")
            let path: JSONPath
            do {
                path = try JSONPath(parsing: selector)
            } catch {
                throw RPCError.invalidParams("'selector': \(error)", field: "selector")
            }
            return .later(state.query(path).map { values, paths, revision in
                ["values": .array(values), "paths": .array(paths.map(JSONValue.string)), "revision": .int(revision)]
            })
        })
        router.register("state.subscribe", .onLoop { context in
            let selector = try selector(context.params)
            let fireImmediately = try context.params.bool("fireImmediately", default: true)
            let connection = context.connection
            let subscriber = StateSubscriber(connectionID: connection.info.id) { id, params in
                connection.notifier.send(RPCNotification(method: "state.changed", params: params), coalescingKey: "state.\(id)")
            }
            return .later(state.subscribe(selector, subscriber: subscriber).map { id, value, revision in
                connection.onClose(service: "state") { state.connectionClosed(connection.info.id) }
                var result: JSONObject = ["subscription": .int(Int64(id)), "revision": .int(revision)]
                if fireImmediately { result["value"] = value }
                return .object(result)
            })
        })
        router.register("state.unsubscribe", .onLoop { context in
            let id = try context.params.requiredInt("subscription", range: 0...Int64.max)
            return .later(state.unsubscribe(UInt64(id), connectionID: context.connection.info.id).map { removed in
                ["unsubscribed": .bool(removed)]
            })
        })
        router.register("state.history", .onLoop { context in
            let path = try context.params.value("path") == nil ? nil : try pointer(context.params, "path")
            let limit = try context.params.int("limit", default: 100, range: 1...10_000)
            let before = try context.params.optionalInt("beforeRevision")
            return .later(state.history(path: path, limit: Int(limit), beforeRevision: before).map { changes in
                ["changes": .array(changes.map(\.jsonValue))]
            })
        })
        router.register("state.revert", .onLoop { context in
            let target = try context.params.requiredInt("toRevision", range: Int64.min...Int64.max)
            let action = try context.params.optionalString("action")
            return .later(state.revert(to: target, action: action).map { change in
                ["revision": .int(change.revision)]
            })
        })
    }

    private static func getResult(_ read: (value: JSONValue?, revision: Int64)) -> JSONValue {
        ["value": read.value ?? .null, "revision": .int(read.revision), "exists": .bool(read.value != nil)]
    }

    /// ``getResult(_:)`` written straight to JSON text, for the read served on the owner loop.
    private static func encodedGetResult(_ read: (value: JSONValue?, revision: Int64)) -> EncodedJSON {
        var result = EncodedJSON.Object(capacity: 256)  // a small value fits without growing it
        result.add("value", value: read.value)
        result.add("revision", read.revision)
        result.add("exists", read.value != nil)
        return result.finish()
    }

    private static func apply(
        _ edit: StateEdit,
        context: RequestContext,
        state: StateService,
        reportExisted: Bool = false
    ) throws -> LoopReply {
        let ifRevision = try context.params.optionalInt("ifRevision")
        let action = try context.params.optionalString("action")
        @Sendable func result(_ change: StateChange?, _ revision: Int64) -> JSONValue {
            reportExisted ? ["revision": .int(revision), "existed": .bool(change != nil)] : ["revision": .int(revision)]
        }
        guard state.eventLoop.inEventLoop else {
            return .later(state.apply(edit, action: action, ifRevision: ifRevision).map(result))
        }
        // On the document's loop: the change is made now; only its commit is waited for, and
        // the result, known now, is written as JSON text at once.
        let applied = try state.applyOnLoop(edit, action: action, ifRevision: ifRevision)
        var result = EncodedJSON.Object(capacity: 64)
        result.add("revision", applied.revision)
        if reportExisted { result.add("existed", applied.change != nil) }
        return .encodedAfter(applied.committed, result.finish())
    }

    private static func pointer(_ params: Params, _ name: String) throws -> JSONPointer {
        let text = try params.string(name)
        do {
            return try JSONPointer(text)
        } catch {
            throw RPCError.invalidParams("'\(name)': \(error.message)", field: name)
        }
    }

    private static func selector(_ params: Params) throws -> StateSelector {
        do {
            return try StateSelector(parsing: try params.string("selector"))
        } catch let error as StateError {
            var rpc = error.rpcError
            rpc.data = ["field": "selector"]
            throw rpc
        }
    }
}
