import NIOCore

/// The id and outcome of a response from sidecard, read off its first bytes instead of a full
/// decode: the daemon writes every response as `{"jsonrpc":"2.0","id":<id>,"result":…}` or
/// `…,"error":…}`. Used where a run sends several methods on one connection and must pair
/// each reply with its request; anything else (a notification) is not a head.
struct ResponseHead {
    /// The request id, for the integer ids the driver sends.
    var id: Int64
    var isError: Bool

    private static let prefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
    private static let result = Array(#","result":"#.utf8)
    private static let error = Array(#","error":"#.utf8)

    /// - Returns: `nil` when the frame does not start like a response with an integer id.
    init?(_ frame: ByteBuffer) {
        guard let head = frame.withUnsafeReadableBytes({ bytes -> (Int64, Bool)? in
            let prefix = Self.prefix
            guard bytes.count > prefix.count, bytes.prefix(prefix.count).elementsEqual(prefix) else { return nil }
            var index = prefix.count
            var id: Int64 = 0
            var digits = 0
            while index < bytes.count, digits < 18, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                id = id * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            let rest = bytes[index...]
            if rest.starts(with: Self.result) { return (id, false) }
            if rest.starts(with: Self.error) { return (id, true) }
            return nil
        }) else { return nil }
        (id, isError) = head
    }
}
