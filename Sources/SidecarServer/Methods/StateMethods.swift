import SidecarProtocol
import SidecarState

/// The `state.*` methods: the shared app state document (see PROTOCOL.md, "State").
enum StateMethods {
    static func register(into router: inout MethodRouter, state: StateService) {
        router.register("state.get", .orderedImmediate { context in
            let path = try pointer(context.params, "path")
            let (value, revision) = state.currentValue(at: path)
            return ["value": value ?? .null, "revision": .int(revision), "exists": .bool(value != nil)]
        })
        router.register("state.set", .ordered { context in
            let edit = StateEdit.set(try pointer(context.params, "path"), try context.params.required("value"))
            return try await apply(edit, context: context, state: state)
        })
        router.register("state.merge", .ordered { context in
            let edit = StateEdit.merge(try pointer(context.params, "path"), try context.params.required("value"))
            return try await apply(edit, context: context, state: state)
        })
        router.register("state.patch", .ordered { context in
            let base = try context.params.value("path") == nil ? JSONPointer.root : try pointer(context.params, "path")
            let patch: JSONPatch
            do {
                patch = try JSONPatch(json: try context.params.required("ops"))
            } catch let error as JSONPatchError {
                throw StateError.invalid("'ops': \(error.message)", operationIndex: error.operationIndex).rpcError
            }
            return try await apply(.patch(patch, base: base), context: context, state: state)
        })
        router.register("state.delete", .ordered { context in
            let path = try pointer(context.params, "path")
            let result = try await apply(.delete(path), context: context, state: state, reportExisted: true)
            return result
        })
        router.register("state.query", .ordered { context in
            let selector = try context.params.string("selector")
            let path: JSONPath
            do {
                path = try JSONPath(parsing: selector)
            } catch {
                throw RPCError.invalidParams("'selector': \(error)", field: "selector")
            }
            let (values, paths, revision) = await state.query(path)
            return ["values": .array(values), "paths": .array(paths.map(JSONValue.string)), "revision": .int(revision)]
        })
        router.register("state.subscribe", .ordered { context in
            let selector = try selector(context.params)
            let fireImmediately = try context.params.bool("fireImmediately", default: true)
            let connection = context.connection
            let subscriber = StateSubscriber(connectionID: connection.info.id) { id, params in
                connection.notifier.send(RPCNotification(method: "state.changed", params: params), coalescingKey: "state.\(id)")
            }
            let (id, value, revision) = await state.subscribe(selector, subscriber: subscriber)
            connection.onClose { Task { await state.connectionClosed(connection.info.id) } }
            var result: JSONObject = ["subscription": .int(Int64(id)), "revision": .int(revision)]
            if fireImmediately { result["value"] = value }
            return .object(result)
        })
        router.register("state.unsubscribe", .ordered { context in
            let id = try context.params.requiredInt("subscription", range: 0...Int64.max)
            let removed = await state.unsubscribe(UInt64(id), connectionID: context.connection.info.id)
            return ["unsubscribed": .bool(removed)]
        })
        router.register("state.history", .ordered { context in
            let path = try context.params.value("path") == nil ? nil : try pointer(context.params, "path")
            let limit = try context.params.int("limit", default: 100, range: 1...10_000)
            let before = try context.params.optionalInt("beforeRevision")
            let changes = try await state.history(path: path, limit: Int(limit), beforeRevision: before)
            return ["changes": .array(changes.map(\.jsonValue))]
        })
        router.register("state.revert", .ordered { context in
            let target = try context.params.requiredInt("toRevision", range: Int64.min...Int64.max)
            do {
                let change = try await state.revert(to: target, action: try context.params.optionalString("action"))
                return ["revision": .int(change.revision)]
            } catch let error as StateRevertError {
                throw error.rpcError
            } catch let error as StateError {
                throw error.rpcError
            }
        })
    }

    private static func apply(
        _ edit: StateEdit,
        context: RequestContext,
        state: StateService,
        reportExisted: Bool = false
    ) async throws -> JSONValue {
        let ifRevision = try context.params.optionalInt("ifRevision")
        let action = try context.params.optionalString("action")
        do {
            let (change, revision) = try await state.apply(edit, action: action, ifRevision: ifRevision)
            var result: JSONObject = ["revision": .int(revision)]
            if reportExisted { result["existed"] = .bool(change != nil) }
            return .object(result)
        } catch let error as StateError {
            throw error.rpcError
        }
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
