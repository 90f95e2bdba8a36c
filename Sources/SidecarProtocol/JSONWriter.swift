import NIOCore

/// Writes ``JSONValue``s as compact JSON text.
///
/// The text is built in a byte array, whose appends the compiler inlines, and copied into a
/// `ByteBuffer` once: far cheaper than many small `ByteBuffer` writes on the hot path.
///
/// ```swift
/// var buffer = ByteBuffer()
/// JSONWriter.write(["ok": true], into: &buffer)   // {"ok":true}
/// ```
public enum JSONWriter {
    /// Appends the compact JSON text of `value` to `buffer`.
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        write(value, into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// Appends the compact JSON text of `value` to `bytes`.
    public static func write(_ value: JSONValue, into bytes: inout [UInt8]) {
        switch value {
        case .null: append("null", to: &bytes)
        case .bool(let bool): append(bool ? "true" : "false", to: &bytes)
        case .int(let int): writeInteger(int, into: &bytes)
        case .double(let double): writeDouble(double, into: &bytes)
        case .string(let string): writeString(string, into: &bytes)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                write(element, into: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                write(member, into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text of `value`.
    public static func string(_ value: JSONValue) -> String {
        var bytes: [UInt8] = []
        write(value, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The JSON text of `value`, indented by two spaces per level, for people to read.
    public static func prettyString(_ value: JSONValue) -> String {
        var bytes: [UInt8] = []
        writePretty(value, indent: 0, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Scalars

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        writeString(string, into: &bytes)
        buffer.writeBytes(bytes)
    }

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ string: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                writeEscape(byte, into: &bytes)
                runStart = index + 1
            }
            if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends the bytes of a static string (JSON punctuation and literals).
    @inline(__always)
    static func append(_ text: StaticString, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func writeEscape(_ byte: UInt8, into bytes: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): append("\\\"", to: &bytes)
        case UInt8(ascii: "\\"): append("\\\\", to: &bytes)
        case 0x0A: append("\\n", to: &bytes)
        case 0x0D: append("\\r", to: &bytes)
        case 0x09: append("\\t", to: &bytes)
        case 0x08: append("\\b", to: &bytes)
        case 0x0C: append("\\f", to: &bytes)
        default:
            let hex: StaticString = "0123456789abcdef"
            append("\\u00", to: &bytes)
            bytes.append(hex.utf8Start[Int(byte >> 4)])
            bytes.append(hex.utf8Start[Int(byte & 0x0F)])
        }
    }

    static func writeInteger(_ int: Int64, into bytes: inout [UInt8]) {
        if int >= 0 && int < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(int))
            return
        }
        // Digits into a small stack buffer, most significant last, then reversed into place.
        var magnitude = int.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            if int < 0 { bytes.append(UInt8(ascii: "-")) }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(digits[index]) }
        }
    }

    private static func writeDouble(_ double: Double, into bytes: inout [UInt8]) {
        // Swift prints the shortest text that reads back as the same double; JSON has no
        // infinities or NaN, and the parser never produces them, so map them to null.
        guard double.isFinite else {
            append("null", to: &bytes)
            return
        }
        bytes.append(contentsOf: double.description.utf8)
    }

    // MARK: - Pretty printing

    private static func writePretty(_ value: JSONValue, indent: Int, into bytes: inout [UInt8]) {
        switch value {
        case .array(let elements) where !elements.isEmpty:
            append("[\n", to: &bytes)
            for (offset, element) in elements.enumerated() {
                writeIndent(indent + 1, into: &bytes)
                writePretty(element, indent: indent + 1, into: &bytes)
                append(offset == elements.count - 1 ? "\n" : ",\n", to: &bytes)
            }
            writeIndent(indent, into: &bytes)
            bytes.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            append("{\n", to: &bytes)
            for (offset, member) in members.enumerated() {
                writeIndent(indent + 1, into: &bytes)
                writeString(member.key, into: &bytes)
                append(": ", to: &bytes)
                writePretty(member.value, indent: indent + 1, into: &bytes)
                append(offset == members.count - 1 ? "\n" : ",\n", to: &bytes)
            }
            writeIndent(indent, into: &bytes)
            bytes.append(UInt8(ascii: "}"))
        default:
            write(value, into: &bytes)
        }
    }

    private static func writeIndent(_ level: Int, into bytes: inout [UInt8]) {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * 2))
    }
}
