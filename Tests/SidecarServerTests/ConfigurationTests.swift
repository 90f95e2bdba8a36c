import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

/// The configuration file, its precedence against flags, and `--help`.
@Suite("Configuration", .timeLimit(.minutes(1)))
struct ConfigurationTests {
    @Test("max-connections = 1 in config.toml (--config) takes effect")
    func fileTakesEffect() throws {
        try withTemporaryDirectory { directory in
            try directory.write("# limits\nmax-connections = 1\n", to: "config.toml")
            let daemon = try DaemonProcess(in: directory, arguments: ["--config", directory.file("config.toml")])
            defer { daemon.kill() }
            try daemon.waitUntilReady()
            let first = try daemon.connectAdmitted()
            let second = try daemon.connect()
            let refusal = try second.readMessage()
            expectError(refusal, code: -32002, id: nil)
            #expect(refusal["error"]?["data"]?["maximumConnections"] == 1)
            expectResult(try first.call("sidecar.ping", id: 2), "pong", id: 2)
        }
    }

    @Test("the default file $XDG_CONFIG_HOME/sidecar/config.toml is read without --config")
    func defaultFileLocation() throws {
        try withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory.file("config-home/sidecar"), withIntermediateDirectories: true)
            try directory.write("max-frame-bytes = 100\n", to: "config-home/sidecar/config.toml")
            let daemon = try DaemonProcess(in: directory)
            defer { daemon.kill() }
            try daemon.waitUntilReady()
            let connection = try daemon.connect()
            try connection.send(RPC.echo(.string(String(repeating: "x", count: 100))))
            let reply = try connection.readMessage()
            expectError(reply, code: -32001, id: nil)
            #expect(reply["error"]?["data"]?["maximum"] == 100)
        }
    }

    @Test("an unknown key makes the daemon exit 1 with a message naming the key")
    func unknownKey() throws {
        try withTemporaryDirectory { directory in
            try directory.write("max-connections = 4\nmax-conections = 5\n", to: "config.toml")
            let daemon = try DaemonProcess(in: directory, arguments: ["--config", directory.file("config.toml")])
            defer { daemon.kill() }
            #expect(daemon.waitForExit(timeout: 10) == .exited(1))
            #expect(daemon.standardError.contains("max-conections"), "\(daemon.standardError)")
            #expect(access(daemon.socketPath, F_OK) != 0, "it must not listen")
        }
    }

    @Test("a value of the wrong type, a missing --config file, a bad flag value, a too long path: exit 1 with a message")
    func invalidSettings() throws {
        try withTemporaryDirectory { directory in
            try directory.write("max-connections = \"many\"\n", to: "wrong-type.toml")
            let cases: [(arguments: [String], mentions: String)] = [
                (["--config", directory.file("wrong-type.toml")], "max-connections"),
                (["--config", directory.file("absent.toml")], "absent.toml"),
                (["--max-connections", "0"], "max-connections"),
                (["--log-level", "loud"], "log-level"),
                (["--socket", directory.file(String(repeating: "s", count: 120))], "too long"),
            ]
            for (arguments, mentions) in cases {
                let daemon = try DaemonProcess(in: directory, arguments: arguments)
                defer { daemon.kill() }
                #expect(daemon.waitForExit(timeout: 10) == .exited(1), "\(arguments)")
                #expect(daemon.standardError.contains(mentions), "\(arguments): \(daemon.standardError)")
            }
        }
    }

    @Test("flags win over the file")
    func flagsWin() throws {
        try withTemporaryDirectory { directory in
            try directory.write("max-connections = 1\nmax-frame-bytes = 64\n", to: "config.toml")
            let daemon = try DaemonProcess(
                in: directory,
                arguments: ["--config", directory.file("config.toml"), "--max-connections", "2"]
            )
            defer { daemon.kill() }
            try daemon.waitUntilReady()
            let first = try daemon.connectAdmitted()
            let second = try daemon.connectAdmitted()
            let third = try daemon.connect()
            let refusal = try third.readMessage()
            expectError(refusal, code: -32002, id: nil)
            #expect(refusal["error"]?["data"]?["maximumConnections"] == 2)
            // The file's other key still applies.
            try second.send(RPC.echo(.string(String(repeating: "x", count: 64))))
            let reply = try second.readMessage()
            expectError(reply, code: -32001, id: nil)
            #expect(reply["error"]?["data"]?["maximum"] == 64)
            expectResult(try first.call("sidecar.ping", id: 2), "pong", id: 2)
        }
    }

    @Test("sidecard --help mentions every flag")
    func help() throws {
        try withTemporaryDirectory { directory in
            let result = try runCommand(PackageLocation.daemonExecutable, ["--help"], in: directory)
            #expect(result.status == .exited(0))
            let flags = [
                "--socket", "--max-frame-bytes", "--max-connections", "--max-outbound-bytes", "--allow-uid",
                "--idle-exit", "--shutdown-timeout", "--threads", "--log-level", "--config", "--version", "--help",
            ]
            for flag in flags {
                #expect(result.standardOutput.contains(flag), "\(flag) missing from:\n\(result.standardOutput)")
            }
        }
    }
}
