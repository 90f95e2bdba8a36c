#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// The bytes of a `tasks.submit` or `tasks.submitMany` reply known to be good, where only the
/// hex digits of each task id (`"id":"t` + 16 hex digits) may differ from reply to reply: every
/// id is new, everything else (`"created":true`, the request id) is the same each time.
struct TaskIDTemplate {
    /// Hex digits after the `t` of a task id.
    static let digitCount = 16
    private static let idStart = Array(#""id":"t"#.utf8)

    private let bytes: [UInt8]
    /// Where the digits of each task id start, in order.
    private let digitStarts: [Int]

    /// - Parameter frame: a reply that a full decode has accepted.
    /// - Returns: `nil` when the frame holds no task id spelled `"id":"t<16 hex digits>"`.
    init?(frame: ByteBuffer) {
        let bytes = Array(frame.readableBytesView)
        var starts: [Int] = []
        var index = 0
        let needle = Self.idStart
        while index + needle.count + Self.digitCount < bytes.count {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) {
                let digits = index + needle.count
                if bytes[digits..<(digits + Self.digitCount)].allSatisfy(Self.isHexDigit),
                    bytes[digits + Self.digitCount] == UInt8(ascii: "\"")
                {
                    starts.append(digits)
                    index = digits + Self.digitCount
                    continue
                }
            }
            index += 1
        }
        guard !starts.isEmpty else { return nil }
        self.bytes = bytes
        self.digitStarts = starts
    }

    /// Whether `frame` is the template with, at most, other task id digits.
    func matches(_ frame: ByteBuffer) -> Bool {
        guard frame.readableBytes == bytes.count else { return false }
        return frame.withUnsafeReadableBytes { received in
            bytes.withUnsafeBytes { expected in
                guard let receivedBase = received.baseAddress, let expectedBase = expected.baseAddress else { return false }
                var position = 0
                for start in digitStarts {
                    guard memcmp(receivedBase + position, expectedBase + position, start - position) == 0 else { return false }
                    for offset in start..<(start + Self.digitCount) where !Self.isHexDigit(received[offset]) {
                        return false
                    }
                    position = start + Self.digitCount
                }
                return memcmp(receivedBase + position, expectedBase + position, bytes.count - position) == 0
            }
        }
    }

    /// Task ids are lowercase hex.
    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
