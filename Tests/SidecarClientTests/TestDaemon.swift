import Foundation
import SidecarClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `sidecard` process listening on a socket in a fresh temporary directory.
///
/// ```swift
/// try await TestDaemon.with { daemon in
///     let client = try await SidecarClient.connect(to: daemon.socketPath)
///     …
/// }
/// ```
final class TestDaemon {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let directory: URL
    let socketPath: String
    private(set) var process: Process?
    private var logIndex = 0

    /// The pid of the running daemon.
    var pid: Int32? { process?.processIdentifier }

    init() throws {
        // Short: a Unix socket path is limited to about 104 bytes.
        let name = "sct-" + UUID().uuidString.prefix(8)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("s.sock").path
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts a daemon, runs `body`, and stops the daemon whatever `body` did.
    static func with<T>(_ body: (TestDaemon) async throws -> T) async throws -> T {
        let daemon = try TestDaemon()
        try await daemon.start()
        do {
            let result = try await body(daemon)
            try await daemon.stop()
            return result
        } catch {
            try? await daemon.stop(signal: SIGKILL)
            throw error
        }
    }

    // MARK: - Lifecycle

    /// Launches the daemon and returns once its socket accepts connections.
    func start(timeout: Duration = .seconds(20)) async throws {
        if let process, process.isRunning { throw Failure(description: "the daemon is already running") }
        logIndex += 1
        let logURL = directory.appendingPathComponent("sidecard-\(logIndex).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)

        let process = Process()
        process.executableURL = try Self.binary(named: "sidecard", override: "SIDECARD_BIN")
        process.arguments = ["--socket", socketPath, "--threads", "1", "--shutdown-timeout", "2"]
        process.environment = Self.childEnvironment(configHome: directory.path)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process

        let deadline = ContinuousClock.now + timeout
        while true {
            guard process.isRunning else {
                throw Failure(description: "sidecard exited with status \(process.terminationStatus): \(readLog(logURL))")
            }
            let configuration = SidecarClient.Configuration(connectTimeout: .seconds(1), reconnect: .disabled)
            if let probe = try? await SidecarClient.connect(to: socketPath, configuration: configuration) {
                await probe.close()
                return
            }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "sidecard did not accept on \(socketPath) within \(timeout): \(readLog(logURL))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends `signal` (SIGTERM: graceful; SIGKILL: a crash) and waits for the process to exit.
    func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(15)) async throws {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "sidecard did not exit within \(timeout) of signal \(signal)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: - Locating binaries

    /// `$<override>` if set, else `name` next to the test bundle, else `.build/debug/<name>`
    /// under the package root found by walking up from this file.
    static func binary(named name: String, override: String, filePath: String = #filePath) throws -> URL {
        let fileManager = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment[override], !explicit.isEmpty {
            guard fileManager.isExecutableFile(atPath: explicit) else {
                throw Failure(description: "\(override)=\(explicit) is not an executable file")
            }
            return URL(fileURLWithPath: explicit)
        }
        var candidates: [URL] = [
            Bundle(for: TestDaemon.self).bundleURL.deletingLastPathComponent(),
            Bundle.main.bundleURL,
        ]
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if fileManager.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                candidates.append(directory.appendingPathComponent(".build/debug"))
                break
            }
            directory.deleteLastPathComponent()
        }
        for candidate in candidates {
            let binary = candidate.appendingPathComponent(name)
            if fileManager.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw Failure(
            description: "no \(name) binary (looked in \(candidates.map(\.path))); "
                + "build it with `swift build --product \(name)` or set \(override)"
        )
    }

    /// The test's environment without anything that would make the daemon behave differently:
    /// no socket activation, no systemd notify socket, no user configuration file.
    private static func childEnvironment(configHome: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "SIDECAR_SOCKET"] {
            environment[key] = nil
        }
        environment["XDG_CONFIG_HOME"] = configHome
        return environment
    }

    private func readLog(_ url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? "(no log)"
    }
}
