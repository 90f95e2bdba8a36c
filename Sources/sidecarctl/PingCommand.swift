import ArgumentParser
import SidecarClient

/// `sidecarctl ping`
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check that the daemon answers, and print the round-trip time.",
        discussion: """
            Calls sidecar.ping once on a fresh connection and prints `pong in 0.123 ms`: the time \
            from sending the request to reading the reply (connecting is not counted).
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let roundTrip = try await global.withClient { client in
            try await client.ping()
        }
        let components = roundTrip.components
        let milliseconds = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        print("pong in \(Self.format(milliseconds)) ms")
    }

    private static func format(_ milliseconds: Double) -> String {
        let thousandths = Int64((milliseconds * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}
