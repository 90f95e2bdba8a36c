#if canImport(Glibc)
import Glibc
#endif

/// The few operating-system facilities the daemon needs, taken straight from libc so that
/// the daemon does not load Foundation (and its ICU data) just for them: a smaller resident
/// size and a faster cold start.
enum SystemInterface {
    /// The process environment.
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// Writes `text` to standard error in one `write` call, so that lines from several
    /// threads do not interleave.
    static func writeToStandardError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)  // non-empty: offset < count
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Whether a file exists at `path`.
    static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The contents of the file at `path` as UTF-8 text.
    /// - Throws: ``ConfigurationError`` with the reason from the operating system.
    static func readTextFile(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else {
            throw ConfigurationError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes.append(contentsOf: chunk[..<count]) }
            if count < chunk.count {
                if ferror(file) != 0 { throw ConfigurationError("cannot read \(path): \(String(cString: strerror(errno)))") }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError("\(path) is not valid UTF-8 text")
        }
        return text
    }

    /// The current UTC time as `2026-11-25T17:26:40.851Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        let prefix = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return prefix + "." + fraction + "Z"
    }
}
