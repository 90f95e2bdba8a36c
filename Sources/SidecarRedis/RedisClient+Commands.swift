/// The commands the cache needs, typed. Keys and channels are text; values are bytes.
extension RedisClient {
    // MARK: - Strings

    /// `PING`: checks that Redis answers.
    /// - Throws: ``RedisError`` if it does not.
    public func ping() async throws(RedisError) {
        let reply = try await command(["PING"])
        guard reply == .status("PONG") else { throw unexpected(reply, to: "PING") }
    }

    /// `GET key`.
    /// - Returns: the value, or `nil` if the key does not exist.
    /// - Throws: ``RedisError/server(_:)`` if the key holds something other than a string;
    ///   another ``RedisError`` if the call failed.
    public func get(_ key: String) async throws(RedisError) -> [UInt8]? {
        let reply = try await command([bytes("GET"), bytes(key)])
        return try value(of: reply, to: "GET")
    }

    /// `SET key value [PX ttl]`: stores `value`, replacing any value and expiry the key had.
    /// - Parameters:
    ///   - key: the key.
    ///   - value: the bytes to store.
    ///   - ttlMilliseconds: the time to live; 0 (or less) means no expiry.
    /// - Throws: ``RedisError`` if the call failed.
    public func set(_ key: String, to value: [UInt8], ttlMilliseconds: Int = 0) async throws(RedisError) {
        var arguments = [bytes("SET"), bytes(key), value]
        if ttlMilliseconds > 0 { arguments += [bytes("PX"), bytes(String(ttlMilliseconds))] }
        let reply = try await command(arguments)
        guard reply == .status("OK") else { throw unexpected(reply, to: "SET") }
    }

    /// `PTTL key`.
    /// - Returns: the remaining time to live in milliseconds; -1 if the key has no expiry, -2 if
    ///   it does not exist.
    /// - Throws: ``RedisError`` if the call failed.
    public func pttl(_ key: String) async throws(RedisError) -> Int {
        try integer(of: try await command([bytes("PTTL"), bytes(key)]), to: "PTTL")
    }

    /// `GET key` and `PTTL key` in one round trip (pipelined on one connection).
    /// - Returns: the value and its remaining time to live in milliseconds (`nil`: no expiry), or
    ///   `nil` if the key does not exist (or expired between the two commands).
    /// - Throws: ``RedisError`` if the call failed or Redis answered either command with an error.
    public func getWithTTL(_ key: String) async throws(RedisError) -> (value: [UInt8], ttlMilliseconds: Int?)? {
        let replies = try await pipeline([[bytes("GET"), bytes(key)], [bytes("PTTL"), bytes(key)]])
        guard replies.count == 2 else { throw .protocol("expected 2 replies to GET and PTTL, got \(replies.count)") }
        guard let value = try value(of: replies[0], to: "GET") else { return nil }
        let ttl = try integer(of: replies[1], to: "PTTL")
        switch ttl {
        case -2: return nil
        case ..<0: return (value, nil)
        default: return (value, ttl)
        }
    }

    // MARK: - Keys

    /// `UNLINK key…`: removes keys, reclaiming their memory in the background.
    /// - Parameter keys: the keys; an empty list sends nothing.
    /// - Returns: how many of them existed.
    /// - Throws: ``RedisError`` if the call failed.
    public func unlink(_ keys: [String]) async throws(RedisError) -> Int {
        try await unlink(keys.map(bytes))
    }

    /// `SCAN cursor [MATCH pattern] COUNT count`: one step of an iteration over the keys.
    /// - Parameters:
    ///   - cursor: 0 to start, then the cursor of the previous step.
    ///   - pattern: a glob such as `cache:user:*` (see ``globEscaped(_:)``); `nil` for all keys.
    ///   - count: how much work Redis does in this step (a hint, not a number of keys).
    /// - Returns: the cursor for the next step (0 when the iteration is over) and the keys found,
    ///   which may repeat keys of earlier steps.
    /// - Throws: ``RedisError`` if the call failed.
    public func scan(cursor: UInt64, match pattern: String?, count: Int) async throws(RedisError)
        -> (cursor: UInt64, keys: [String])
    {
        let page = try await scanPage(cursor: cursor, pattern: pattern, count: count)
        return (page.cursor, page.keys.map { String(decoding: $0, as: UTF8.self) })
    }

    /// All keys matching `pattern`, by iterating `SCAN` (never `KEYS`, which blocks Redis).
    /// - Parameters:
    ///   - pattern: a glob such as `cache:*`.
    ///   - batch: the `COUNT` of each step.
    /// - Returns: each matching key once, in the order found; a key added or removed during the
    ///   iteration may or may not be included.
    /// - Throws: ``RedisError`` if a step failed.
    public func scan(pattern: String, batch: Int = 500) async throws(RedisError) -> [String] {
        var cursor: UInt64 = 0
        var seen = Set<[UInt8]>()
        var keys: [String] = []
        repeat {
            let page = try await scanPage(cursor: cursor, pattern: pattern, count: batch)
            for key in page.keys where seen.insert(key).inserted {
                keys.append(String(decoding: key, as: UTF8.self))
            }
            cursor = page.cursor
        } while cursor != 0
        return keys
    }

    /// Removes every key matching `pattern`, by `SCAN` and `UNLINK` of each step's keys (never
    /// `KEYS`, which blocks Redis).
    /// - Parameters:
    ///   - pattern: a glob such as `cache:user:*`.
    ///   - batch: the `COUNT` of each step.
    /// - Returns: how many keys were removed.
    /// - Throws: ``RedisError`` if a step failed; the keys of earlier steps are gone by then.
    public func scanAndUnlink(pattern: String, batch: Int = 500) async throws(RedisError) -> Int {
        var cursor: UInt64 = 0
        var removed = 0
        repeat {
            let page = try await scanPage(cursor: cursor, pattern: pattern, count: batch)
            removed += try await unlink(page.keys)
            cursor = page.cursor
        } while cursor != 0
        return removed
    }

    /// `literal` with the glob characters of `SCAN MATCH` (`*`, `?`, `[`, `]`, `\`) escaped, so
    /// that a key prefix can be matched as written: `globEscaped("user[1]:") + "*"`.
    public static func globEscaped(_ literal: String) -> String {
        var escaped = ""
        for character in literal {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    // MARK: - Pub/sub

    /// `PUBLISH channel message`.
    /// - Returns: how many subscribers received it.
    /// - Throws: ``RedisError`` if the call failed.
    public func publish(_ message: [UInt8], to channel: String) async throws(RedisError) -> Int {
        try integer(of: try await command([bytes("PUBLISH"), bytes(channel), message]), to: "PUBLISH")
    }

    // MARK: - Private

    private func unlink(_ keys: [[UInt8]]) async throws(RedisError) -> Int {
        guard !keys.isEmpty else { return 0 }
        return try integer(of: try await command([bytes("UNLINK")] + keys), to: "UNLINK")
    }

    /// A `SCAN` step with the keys as Redis sent them (keys need not be UTF-8).
    private func scanPage(cursor: UInt64, pattern: String?, count: Int) async throws(RedisError)
        -> (cursor: UInt64, keys: [[UInt8]])
    {
        var arguments = [bytes("SCAN"), bytes(String(cursor))]
        if let pattern { arguments += [bytes("MATCH"), bytes(pattern)] }
        arguments += [bytes("COUNT"), bytes(String(max(count, 1)))]
        let reply = try await command(arguments)
        guard let parts = reply.array, parts.count == 2,
              let cursorText = parts[0].string, let next = UInt64(cursorText),
              let found = parts[1].array
        else { throw unexpected(reply, to: "SCAN") }
        var keys: [[UInt8]] = []
        keys.reserveCapacity(found.count)
        for key in found {
            guard case .bulkString(let bytes) = key else { throw unexpected(reply, to: "SCAN") }
            keys.append(bytes)
        }
        return (next, keys)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func value(of reply: RedisReply, to command: String) throws(RedisError) -> [UInt8]? {
        switch reply {
        case .bulkString(let value): return value
        case .null: return nil
        case .error(let message): throw .server(message)
        default: throw unexpected(reply, to: command)
        }
    }

    private func integer(of reply: RedisReply, to command: String) throws(RedisError) -> Int {
        switch reply {
        case .integer(let value): return Int(value)
        case .error(let message): throw .server(message)
        default: throw unexpected(reply, to: command)
        }
    }

    private func unexpected(_ reply: RedisReply, to command: String) -> RedisError {
        .protocol("\(command) answered \(reply)")
    }
}
