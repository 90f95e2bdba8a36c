#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Byte searches in a reply, for the checks that need one string out of a frame and would
/// rather not decode it all.
enum ByteSearch {
    /// The offset (from the start of `bytes`) of the first `needle` at or after `start`.
    static func firstOffset(of needle: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard let base = bytes.baseAddress, let first = needle.first, start >= 0 else { return nil }
        return needle.withUnsafeBytes { pattern -> Int? in
            guard let patternBase = pattern.baseAddress else { return nil }
            var offset = start
            while bytes.count - offset >= pattern.count {
                guard let found = memchr(base + offset, Int32(first), bytes.count - offset - pattern.count + 1) else { return nil }
                let candidate = UnsafeRawPointer(found) - base
                if memcmp(base + candidate, patternBase, pattern.count) == 0 { return candidate }
                offset = candidate + 1
            }
            return nil
        }
    }

    /// How many times `needle` occurs in `bytes`, without overlaps.
    static func count(of needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int {
        var count = 0
        var start = 0
        while let offset = firstOffset(of: needle, in: bytes, from: start) {
            count += 1
            start = offset + needle.count
        }
        return count
    }

    /// Whether `needle` occurs in the readable bytes of `buffer`.
    static func contains(_ needle: [UInt8], in buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { firstOffset(of: needle, in: $0) != nil }
    }
}
