import Foundation
import SidecarTestSupport
import Testing

/// The `sidecarctl` binary against a real daemon: output formats and exit statuses.
@Suite("sidecarctl", .timeLimit(.minutes(2)))
struct SidecarctlTests {
    /// Runs `sidecarctl` with `arguments` (its output kept in `directory`) without blocking the
    /// cooperative pool, in the test's environment minus `SIDECAR_SOCKET`.
    private func sidecarctl(_ arguments: [String], in directory: TemporaryDirectory) async throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["SIDECAR_SOCKET"] = nil
        return try await runCommand(PackageLocation.controlExecutable, arguments, environment: environment, in: directory)
    }

    @Test func callPrintsCompactJSONWhenPiped() async throws {
        try await withTestDaemon { daemon in
            let run = try await sidecarctl(
                ["call", "--socket", daemon.socketPath, "sidecar.echo", #"{"value": {"a": [1, 2]}}"#],
                in: daemon.directory
            )
            #expect(run.status == .exited(0))
            #expect(run.standardOutput == #"{"a":[1,2]}"# + "\n")
            #expect(run.standardError.isEmpty)
        }
    }

    @Test func callReportsJSONRPCErrorsOnStderr() async throws {
        try await withTestDaemon { daemon in
            let run = try await sidecarctl(["call", "--socket", daemon.socketPath, "no.such.method"], in: daemon.directory)
            #expect(run.status == .exited(1))
            #expect(run.standardOutput.isEmpty)
            #expect(run.standardError.hasPrefix("error -32601: Method not found"))
            #expect(run.standardError.contains(#"data: {"method":"no.such.method"}"#))
        }
    }

    @Test func invalidParamsJSONIsAUsageError() async throws {
        try await withTemporaryDirectory { directory in
            let run = try await sidecarctl(
                ["call", "--socket", "/nonexistent/s.sock", "sidecar.echo", "{not json"],
                in: directory
            )
            #expect(run.status == .exited(64))
            #expect(run.standardError.contains("PARAMS_JSON is not valid JSON"))
        }
    }

    @Test func cannotConnectNamesThePathAndExitsWith2() async throws {
        try await withTemporaryDirectory { directory in
            let socketPath = directory.file("s.sock")  // nothing listens there
            let run = try await sidecarctl(["ping", "--socket", socketPath], in: directory)
            #expect(run.status == .exited(2))
            #expect(run.standardError.hasPrefix("sidecarctl: cannot connect to \(socketPath): "))
        }
    }

    @Test func pingStatusAndMethodsSpeakToPeople() async throws {
        try await withTestDaemon { daemon in
            let ping = try await sidecarctl(["ping", "--socket", daemon.socketPath], in: daemon.directory)
            #expect(ping.status == .exited(0))
            #expect(ping.standardOutput.wholeMatch(of: /pong in \d+\.\d{3} ms\n/) != nil, "got \(ping.standardOutput)")

            let status = try await sidecarctl(["status", "--socket", daemon.socketPath], in: daemon.directory)
            #expect(status.status == .exited(0))
            let lines = status.standardOutput.split(separator: "\n").map(String.init)
            let pid = daemon.pid
            #expect(lines.contains { $0.hasPrefix("pid:") && $0.hasSuffix(" \(pid)") })
            #expect(lines.contains { $0.hasPrefix("socket:") && $0.hasSuffix(" \(daemon.socketPath)") })
            #expect(lines.contains { $0.hasPrefix("socket-activated:") && $0.hasSuffix(" no") })
            #expect(lines.map { $0.prefix { $0 != ":" } } == [
                "version", "pid", "uptime", "socket", "socket-activated", "connections",
            ])

            let json = try await sidecarctl(["status", "--json", "--socket", daemon.socketPath], in: daemon.directory)
            let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
            #expect(object?["pid"] as? Int == Int(pid))

            let methods = try await sidecarctl(["methods", "--socket", daemon.socketPath], in: daemon.directory)
            #expect(methods.status == .exited(0))
            #expect(methods.standardOutput.split(separator: "\n").contains { $0.hasPrefix("sidecar.ping ") })
        }
    }

    @Test func timeoutIsReported() async throws {
        try await withTestDaemon { daemon in
            let run = try await sidecarctl([
                "call", "--socket", daemon.socketPath, "--timeout", "0.2",
                "sidecar.echo", #"{"value": 1, "delayMs": 5000}"#,
            ], in: daemon.directory)
            #expect(run.status == .exited(1))
            #expect(run.standardError.contains("no reply within 0.2 s"))
        }
    }
}
