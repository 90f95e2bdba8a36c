import ArgumentParser
import SidecarClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON value given on the command line: the text itself, or `-` to read it from standard
/// input, for a value too large for a command line (Linux caps one argument at 128 KiB) or
/// produced by another program: `jq … | sidecarctl set /workspace -`.
enum JSONArgument {
    /// Parses `text` (or standard input for `-`), naming the argument when it is not JSON.
    static func parse(_ text: String, name: String) throws -> JSONValue {
        do {
            if text == "-" { return try JSONParser.parse(bytes: standardInput) }
            return try JSONParser.parse(text)
        } catch {
            let source = text == "-" ? " (read from standard input)" : ""
            throw ValidationError("\(name)\(source) is not valid JSON: \(error.description).")
        }
    }
}

/// Standard input, read to its end once: a command parses its arguments twice, to validate
/// them and then to run.
private let standardInput: [UInt8] = {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if count > 0 {
            bytes += chunk[..<count]
        } else if count == 0 || errno != EINTR {
            return bytes
        }
    }
}()
