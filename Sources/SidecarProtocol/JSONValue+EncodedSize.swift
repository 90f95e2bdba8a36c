extension JSONValue {
    /// About how many bytes of JSON the value takes (its strings' UTF-8 and a few bytes for
    /// each other value, member and element), or `nil` as soon as that passes `limit`.
    ///
    /// Measuring stops at the limit, so it costs no more than `limit` allows, even for a value
    /// whose parts share storage many times over (a copy shares its value's storage): such a
    /// value is cheap to hold and costly to write out, which this finds out beforehand.
    @inlinable
    public func encodedSize(upTo limit: Int) -> Int? {
        // Inlined for the answers of nearly every request, a scalar or a string, which are
        // measured before they are written.
        let size: Int
        switch self {
        case .null, .bool, .int, .double: size = 8
        case .string(let text): size = text.utf8.count + 2
        case .array, .object: return containerSize(upTo: limit)
        }
        return size <= limit ? size : nil
    }

    @usableFromInline
    func containerSize(upTo limit: Int) -> Int? {
        var size = 0
        return addEncodedSize(to: &size, limit: limit) ? size : nil
    }

    /// Adds this value's size to `size`; `false` once it passes `limit`.
    private func addEncodedSize(to size: inout Int, limit: Int) -> Bool {
        switch self {
        case .null, .bool, .int, .double:
            size += 8
        case .string(let text):
            size += text.utf8.count + 2
        case .object(let members):
            size += 2
            for (key, value) in members {
                size += key.utf8.count + 4
                guard size <= limit, value.addEncodedSize(to: &size, limit: limit) else { return false }
            }
        case .array(let elements):
            size += 2
            for value in elements {
                size += 1
                guard size <= limit, value.addEncodedSize(to: &size, limit: limit) else { return false }
            }
        }
        return size <= limit
    }
}
