import TOMLKit

/// The settings read from `config.toml`: the same keys as the command-line flags
/// (`max-connections = 64`, `allow-uid = [1001]`), so that a flag and its key never differ.
struct ConfigurationFile {
    /// Every key the file may hold, and the value type each takes.
    static let knownKeys: [String: String] = [
        "socket": "string",
        "max-frame-bytes": "integer",
        "max-connections": "integer",
        "max-outbound-bytes": "integer",
        "allow-uid": "array of integers",
        "idle-exit": "number",
        "shutdown-timeout": "number",
        "threads": "integer",
        "log-level": "string",
        "data-dir": "string",
        "db-readers": "integer",
        "slow-query-ms": "integer",
        "history-limit": "integer",
        "state": "table with 'ephemeral = [\"/path\", ...]'",
        "redis": "string",
        "redis-timeout-ms": "integer",
        "cache-prefix": "string",
        "cache-default-ttl": "integer",
        "cache-max-value-bytes": "integer",
        "cache-l1-entries": "integer",
        "cache-l1-bytes": "integer",
        "breaker-failures": "integer",
        "breaker-recovery": "number",
        "cache-warm": "array of strings",
        "workers": "integer",
        "no-exec": "boolean",
        "kill-grace": "number",
        "task-retention": "number",
        "priority-aging": "number",
    ]

    let path: String
    private let table: TOMLTable

    /// The default location: `$XDG_CONFIG_HOME/sidecar/config.toml`, else `~/.config/sidecar/config.toml`.
    static func defaultPath(environment: [String: String]) -> String? {
        if let config = environment["XDG_CONFIG_HOME"], !config.isEmpty { return config + "/sidecar/config.toml" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.config/sidecar/config.toml" }
        return nil
    }

    /// Reads the file at `path`; `nil` when it does not exist and was not asked for explicitly.
    /// - Throws: ``ConfigurationError`` naming the file and the problem.
    static func load(path: String, required: Bool) throws -> ConfigurationFile? {
        guard SystemInterface.fileExists(path) else {
            if required { throw ConfigurationError("configuration file \(path) does not exist") }
            return nil
        }
        let text = try SystemInterface.readTextFile(path)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError("\(path):\(error.source.begin.line): \(error.description)")
        } catch {
            throw ConfigurationError("\(path): \(error)")
        }
        for key in table.keys where knownKeys[key] == nil {
            let known = knownKeys.keys.sorted().joined(separator: ", ")
            throw ConfigurationError("\(path): unknown key '\(key)'; known keys are \(known)")
        }
        return ConfigurationFile(path: path, table: table)
    }

    func string(_ key: String) throws -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else { throw typeError(key) }
        return string
    }

    func int(_ key: String) throws -> Int? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else { throw typeError(key) }
        return int
    }

    func double(_ key: String) throws -> Double? {
        guard let value = table[key] else { return nil }
        if let int = value.int { return Double(int) }
        guard let double = value.double else { throw typeError(key) }
        return double
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else { throw typeError(key) }
        return bool
    }

    func stringArray(_ key: String) throws -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw typeError(key) }
        return try array.map { element in
            guard let string = element.string else { throw typeError(key) }
            return string
        }
    }

    func intArray(_ key: String) throws -> [Int]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { throw typeError(key) }
        return try array.map { element in
            guard let int = element.int else { throw typeError(key) }
            return int
        }
    }

    /// `[state] ephemeral = ["/ui/hover", ...]`: the state paths kept in memory only.
    func stateEphemeral() throws -> [String]? {
        guard let value = table["state"] else { return nil }
        guard let state = value.table else { throw typeError("state") }
        for key in state.keys where key != "ephemeral" {
            throw ConfigurationError("\(path): unknown key 'state.\(key)'; the [state] table knows 'ephemeral'")
        }
        guard let ephemeral = state["ephemeral"] else { return nil }
        guard let array = ephemeral.array else {
            throw ConfigurationError("\(path): 'state.ephemeral' must be an array of JSON Pointer strings")
        }
        return try array.map { element in
            guard let string = element.string else {
                throw ConfigurationError("\(path): 'state.ephemeral' must be an array of JSON Pointer strings")
            }
            return string
        }
    }

    private func typeError(_ key: String) -> ConfigurationError {
        ConfigurationError("\(path): '\(key)' must be \(Self.knownKeys[key] ?? "a valid value")")
    }
}

/// A configuration problem, worded for the person who wrote the flag or the file.
struct ConfigurationError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
