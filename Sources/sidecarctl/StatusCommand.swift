import ArgumentParser
import SidecarClient

/// `sidecarctl status`
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's version, pid, uptime, socket and connections.",
        discussion: """
            Calls sidecar.status. Prints one `name: value` line per field; with --json, prints \
            the result as JSON instead.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print the raw sidecar.status result as JSON.")
    var json = false

    func run() async throws {
        let status = try await global.withClient { client in
            try await client.call("sidecar.status")
        }
        if json {
            Output.printJSON(status)
            return
        }
        let activated = status["socketActivated"]?.boolValue
        let lines: [(String, String)] = [
            ("version", status["version"]?.stringValue ?? "?"),
            ("pid", status["pid"]?.intValue.map { String($0) } ?? "?"),
            ("uptime", status["uptimeSeconds"]?.doubleValue.map(Output.formatUptime) ?? "?"),
            ("socket", status["socket"]?.stringValue ?? "?"),
            ("socket-activated", activated.map { $0 ? "yes" : "no" } ?? "?"),
            ("connections", status["connections"]?.intValue.map { String($0) } ?? "?"),
        ]
        let width = lines.map(\.0.count).max() ?? 0
        for (name, value) in lines {
            print(name + ":" + String(repeating: " ", count: width - name.count + 1) + value)
        }
    }
}
