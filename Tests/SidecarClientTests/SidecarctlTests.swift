import Foundation
import Testing

/// The `sidecarctl` binary against a real daemon: output formats and exit statuses.
@Suite("sidecarctl", .timeLimit(.minutes(2)))
struct SidecarctlTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `sidecarctl` with `arguments` off the cooperative pool (it blocks on the pipes).
    private func sidecarctl(_ arguments: [String]) async throws -> Run {
        let binary = try TestDaemon.binary(named: "sidecarctl", override: "SIDECARCTL_BIN")
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = binary
                process.arguments = arguments
                var environment = ProcessInfo.processInfo.environment
                environment["SIDECAR_SOCKET"] = nil
                process.environment = environment
                let stdout = Pipe()
                let stderr = Pipe()
                process.standardOutput = stdout
                process.standardError = stderr
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                // Small outputs: read stdout, then stderr, then reap.
                let out = stdout.fileHandleForReading.readDataToEndOfFile()
                let err = stderr.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Run(
                    status: process.terminationStatus,
                    stdout: String(decoding: out, as: UTF8.self),
                    stderr: String(decoding: err, as: UTF8.self)
                ))
            }
        }
    }

    @Test func callPrintsCompactJSONWhenPiped() async throws {
        try await TestDaemon.with { daemon in
            let run = try await sidecarctl(["call", "--socket", daemon.socketPath, "sidecar.echo", #"{"value": {"a": [1, 2]}}"#])
            #expect(run.status == 0)
            #expect(run.stdout == #"{"a":[1,2]}"# + "\n")
            #expect(run.stderr.isEmpty)
        }
    }

    @Test func callReportsJSONRPCErrorsOnStderr() async throws {
        try await TestDaemon.with { daemon in
            let run = try await sidecarctl(["call", "--socket", daemon.socketPath, "no.such.method"])
            #expect(run.status == 1)
            #expect(run.stdout.isEmpty)
            #expect(run.stderr.hasPrefix("error -32601: Method not found"))
            #expect(run.stderr.contains(#"data: {"method":"no.such.method"}"#))
        }
    }

    @Test func invalidParamsJSONIsAUsageError() async throws {
        let run = try await sidecarctl(["call", "--socket", "/nonexistent/s.sock", "sidecar.echo", "{not json"])
        #expect(run.status == 64)
        #expect(run.stderr.contains("PARAMS_JSON is not valid JSON"))
    }

    @Test func cannotConnectNamesThePathAndExitsWith2() async throws {
        let daemon = try TestDaemon()  // never started
        let run = try await sidecarctl(["ping", "--socket", daemon.socketPath])
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("sidecarctl: cannot connect to \(daemon.socketPath): "))
    }

    @Test func pingStatusAndMethodsSpeakToPeople() async throws {
        try await TestDaemon.with { daemon in
            let ping = try await sidecarctl(["ping", "--socket", daemon.socketPath])
            #expect(ping.status == 0)
            #expect(ping.stdout.wholeMatch(of: /pong in \d+\.\d{3} ms\n/) != nil, "got \(ping.stdout)")

            let status = try await sidecarctl(["status", "--socket", daemon.socketPath])
            #expect(status.status == 0)
            let lines = status.stdout.split(separator: "\n").map(String.init)
            let pid = try #require(daemon.pid)
            #expect(lines.contains { $0.hasPrefix("pid:") && $0.hasSuffix(" \(pid)") })
            #expect(lines.contains { $0.hasPrefix("socket:") && $0.hasSuffix(" \(daemon.socketPath)") })
            #expect(lines.contains { $0.hasPrefix("socket-activated:") && $0.hasSuffix(" no") })
            #expect(lines.map { $0.prefix { $0 != ":" } } == [
                "version", "pid", "uptime", "socket", "socket-activated", "connections",
            ])

            let json = try await sidecarctl(["status", "--json", "--socket", daemon.socketPath])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["pid"] as? Int == Int(pid))

            let methods = try await sidecarctl(["methods", "--socket", daemon.socketPath])
            #expect(methods.status == 0)
            #expect(methods.stdout.split(separator: "\n").contains { $0.hasPrefix("sidecar.ping ") })
        }
    }

    @Test func timeoutIsReported() async throws {
        try await TestDaemon.with { daemon in
            let run = try await sidecarctl([
                "call", "--socket", daemon.socketPath, "--timeout", "0.2",
                "sidecar.echo", #"{"value": 1, "delayMs": 5000}"#,
            ])
            #expect(run.status == 1)
            #expect(run.stderr.contains("no reply within 0.2 s"))
        }
    }
}
