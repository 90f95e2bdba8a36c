import NIOCore

/// Writes ``JSONValue``s as compact JSON text, straight into a `ByteBuffer`.
///
/// ```swift
/// var buffer = ByteBuffer()
/// JSONWriter.write(["ok": true], into: &buffer)   // {"ok":true}
/// ```
public enum JSONWriter {
    /// Appends the compact JSON text of `value` to `buffer`.
    public static func write(_ value: JSONValue, into buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("null")
        case .bool(let bool): buffer.writeStaticString(bool ? "true" : "false")
        case .int(let int): writeInteger(int, into: &buffer)
        case .double(let double): writeDouble(double, into: &buffer)
        case .string(let string): writeString(string, into: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                write(element, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let members):
            buffer.writeInteger(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { buffer.writeInteger(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                write(member, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text of `value`.
    public static func string(_ value: JSONValue) -> String {
        var buffer = ByteBuffer()
        write(value, into: &buffer)
        return String(buffer: buffer)
    }

    /// The JSON text of `value`, indented by two spaces per level, for people to read.
    public static func prettyString(_ value: JSONValue) -> String {
        var buffer = ByteBuffer()
        writePretty(value, indent: 0, into: &buffer)
        return String(buffer: buffer)
    }

    // MARK: - Scalars

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<index]))
                }
                writeEscape(byte, into: &buffer)
                runStart = index + 1
            }
            if runStart < utf8.count {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart...]))
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func writeEscape(_ byte: UInt8, into buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case 0x0A: buffer.writeStaticString("\\n")
        case 0x0D: buffer.writeStaticString("\\r")
        case 0x09: buffer.writeStaticString("\\t")
        case 0x08: buffer.writeStaticString("\\b")
        case 0x0C: buffer.writeStaticString("\\f")
        default:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            buffer.writeStaticString("\\u00")
            buffer.writeInteger(hex[Int(byte >> 4)])
            buffer.writeInteger(hex[Int(byte & 0x0F)])
        }
    }

    private static func writeInteger(_ int: Int64, into buffer: inout ByteBuffer) {
        if int >= 0 && int < 10 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(int))
        } else {
            buffer.writeString(String(int))
        }
    }

    private static func writeDouble(_ double: Double, into buffer: inout ByteBuffer) {
        // Swift prints the shortest text that reads back as the same double; JSON has no
        // infinities or NaN, and the parser never produces them, so map them to null.
        guard double.isFinite else {
            buffer.writeStaticString("null")
            return
        }
        buffer.writeString(double.description)
    }

    // MARK: - Pretty printing

    private static func writePretty(_ value: JSONValue, indent: Int, into buffer: inout ByteBuffer) {
        switch value {
        case .array(let elements) where !elements.isEmpty:
            buffer.writeStaticString("[\n")
            for (offset, element) in elements.enumerated() {
                writeIndent(indent + 1, into: &buffer)
                writePretty(element, indent: indent + 1, into: &buffer)
                buffer.writeStaticString(offset == elements.count - 1 ? "\n" : ",\n")
            }
            writeIndent(indent, into: &buffer)
            buffer.writeStaticString("]")
        case .object(let members) where !members.isEmpty:
            buffer.writeStaticString("{\n")
            for (offset, member) in members.enumerated() {
                writeIndent(indent + 1, into: &buffer)
                writeString(member.key, into: &buffer)
                buffer.writeStaticString(": ")
                writePretty(member.value, indent: indent + 1, into: &buffer)
                buffer.writeStaticString(offset == members.count - 1 ? "\n" : ",\n")
            }
            writeIndent(indent, into: &buffer)
            buffer.writeStaticString("}")
        default:
            write(value, into: &buffer)
        }
    }

    private static func writeIndent(_ level: Int, into buffer: inout ByteBuffer) {
        buffer.writeRepeatingByte(UInt8(ascii: " "), count: level * 2)
    }
}
