import ArgumentParser
import SidecarClient

/// The options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's socket (default: $SIDECAR_SOCKET, else $XDG_RUNTIME_DIR/sidecar/sidecar.sock).",
            valueName: "path"
        )
    )
    var socket: String?

    @Option(
        name: .long,
        help: ArgumentHelp("How long to wait for the connection and the reply, in seconds.", valueName: "seconds")
    )
    var timeout: Double = 5

    func validate() throws {
        guard timeout.isFinite, timeout > 0 else {
            throw ValidationError("--timeout must be a positive number of seconds, got \(timeout).")
        }
        if let socket, socket.isEmpty {
            throw ValidationError("--socket must not be empty.")
        }
    }

    var timeoutDuration: Duration { .milliseconds(Int64((timeout * 1000).rounded(.up))) }

    /// Connects, runs `body`, closes; failures become a message on stderr and an exit status.
    func withClient<T>(_ body: (SidecarClient) async throws -> T) async throws -> T {
        let configuration = SidecarClient.Configuration(
            defaultTimeout: timeoutDuration,
            connectTimeout: timeoutDuration,
            reconnect: .disabled
        )
        do {
            return try await SidecarClient.withClient(to: socket, configuration: configuration, body)
        } catch {
            throw Output.fail(error, timeout: timeout)
        }
    }
}
