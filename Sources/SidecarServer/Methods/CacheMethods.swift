import NIOCore
import SidecarCache
import SidecarProtocol

/// The `cache.*` methods: the tiered cache (see PROTOCOL.md, "Cache").
enum CacheMethods {
    /// Longest key, in UTF-8 bytes.
    static let maximumKeyBytes = 1024

    static func register(into router: inout MethodRouter, cache: CacheService) {
        // An L1 hit is answered on the connection's loop at once; a miss goes on to L2.
        router.register("cache.get", .onLoop { context in
            let key = try key(context.params)
            guard cache.eventLoop.inEventLoop else { return .later(cache.get(key).map(getResult)) }
            if let hit = cache.lookupOnLoop(key) { return .encoded(encodedHit(hit)) }
            return .later(cache.readThrough(key).map(getResult))
        })
        router.register("cache.set", .onLoop { context in
            let key = try key(context.params)
            let value = try context.params.required("value")
            var encoded: [UInt8] = []
            JSONWriter.write(value, into: &encoded)
            let limit = cache.configuration.maximumValueBytes
            guard encoded.count <= limit else {
                throw RPCError.invalidParams(
                    "'value' is \(encoded.count) bytes of JSON, over the limit of \(limit) (--cache-max-value-bytes)", field: "value")
            }
            let ttl = try context.params.int("ttl", default: cache.configuration.defaultTTL, range: 0...Int64(Int32.max))
            let lease = try context.params.optionalString("lease")
            guard cache.eventLoop.inEventLoop else {
                return .encodedAfter(cache.set(key, value: value, encoded: encoded, ttl: ttl, lease: lease), stored)
            }
            // Without Redis the set is complete once L1 has it; with Redis, once it is written through.
            guard let writtenThrough = try cache.setOnLoop(key, value: value, encoded: encoded, ttl: ttl, lease: lease) else {
                return .encoded(stored)
            }
            return .encodedAfter(writtenThrough, stored)
        })
        router.register("cache.delete", .onLoop { context in
            .later(cache.delete(try key(context.params)).map { ["deleted": .bool($0)] })
        })
        router.register("cache.invalidate", .onLoop { context in
            .later(cache.invalidate(try pattern(context.params)).map(removedResult))
        })
        router.register("cache.clear", .onLoop { context in
            try context.params.expectNone()
            return .later(cache.clear().map(removedResult))
        })
        router.register("cache.warm", .onLoop { context in
            .later(cache.warm(try pattern(context.params)).map { ["loaded": .int(Int64($0))] })
        })
        router.register("cache.fetch", .onLoop { context in
            let key = try key(context.params)
            let lease = try context.params.requiredInt("lease", range: 1...600_000)
            let connection = context.connection
            connection.onClose(service: "cache") { cache.connectionClosed(connection.info.id) }
            return .later(cache.fetch(key, leaseMilliseconds: lease, connectionID: connection.info.id).map { result in
                switch result {
                case .hit(let value): return ["hit": true, "value": value]
                case .lease(let token): return ["hit": false, "lease": .string(token)]
                }
            })
        })
        router.register("cache.release", .onLoop { context in
            let key = try key(context.params)
            let lease = try context.params.string("lease")
            return .later(cache.release(key, token: lease).map { ["released": .bool($0)] })
        })
        router.register("cache.stats", .onLoop { context in
            try context.params.expectNone()
            return .later(cache.statistics())
        })
    }

    private static func getResult(_ lookup: CacheService.Lookup?) -> JSONValue {
        guard let lookup else { return ["hit": false, "value": .null, "tier": .null, "ttl": .null] }
        return ["hit": true, "value": lookup.value, "tier": .string(lookup.tier.rawValue), "ttl": lookup.ttl.map(JSONValue.int) ?? .null]
    }

    /// `{"stored":true}`, the result of every `cache.set`.
    private static let stored: EncodedJSON = {
        var result = EncodedJSON.Object(capacity: 16)
        result.add("stored", true)
        return result.finish()
    }()

    /// ``getResult(_:)`` of a hit, written straight from the entry's stored JSON text.
    private static func encodedHit(_ lookup: CacheService.Lookup) -> EncodedJSON {
        var result = EncodedJSON.Object(capacity: lookup.encoded.count + 48)
        result.add("hit", true)
        result.add("value", encoded: lookup.encoded)
        result.add("tier", string: lookup.tier.rawValue)
        result.add("ttl", lookup.ttl)
        return result.finish()
    }

    private static func removedResult(_ removed: (l1Removed: Int, l2Removed: Int)) -> JSONValue {
        ["l1Removed": .int(Int64(removed.l1Removed)), "l2Removed": .int(Int64(removed.l2Removed))]
    }

    private static func key(_ params: Params) throws -> String {
        let key = try params.string("key")
        guard !key.isEmpty else { throw RPCError.invalidParams("'key' must not be empty", field: "key") }
        guard key.utf8.count <= maximumKeyBytes else {
            throw RPCError.invalidParams("'key' is \(key.utf8.count) bytes, over the limit of \(maximumKeyBytes)", field: "key")
        }
        return key
    }

    private static func pattern(_ params: Params) throws -> GlobPattern {
        let text = try params.string("pattern")
        do {
            return try GlobPattern(text)
        } catch {
            throw error.rpcError
        }
    }
}
