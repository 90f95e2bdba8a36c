import SidecarProtocol

/// A request's params with typed accessors whose errors name the parameter and what was expected.
///
/// ```swift
/// let delay = try context.params.int("delayMs", default: 0, range: 0...60_000)
/// ```
public struct Params: Sendable {
    /// The raw params: an object, an array, or `nil` when absent.
    public var raw: JSONValue?

    public init(_ raw: JSONValue?) {
        self.raw = raw
    }

    /// Fails unless the params are absent, `[]` or `{}`.
    public func expectNone() throws(RPCError) {
        switch raw {
        case nil: return
        case .array(let elements) where elements.isEmpty: return
        case .object(let members) where members.isEmpty: return
        default: throw RPCError.invalidParams("this method takes no params")
        }
    }

    /// The named parameter, or `nil` when it is absent. Params must be an object (by-name).
    public func value(_ name: String) throws(RPCError) -> JSONValue? {
        switch raw {
        case nil: return nil
        case .object(let members): return members[name]
        default: throw RPCError.invalidParams("params must be an object with named members, got \(raw?.typeName ?? "nothing")")
        }
    }

    /// The named parameter, which must be present.
    public func required(_ name: String) throws(RPCError) -> JSONValue {
        guard let value = try value(name) else {
            throw RPCError.invalidParams("'\(name)' is required", field: name)
        }
        return value
    }

    /// An integer parameter, `defaultValue` when absent, checked against `range`.
    public func int(_ name: String, default defaultValue: Int64, range: ClosedRange<Int64>) throws(RPCError) -> Int64 {
        guard let value = try value(name), !value.isNull else { return defaultValue }
        guard let int = value.intValue else {
            throw RPCError.invalidParams("'\(name)' must be an integer, got \(value.typeName)", field: name)
        }
        guard range.contains(int) else {
            throw RPCError.invalidParams("'\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(int)", field: name)
        }
        return int
    }

    /// An integer parameter that must be present, checked against `range`.
    public func requiredInt(_ name: String, range: ClosedRange<Int64>) throws(RPCError) -> Int64 {
        guard let value = try value(name), !value.isNull else {
            throw RPCError.invalidParams("'\(name)' is required", field: name)
        }
        return try int(name, default: range.lowerBound, range: range)
    }

    /// An optional integer parameter (`nil` when absent or null).
    public func optionalInt(_ name: String) throws(RPCError) -> Int64? {
        guard let value = try value(name), !value.isNull else { return nil }
        guard let int = value.intValue else {
            throw RPCError.invalidParams("'\(name)' must be an integer, got \(value.typeName)", field: name)
        }
        return int
    }

    /// An optional string parameter (`nil` when absent or null).
    public func optionalString(_ name: String) throws(RPCError) -> String? {
        guard let value = try value(name), !value.isNull else { return nil }
        guard let string = value.stringValue else {
            throw RPCError.invalidParams("'\(name)' must be a string, got \(value.typeName)", field: name)
        }
        return string
    }

    /// A boolean parameter, `defaultValue` when absent.
    public func bool(_ name: String, default defaultValue: Bool) throws(RPCError) -> Bool {
        guard let value = try value(name), !value.isNull else { return defaultValue }
        guard let bool = value.boolValue else {
            throw RPCError.invalidParams("'\(name)' must be true or false, got \(value.typeName)", field: name)
        }
        return bool
    }

    /// A string parameter that must be present.
    public func string(_ name: String) throws(RPCError) -> String {
        let value = try required(name)
        guard let string = value.stringValue else {
            throw RPCError.invalidParams("'\(name)' must be a string, got \(value.typeName)", field: name)
        }
        return string
    }
}

extension RPCError {
    /// An invalid-params error whose data names the offending field.
    static func invalidParams(_ detail: String, field: String) -> RPCError {
        var error = RPCError.invalidParams(detail)
        error.data = ["field": .string(field)]
        return error
    }
}
