import ArgumentParser

/// The `sidecarctl` command: talks to a running `sidecard` over its socket.
@main
struct Sidecarctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecarctl",
        abstract: "Talk to the sidecard daemon over its Unix socket.",
        discussion: """
            The socket is --socket PATH if given, else $SIDECAR_SOCKET, else \
            $XDG_RUNTIME_DIR/sidecar/sidecar.sock, else /tmp/sidecar-$UID/sidecar.sock — \
            the same rule sidecard uses.

            Exit status: 0 on success; 1 when the daemon answers with a JSON-RPC error, or the \
            call times out or loses its connection; 2 when no connection can be made; \
            64 when the command line is invalid (including PARAMS_JSON that is not JSON).
            """,
        subcommands: [
            CallCommand.self, PingCommand.self, StatusCommand.self, MethodsCommand.self,
            GetCommand.self, SetCommand.self, MergeCommand.self, PatchCommand.self, DeleteCommand.self,
            QueryCommand.self, HistoryCommand.self, RevertCommand.self, WatchCommand.self,
            CacheCommand.self, RunCommand.self, TasksCommand.self,
        ]
    )
}
