import NIOCore

/// One Redis reply (RESP2), as the control connection reads it: set-up commands such as `DEL`
/// and `LLEN`, never the hot path of a run.
enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    /// `nil` for the null bulk string.
    case bulk([UInt8]?)
    /// `nil` for the null array.
    case array([RESPValue]?)

    /// A RESP line longer than this is not a reply the driver asked for.
    private static let longestLine = 1 << 16

    /// Takes one complete reply off the front of `buffer`, or nothing when it has not fully arrived.
    /// - Throws: ``LoadError/badReply(_:)`` for bytes that are not RESP.
    static func read(_ buffer: inout ByteBuffer) throws(LoadError) -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try parse(buffer, at: &cursor) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private static func parse(_ buffer: ByteBuffer, at cursor: inout Int) throws(LoadError) -> RESPValue? {
        guard let line = try readLine(buffer, at: &cursor), let kind = line.first else { return nil }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"):
            guard let value = Int64(rest) else { throw LoadError.badReply("a RESP integer that is not one: \(rest)") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(rest), length >= -1 else { throw LoadError.badReply("a RESP bulk length that is not one: \(rest)") }
            if length == -1 { return .bulk(nil) }
            guard buffer.writerIndex - cursor >= length + 2, let bytes = buffer.getBytes(at: cursor, length: length) else { return nil }
            cursor += length + 2
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(rest), count >= -1 else { throw LoadError.badReply("a RESP array length that is not one: \(rest)") }
            if count == -1 { return .array(nil) }
            var elements: [RESPValue] = []
            for _ in 0..<count {
                guard let element = try parse(buffer, at: &cursor) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw LoadError.badReply("bytes that are not RESP: \(String(decoding: line, as: UTF8.self))")
        }
    }

    /// The bytes of the line at `cursor`, without its `\r\n`; moves `cursor` past it.
    private static func readLine(_ buffer: ByteBuffer, at cursor: inout Int) throws(LoadError) -> [UInt8]? {
        let available = buffer.writerIndex - cursor
        guard available > 0, let view = buffer.viewBytes(at: cursor, length: available) else { return nil }
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if available > longestLine { throw LoadError.badReply("a RESP line without an end in \(available) bytes") }
            return nil
        }
        guard newline > view.startIndex, view[newline - 1] == UInt8(ascii: "\r") else {
            throw LoadError.badReply("a RESP line that does not end in \\r\\n")
        }
        let line = Array(view[view.startIndex..<(newline - 1)])
        cursor += newline + 1 - view.startIndex
        return line
    }
}
