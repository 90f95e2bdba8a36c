import ArgumentParser
import SidecarClient

/// `sidecarctl call METHOD [PARAMS_JSON]`
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a JSON-RPC method and print its result as JSON.",
        discussion: """
            The result is printed indented when stdout is a terminal, on one line otherwise \
            (so it pipes into jq). A JSON-RPC error is printed on stderr as `error CODE: message` \
            (and its data, if any) and the exit status is 1. PARAMS_JSON that is not valid JSON, \
            or not an object or array, is rejected before connecting, with exit status 64.

            Examples:
              sidecarctl call sidecar.status
              sidecarctl call sidecar.echo '{"value": [1, 2, 3], "delayMs": 100}'
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The method to call, e.g. sidecar.status.", valueName: "method"))
    var method: String

    @Argument(help: ArgumentHelp("The params: a JSON object or array; - reads them from standard input.", valueName: "params-json"))
    var paramsJSON: String?

    func validate() throws {
        _ = try parsedParams()
    }

    func run() async throws {
        let params = try parsedParams()
        let result = try await global.withClient { client in
            try await client.call(method, params: params)
        }
        Output.printJSON(result)
    }

    private func parsedParams() throws -> JSONValue? {
        guard let paramsJSON else { return nil }
        let params = try JSONArgument.parse(paramsJSON, name: "PARAMS_JSON")
        switch params {
        case .object, .array:
            return params
        default:
            throw ValidationError("PARAMS_JSON must be a JSON object or array, got a \(params.typeName).")
        }
    }
}
