import SidecarProtocol

/// The built-in `exec` kind: `{argv, env?, cwd?, stdin?}` run in its own process group.
extension TaskScheduler {
    /// Runs an `exec` task once: its result on exit status 0; otherwise a failure carrying the
    /// output. Cancelling the calling Swift task stops the process group (SIGTERM, then SIGKILL
    /// after `--kill-grace`).
    func runExec(_ task: TaskRecord) async throws -> JSONValue {
        let payload: ExecPayload
        do {
            payload = try ExecPayload(json: task.payload)
        } catch {
            throw TaskRunError.failed("the exec payload is invalid: \(error.message)", result: nil)
        }
        let output = try await ProcessRunner.run(
            payload, timeout: .milliseconds(Int64((task.timeout * 1000).rounded())), killGrace: configuration.killGrace)
        if output.succeeded { return output.jsonValue }
        // Cancelled or failed, what the process printed is kept as the task's result.
        throw TaskRunError.failed(output.failureMessage ?? "the process failed", result: output.jsonValue)
    }
}
