import ArgumentParser
import SidecarClient

/// `sidecarctl methods`
struct MethodsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "methods",
        abstract: "List the daemon's methods, with a one-line summary of each.",
        discussion: """
            Calls rpc.discover (the OpenRPC document, also in protocol/openrpc.json) and prints \
            each method's name and summary. `sidecarctl call rpc.discover` prints the whole document.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let document = try await global.withClient { client in
            try await client.call("rpc.discover")
        }
        guard let methods = document["methods"]?.arrayValue else {
            Output.printError("sidecarctl: rpc.discover returned no 'methods' array")
            throw ExitCode.failure
        }
        let entries = methods.map { method in
            (method["name"]?.stringValue ?? "?", method["summary"]?.stringValue ?? "")
        }
        let width = entries.map(\.0.count).max() ?? 0
        for (name, summary) in entries {
            print(summary.isEmpty ? name : name + String(repeating: " ", count: width - name.count + 2) + summary)
        }
    }
}
