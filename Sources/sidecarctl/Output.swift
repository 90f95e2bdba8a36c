import ArgumentParser
import Foundation
import SidecarClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Printing for people and for pipes, and the mapping of failures to exit statuses.
enum Output {
    /// Whether standard output is a terminal: JSON is then indented, else compact (one line).
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    /// Prints `value` as JSON on stdout.
    /// A report for people: each section's heading, then its `  name: value` lines with the
    /// values aligned across the whole report.
    static func report(_ sections: [(heading: String, fields: [(name: String, value: String)])]) -> [String] {
        let width = sections.flatMap { $0.fields.map(\.name.count) }.max() ?? 0
        var lines: [String] = []
        for (heading, fields) in sections {
            lines.append(heading)
            for (name, value) in fields {
                lines.append("  " + name + ":" + String(repeating: " ", count: width - name.count + 1) + value)
            }
        }
        return lines
    }

    static func printJSON(_ value: JSONValue) {
        print(isTerminal ? JSONWriter.prettyString(value) : JSONWriter.string(value))
    }

    /// Writes one line to stderr.
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Reports `error` on stderr and returns the exit status to end with.
    static func fail(_ error: any Error, timeout: Double) -> ExitCode {
        guard let error = error as? SidecarClientError else {
            printError("sidecarctl: \(error)")
            return .failure
        }
        switch error {
        case .rpc(let rpcError):
            printError("error \(rpcError.code.rawValue): \(rpcError.message)")
            if let data = rpcError.data {
                printError("data: \(JSONWriter.string(data))")
            }
            return .failure
        case .cannotConnect(let path, let reason):
            printError("sidecarctl: cannot connect to \(path): \(reason)")
            printError("hint: is sidecard running? Start it with `sidecard`, or pass --socket PATH.")
            return ExitCode(2)
        case .timedOut:
            printError("sidecarctl: no reply within \(formatSeconds(timeout)) s (raise it with --timeout)")
            return .failure
        default:
            printError("sidecarctl: \(error)")
            return .failure
        }
    }

    /// `0.5`, `5`, `12.25`: seconds without trailing zeros.
    static func formatSeconds(_ seconds: Double) -> String {
        seconds.rounded() == seconds ? String(Int64(seconds)) : String(seconds)
    }

    /// `3d 4h 5m 6s`, leaving out leading zero units.
    static func formatUptime(_ seconds: Double) -> String {
        var remaining = Int64(seconds.rounded(.down))
        let days = remaining / 86_400
        remaining %= 86_400
        let hours = remaining / 3_600
        remaining %= 3_600
        let minutes = remaining / 60
        let secs = remaining % 60
        var parts: [String] = []
        if days > 0 { parts.append("\(days)d") }
        if days > 0 || hours > 0 { parts.append("\(hours)h") }
        if days > 0 || hours > 0 || minutes > 0 { parts.append("\(minutes)m") }
        parts.append("\(secs)s")
        return parts.joined(separator: " ")
    }
}
