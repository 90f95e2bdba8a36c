/// JSON text already written: a method result that the server copies to the wire as it is,
/// instead of building a ``JSONValue`` and encoding it. It is the hot path of reads whose
/// value is stored encoded (a cache hit).
///
/// ```swift
/// var result = EncodedJSON.Object()
/// result.add("hit", true)
/// result.add("value", encoded: entry.encoded)
/// result.add("ttl", 30)
/// return result.finish()  // {"hit":true,"value":…,"ttl":30}
/// ```
public struct EncodedJSON: Sendable, Hashable {
    /// Compact UTF-8 JSON text, as ``JSONWriter`` writes it.
    public let bytes: [UInt8]

    fileprivate init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value the text encodes, for where a ``JSONValue`` is needed after all (a batch
    /// reply, a test).
    public func decoded() throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(bytes: bytes)
    }

    /// Writes an object member by member. Keys are literals of the caller's (plain names that
    /// need no escaping); values are written by ``JSONWriter`` or copied from text it wrote.
    public struct Object {
        private var bytes: [UInt8]

        /// - Parameter capacity: the expected size of the text, to allocate once.
        public init(capacity: Int = 64) {
            bytes = []
            bytes.reserveCapacity(capacity)
            bytes.append(UInt8(ascii: "{"))
        }

        private mutating func key(_ key: StaticString) {
            if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            JSONWriter.append(key, to: &bytes)
            JSONWriter.append("\":", to: &bytes)
        }

        /// Adds `"key":true` or `"key":false`.
        public mutating func add(_ key: StaticString, _ value: Bool) {
            self.key(key)
            JSONWriter.append(value ? "true" : "false", to: &bytes)
        }

        /// Adds an integer member, or `null` for `nil`.
        public mutating func add(_ key: StaticString, _ value: Int64?) {
            self.key(key)
            if let value { JSONWriter.writeInteger(value, into: &bytes) } else { JSONWriter.append("null", to: &bytes) }
        }

        /// Adds a string member (escaped as JSON requires), or `null` for `nil`.
        public mutating func add(_ key: StaticString, string value: String?) {
            self.key(key)
            if let value { JSONWriter.writeString(value, into: &bytes) } else { JSONWriter.append("null", to: &bytes) }
        }

        /// Adds a member whose value is `value`, or `null` for `nil`.
        public mutating func add(_ key: StaticString, value: JSONValue?) {
            self.key(key)
            JSONWriter.write(value ?? .null, into: &bytes)
        }

        /// Adds a member whose value is JSON text that ``JSONWriter`` wrote earlier.
        public mutating func add(_ key: StaticString, encoded: [UInt8]) {
            self.key(key)
            bytes.append(contentsOf: encoded)
        }

        /// The finished object; add nothing after it. The text is closed in place and shared
        /// with the result, not copied. (A `consuming` method copied it: the caller's
        /// variable still held the same storage when the closing brace was appended.)
        public mutating func finish() -> EncodedJSON {
            bytes.append(UInt8(ascii: "}"))
            return EncodedJSON(bytes: bytes)
        }
    }
}
