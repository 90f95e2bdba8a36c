import Foundation
import Glibc
import SidecarTestSupport
import Testing

/// The systemd user units in systemd/ are valid.
@Suite("systemd units", .timeLimit(.minutes(1)))
struct SystemdUnitTests {
    @Test(
        "systemd-analyze --user verify accepts sidecar.socket and sidecar.service",
        .enabled(if: PackageLocation.executable(named: "systemd-analyze") != nil, "systemd-analyze is not installed")
    )
    func verifyUnits() throws {
        let analyze = try #require(PackageLocation.executable(named: "systemd-analyze"))
        try withTemporaryDirectory { directory in
            // ExecStart= is %h/.local/bin/sidecard: give a home where it exists and runs.
            let home = directory.file("home")
            try FileManager.default.createDirectory(atPath: home + "/.local/bin", withIntermediateDirectories: true)
            try directory.write("#!/bin/sh\nexit 0\n", to: "home/.local/bin/sidecard")
            #expect(chmod(home + "/.local/bin/sidecard", 0o755) == 0)
            let runtime = directory.file("runtime")
            #expect(mkdir(runtime, 0o700) == 0)

            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = home
            environment["XDG_RUNTIME_DIR"] = runtime
            environment["XDG_CONFIG_HOME"] = home + "/.config"
            let result = try runCommand(
                analyze,
                ["--user", "verify", PackageLocation.file("systemd/sidecar.socket"), PackageLocation.file("systemd/sidecar.service")],
                environment: environment,
                in: directory
            )
            #expect(result.status == .exited(0), "\(result.standardError)")
            #expect(result.standardError.isEmpty, "\(result.standardError)")
        }
    }
}
