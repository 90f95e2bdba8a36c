import ArgumentParser
import Foundation
import SidecarClient

/// `sidecarctl watch SELECTOR`
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print a slice of the state document, then each new value, one JSON line each.",
        discussion: """
            Subscribes to SELECTOR (a JSON Pointer, or a JSONPath starting with $) and prints \
            the current value, then the value after every change to it, as compact JSON, one \
            line each, flushed at once (so it pipes into `jq --unbuffered` or a `while read` loop). \
            Writes elsewhere in the document print nothing. Runs until interrupted (Ctrl-C, SIGTERM), or \
            until the daemon goes away: if it cannot reconnect within --reconnect-for seconds, \
            the error is printed and the exit status is 1. After a reconnect it prints the \
            current value again.

            Examples:
              sidecarctl watch /settings/llm/model
              sidecarctl watch '$.executions[?@.status=="running"]'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A JSON Pointer, or a JSONPath starting with $.", valueName: "selector"))
    var selector: String

    @Option(
        name: .customLong("reconnect-for"),
        help: ArgumentHelp("How long to keep trying to reconnect when the daemon goes away; 0 to stop at once.", valueName: "seconds")
    )
    var reconnectFor: Double = 10

    func validate() throws {
        guard reconnectFor.isFinite, reconnectFor >= 0 else {
            throw ValidationError("--reconnect-for must be zero or a positive number of seconds, got \(reconnectFor).")
        }
    }

    func run() async throws {
        let reconnect: ReconnectPolicy =
            reconnectFor == 0
            ? .disabled
            : ReconnectPolicy(maximumAttempts: nil, giveUpAfter: .milliseconds(Int64(reconnectFor * 1000)))
        let configuration = SidecarClient.Configuration(
            defaultTimeout: global.timeoutDuration,
            connectTimeout: global.timeoutDuration,
            reconnect: reconnect
        )
        do {
            try await SidecarClient.withClient(to: global.socket, configuration: configuration) { client in
                for try await value in client.state.subscribe(selector) {
                    FileHandle.standardOutput.write(Data((JSONWriter.string(value) + "\n").utf8))
                }
            }
        } catch {
            throw Output.fail(error, timeout: global.timeout)
        }
    }
}
