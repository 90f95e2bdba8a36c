import Foundation
import NIOCore
import SidecarProtocol

// MARK: - Typed calls

extension SidecarClient {
    /// Calls `method` with `Encodable` params and decodes the result as `Result`.
    ///
    /// Bridging goes through Foundation's `JSONEncoder`/`JSONDecoder` and ``JSONValue``: simple
    /// and exact, and cheap next to a round trip.
    ///
    /// ```swift
    /// struct Echo: Encodable { var value: [Int]; var delayMs = 0 }
    /// let numbers = try await client.call("sidecar.echo", params: Echo(value: [1, 2]), as: [Int].self)
    /// ```
    /// - Parameters:
    ///   - method: the method name.
    ///   - params: encoded as the `params` member; must encode to a JSON object or array.
    ///   - type: the type of the result.
    ///   - timeout: the limit for the whole call; `nil` uses ``Configuration/defaultTimeout``.
    /// - Throws: as ``call(_:params:timeout:)``, plus ``SidecarClientError/encodingFailed(method:reason:)``
    ///   and ``SidecarClientError/decodingFailed(method:reason:)``.
    public nonisolated func call<Params: Encodable, Result: Decodable>(
        _ method: String,
        params: Params,
        as type: Result.Type = Result.self,
        timeout: Duration? = nil
    ) async throws -> Result {
        let json = try JSONBridge.encodeParams(params, method: method)
        return try JSONBridge.decode(type, from: try await call(method, params: json, timeout: timeout), method: method)
    }

    /// Calls `method` without params and decodes the result as `Result`.
    ///
    /// ```swift
    /// struct Status: Decodable { var version: String; var pid: Int }
    /// let status = try await client.call("sidecar.status", as: Status.self)
    /// ```
    /// - Throws: as ``call(_:params:timeout:)``, plus ``SidecarClientError/decodingFailed(method:reason:)``.
    public nonisolated func call<Result: Decodable>(
        _ method: String,
        as type: Result.Type = Result.self,
        timeout: Duration? = nil
    ) async throws -> Result {
        try JSONBridge.decode(type, from: try await call(method, timeout: timeout), method: method)
    }
}

/// Converts between `Codable` values and ``JSONValue`` through JSON text.
enum JSONBridge {
    static func encodeParams<Params: Encodable>(_ params: Params, method: String) throws(SidecarClientError) -> JSONValue {
        let json: JSONValue
        do {
            let data = try JSONEncoder().encode(params)
            json = try JSONParser.parse(bytes: data)
        } catch {
            throw .encodingFailed(method: method, reason: "\(error)")
        }
        switch json {
        case .object, .array:
            return json
        default:
            throw .encodingFailed(
                method: method,
                reason: "params must encode to a JSON object or array, not a \(json.typeName)"
            )
        }
    }

    static func decode<Result: Decodable>(
        _ type: Result.Type,
        from value: JSONValue,
        method: String
    ) throws(SidecarClientError) -> Result {
        var buffer = ByteBuffer()
        JSONWriter.write(value, into: &buffer)
        do {
            return try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
        } catch {
            throw .decodingFailed(method: method, reason: describe(error))
        }
    }

    /// A `DecodingError` names the coding path, which says which member was wrong.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "result" : "result" + path
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(type), \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing member '\(key.stringValue)'"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
