import Foundation
import Glibc
import SidecarProtocol
import SidecarTestSupport
import Testing

@testable import SidecarTasks

/// The `exec` runner against real processes (`sh`, `cat`, `head`, `sleep`).
@Suite struct ProcessRunnerTests {
    // MARK: - Output and exit status

    @Test func capturesStdoutAndStderrOfASuccessfulRun() async throws {
        let output = try await run(["sh", "-c", "echo out; printf 'err' >&2"])
        #expect(output.reason == .exited)
        #expect(output.exitCode == 0)
        #expect(output.signal == nil)
        #expect(output.succeeded)
        #expect(output.failureMessage == nil)
        #expect(output.stdout.text == "out\n")
        #expect(output.stderr.text == "err")
        #expect(output.jsonValue == ["exitCode": 0, "stdout": "out\n", "stderr": "err"])
    }

    @Test func aNonZeroExitIsAFailureWithItsStatus() async throws {
        let output = try await run(["sh", "-c", "echo partial; exit 3"])
        #expect(output.reason == .exited)
        #expect(output.exitCode == 3)
        #expect(!output.succeeded)
        #expect(output.failureMessage == "exited with status 3")
        #expect(output.stdout.text == "partial\n")
    }

    @Test func aProcessKilledByASignalReportsIt() async throws {
        let output = try await run(["sh", "-c", "kill -KILL $$"])
        #expect(output.reason == .exited)
        #expect(output.exitCode == nil)
        #expect(output.signal == SIGKILL)
        #expect(output.failureMessage == "killed by signal 9 (SIGKILL)")
        #expect(output.jsonValue == ["exitCode": nil, "stdout": "", "stderr": "", "signal": 9])
    }

    @Test func invalidUTF8IsReplaced() async throws {
        let output = try await run(["sh", "-c", "printf '\\377ok'"])
        #expect(output.stdout.bytes == [0xFF, 0x6F, 0x6B])
        #expect(output.stdout.text == "\u{FFFD}ok")
    }

    // MARK: - Input, environment, directory

    @Test func stdinIsDeliveredThenClosed() async throws {
        let output = try await run(["cat"], stdin: "line 1\nline 2 é\n")
        #expect(output.succeeded)
        #expect(output.stdout.text == "line 1\nline 2 é\n")
    }

    @Test func withoutStdinTheProcessReadsEndOfFile() async throws {
        let output = try await run(["cat"])
        #expect(output.succeeded)
        #expect(output.stdout.text == "")
    }

    @Test func largeStdinAndStdoutFlowAtTheSameTime() async throws {
        // Far beyond the pipe buffers in both directions: feeding stdin while reading stdout.
        let input = String(repeating: "0123456789abcdef\n", count: 40_000)  // 680 000 bytes
        let output = try await run(["cat"], stdin: input)
        #expect(output.succeeded)
        #expect(output.stdout.totalByteCount == input.utf8.count)
        #expect(output.stdout.text == input)
    }

    @Test func stdinTheProcessDoesNotReadIsDropped() async throws {
        // The write fails with EPIPE once `true` has exited; the runner must not die of SIGPIPE.
        let output = try await run(["true"], stdin: String(repeating: "x", count: 2_000_000))
        #expect(output.succeeded)
    }

    @Test func envIsLaidOverTheDaemonsEnvironmentAndCwdIsApplied() async throws {
        try await withTemporaryDirectory { directory in
            let inheritedPath = try #require(ProcessInfo.processInfo.environment["PATH"])
            let output = try await run(
                ["sh", "-c", "printf '%s|%s|%s' \"$SIDECAR_EXEC_TEST\" \"$PATH\" \"$(pwd -P)\""],
                env: ["SIDECAR_EXEC_TEST": "given value"],
                cwd: directory.path
            )
            #expect(output.succeeded)
            let realDirectory = try #require(realpath(directory.path, nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            })
            #expect(output.stdout.text == "given value|\(inheritedPath)|\(realDirectory)")
        }
    }

    @Test func theProgramIsLookedUpInThePATHTheProcessSees() async throws {
        try await withTemporaryDirectory { directory in
            let tool = directory.file("sidecar-exec-test-tool")
            try "#!/bin/sh\necho \"tool ran with $1\"\n".write(toFile: tool, atomically: true, encoding: .utf8)
            chmod(tool, 0o755)

            // While the script was being written, a process that another test spawned at that
            // moment may still hold its descriptor open for writing: exec then fails with
            // ETXTBSY ("Text file busy") until that process has exec'd. Try again briefly.
            var attempt = 0
            var result: ProcessOutput?
            while result == nil {
                do {
                    result = try await run(["sidecar-exec-test-tool", "arg"], env: ["PATH": "\(directory.path):/usr/bin:/bin"])
                } catch let error as ProcessRunner.SpawnError where error.code == ETXTBSY && attempt < 20 {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let output = try #require(result)
            #expect(output.succeeded)
            #expect(output.stdout.text == "tool ran with arg\n")

            // Without that PATH it is not found.
            await #expect(throws: ProcessRunner.SpawnError.self) { try await run(["sidecar-exec-test-tool"]) }
        }
    }

    @Test func onlyStandardDescriptorsReachTheProcess() async throws {
        // A descriptor of the daemon's that is not close-on-exec.
        let leaky = open("/dev/null", O_RDONLY)
        try #require(leaky > 2)
        defer { close(leaky) }
        let output = try await run(["sh", "-c", "ls /proc/$$/fd"])
        #expect(output.succeeded)
        let descriptors = Set(output.stdout.text.split(separator: "\n").map(String.init))
        #expect(!descriptors.contains(String(leaky)))
        #expect(descriptors.isSuperset(of: ["0", "1", "2"]))
        #expect(descriptors.count <= 4)  // 0–2, and possibly one of the shell's own (dash keeps none)
    }

    // MARK: - Output limit

    @Test func outputOverTheLimitIsTruncatedAndMarkedWhileTheProcessFinishes() async throws {
        let output = try await run(["head", "-c", "3000000", "/dev/zero"])
        #expect(output.succeeded)
        #expect(output.stdout.bytes.count == ProcessRunner.defaultOutputLimit)
        #expect(output.stdout.totalByteCount == 3_000_000)
        #expect(output.stdout.isTruncated)
        #expect(!output.stderr.isTruncated)
        #expect(output.jsonValue["truncated"] == ["stdout": true, "stderr": false])
        #expect(output.jsonValue["stdout"]?.stringValue?.utf8.count == ProcessRunner.defaultOutputLimit)
    }

    @Test func eachStreamHasItsOwnLimit() async throws {
        let output = try await run(["sh", "-c", "printf 1234567; printf abc >&2"], outputLimit: 4)
        #expect(output.stdout.text == "1234")
        #expect(output.stdout.totalByteCount == 7)
        #expect(output.stderr.text == "abc")
        #expect(output.jsonValue["truncated"] == ["stdout": true, "stderr": false])
    }

    @Test func aCharacterCutByTheLimitIsDropped() {
        let cut = ProcessOutput.Stream(bytes: Array("aé".utf8).dropLast(), totalByteCount: 3)
        #expect(cut.text == "a")
        let whole = ProcessOutput.Stream(bytes: Array("aé".utf8), totalByteCount: 10)
        #expect(whole.text == "aé")
        let euro = ProcessOutput.Stream(bytes: Array("x€".utf8).dropLast(), totalByteCount: 9)
        #expect(euro.text == "x")
    }

    // MARK: - Timeout and kill

    @Test func aTimeoutStopsTheWholeProcessGroup() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = directory.file("child.pid")
            let start = ContinuousClock.now
            let output = try await run(
                ["sh", "-c", "sleep 100 & echo $! > '\(pidFile)'; wait"],
                timeout: .milliseconds(500),
                killGrace: .seconds(5)
            )
            let elapsed = ContinuousClock.now - start
            #expect(output.reason == .timedOut)
            #expect(output.signal == SIGTERM)
            #expect(output.failureMessage == "timed out (killed by signal 15 (SIGTERM))")
            #expect(elapsed >= .milliseconds(500))
            #expect(elapsed < .seconds(4))  // SIGTERM sufficed: no wait for the grace
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually { !isRunning(child) }, "the background sleep outlived the timeout")
        }
    }

    @Test func aProcessIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = directory.file("child.pid")
            let start = ContinuousClock.now
            let output = try await run(
                ["sh", "-c", "trap '' TERM; sleep 100 & echo $! > '\(pidFile)'; wait"],
                timeout: .milliseconds(200),
                killGrace: .milliseconds(300)
            )
            let elapsed = ContinuousClock.now - start
            #expect(output.reason == .timedOut)
            #expect(output.signal == SIGKILL)
            #expect(elapsed >= .milliseconds(500))  // timeout + grace
            #expect(elapsed < .seconds(3))
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually { !isRunning(child) }, "the sleep ignoring SIGTERM survived SIGKILL")
        }
    }

    @Test func outputWrittenBeforeTheTimeoutIsKept() async throws {
        let output = try await run(["sh", "-c", "echo before; sleep 100"], timeout: .milliseconds(300))
        #expect(output.reason == .timedOut)
        #expect(output.stdout.text == "before\n")
    }

    // MARK: - Cancellation

    @Test func cancellationStopsTheProcessGroup() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = directory.file("child.pid")
            let cancellation = ProcessCancellation()
            let start = ContinuousClock.now
            async let running = run(
                ["sh", "-c", "sleep 100 & echo $! > '\(pidFile)'; wait"],
                timeout: .seconds(60),
                cancellation: cancellation
            )
            #expect(await eventually { FileManager.default.fileExists(atPath: pidFile) && ((try? String(contentsOfFile: pidFile, encoding: .utf8))?.hasSuffix("\n") ?? false) })
            cancellation.cancel()
            let output = try await running
            #expect(output.reason == .cancelled)
            #expect(output.signal == SIGTERM)
            #expect(output.failureMessage == "cancelled (killed by signal 15 (SIGTERM))")
            #expect(ContinuousClock.now - start < .seconds(10))
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually { !isRunning(child) })
        }
    }

    @Test func cancellationEscalatesToSIGKILLAfterTheGrace() async throws {
        try await withTemporaryDirectory { directory in
            let readyFile = directory.file("ready")
            let cancellation = ProcessCancellation()
            async let running = run(
                ["sh", "-c", "trap '' TERM; touch '\(readyFile)'; sleep 100"],
                timeout: .seconds(60),
                killGrace: .milliseconds(300),
                cancellation: cancellation
            )
            #expect(await eventually { FileManager.default.fileExists(atPath: readyFile) })
            let cancelledAt = ContinuousClock.now
            cancellation.cancel()
            let output = try await running
            let elapsed = ContinuousClock.now - cancelledAt
            #expect(output.reason == .cancelled)
            #expect(output.signal == SIGKILL)
            #expect(elapsed >= .milliseconds(300))
            #expect(elapsed < .seconds(3))
        }
    }

    @Test func cancellingTheCallingTaskStopsTheProcess() async throws {
        try await withTemporaryDirectory { directory in
            let readyFile = directory.file("ready")
            let task = Task { try await run(["sh", "-c", "touch '\(readyFile)'; sleep 100"], timeout: .seconds(60)) }
            #expect(await eventually { FileManager.default.fileExists(atPath: readyFile) })
            task.cancel()
            let output = try await task.value
            #expect(output.reason == .cancelled)
            #expect(output.signal == SIGTERM)
        }
    }

    @Test func cancelledBeforeItStartsTheProcessNeverRuns() async throws {
        try await withTemporaryDirectory { directory in
            let marker = directory.file("ran")
            let cancellation = ProcessCancellation()
            cancellation.cancel()
            let output = try await run(["sh", "-c", "touch '\(marker)'"], cancellation: cancellation)
            #expect(output.reason == .cancelled)
            #expect(output.exitCode == nil)
            #expect(output.signal == nil)
            #expect(output.failureMessage == "cancelled before it started")
            #expect(!FileManager.default.fileExists(atPath: marker))
        }
    }

    @Test func cancellingAfterTheRunEndedChangesNothing() async throws {
        let cancellation = ProcessCancellation()
        let output = try await run(["true"], cancellation: cancellation)
        cancellation.cancel()  // the run's pipe is gone: this must neither write nor raise SIGPIPE
        #expect(output.succeeded)
        #expect(cancellation.isCancelled)
    }

    // MARK: - What the process leaves behind

    @Test func aBackgroundProcessHoldingTheOutputIsStoppedWhenTheProcessExits() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = directory.file("child.pid")
            let start = ContinuousClock.now
            // The background sleep inherits stdout, so the output stays open after sh exits.
            let output = try await run(["sh", "-c", "sleep 100 & echo $! > '\(pidFile)'; echo done"])
            #expect(output.reason == .exited)
            #expect(output.exitCode == 0)
            #expect(output.stdout.text == "done\n")
            #expect(ContinuousClock.now - start < .seconds(4))  // SIGTERM ends it: no wait for the 5 s grace
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually { !isRunning(child) })
        }
    }

    @Test func aDetachedBackgroundProcessIsStoppedAfterTheResult() async throws {
        try await withTemporaryDirectory { directory in
            let pidFile = directory.file("child.pid")
            let output = try await run(["sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $! > '\(pidFile)'"])
            #expect(output.succeeded)
            let child = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(await eventually { !isRunning(child) }, "a process left in the task's group outlived it")
        }
    }

    // MARK: - Spawn failures

    @Test func aMissingProgramIsAClearError() async throws {
        let error = await #expect(throws: ProcessRunner.SpawnError.self) {
            try await run(["sidecar-no-such-program", "x"])
        }
        #expect(error?.message == "cannot run 'sidecar-no-such-program': No such file or directory")
        #expect(error?.code == ENOENT)

        let byPath = await #expect(throws: ProcessRunner.SpawnError.self) { try await run(["/nonexistent/bin/tool"]) }
        #expect(byPath?.message == "cannot run '/nonexistent/bin/tool': No such file or directory")
    }

    @Test func aMissingWorkingDirectoryIsAClearError() async throws {
        let error = await #expect(throws: ProcessRunner.SpawnError.self) {
            try await run(["true"], cwd: "/nonexistent/sidecar-dir")
        }
        #expect(error?.message == "cannot run 'true': working directory '/nonexistent/sidecar-dir' does not exist")
    }

    @Test func aFileThatIsNotExecutableIsAClearError() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory.file("plain")
            try "echo hi\n".write(toFile: file, atomically: true, encoding: .utf8)
            let error = await #expect(throws: ProcessRunner.SpawnError.self) { try await run([file]) }
            #expect(error?.message == "cannot run '\(file)': Permission denied")
        }
    }

    // MARK: - Concurrency

    @Test func twentyProcessesRunConcurrently() async throws {
        let start = ContinuousClock.now
        let outputs = try await withThrowingTaskGroup(of: (Int, ProcessOutput).self) { group in
            for index in 0..<20 {
                group.addTask { (index, try await run(["sh", "-c", "sleep 0.5; echo $0; echo e$0 >&2", "\(index)"])) }
            }
            var outputs: [Int: ProcessOutput] = [:]
            for try await (index, output) in group { outputs[index] = output }
            return outputs
        }
        #expect(outputs.count == 20)
        for (index, output) in outputs {
            #expect(output.succeeded)
            #expect(output.stdout.text == "\(index)\n")
            #expect(output.stderr.text == "e\(index)\n")
        }
        #expect(ContinuousClock.now - start < .seconds(8))  // one after another would take 10 s
    }

    // MARK: - Helpers

    private func run(
        _ argv: [String],
        env: [String: String] = [:],
        cwd: String? = nil,
        stdin: String? = nil,
        timeout: Duration = .seconds(20),
        killGrace: Duration = .seconds(5),
        outputLimit: Int = ProcessRunner.defaultOutputLimit,
        cancellation: ProcessCancellation = ProcessCancellation()
    ) async throws -> ProcessOutput {
        try await ProcessRunner.run(
            ExecPayload(argv: argv, env: env, cwd: cwd, stdin: stdin),
            timeout: timeout,
            killGrace: killGrace,
            outputLimit: outputLimit,
            cancellation: cancellation
        )
    }
}

/// Whether `pid` is a live process; a zombie waiting for a parent that never reaps counts as gone.
private func isRunning(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let afterName = stat.range(of: ") ", options: .backwards)
    else { return false }
    return !stat[afterName.upperBound...].hasPrefix("Z")
}

/// Checks `condition` every 10 ms until it holds or `timeout` seconds pass, suspending between checks.
private func eventually(timeout: Double = 5, _ condition: () -> Bool) async -> Bool {
    let deadline = Deadline(seconds: timeout)
    while !condition() {
        if deadline.hasPassed { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

// MARK: - Payload

extension ProcessRunnerTests {
    /// `{argv, env?, cwd?, stdin?}` as clients send it.
    @Suite struct Payload {
        @Test func readsEveryMember() throws {
            let json: JSONValue = ["argv": ["sh", "-c", "cat"], "env": ["LANG": "C"], "cwd": "/tmp", "stdin": "in"]
            let payload = try ExecPayload(json: json)
            #expect(payload == ExecPayload(argv: ["sh", "-c", "cat"], env: ["LANG": "C"], cwd: "/tmp", stdin: "in"))
            #expect(try ExecPayload(json: payload.jsonValue) == payload)
            #expect(payload.jsonValue == json)
        }

        @Test func optionalMembersMayBeAbsentOrNull() throws {
            let payload = try ExecPayload(json: ["argv": ["true"], "env": nil, "cwd": nil, "stdin": nil])
            #expect(payload == ExecPayload(argv: ["true"]))
            #expect(payload.jsonValue == ["argv": ["true"]])
        }

        @Test(arguments: [
            (JSONValue.string("ls"), "payload", "'payload' must be an object such as {\"argv\": [\"echo\", \"hi\"]}, got string"),
            (["env": [:]], "payload.argv", "'payload.argv' is required: the program and its arguments, such as [\"echo\", \"hi\"]"),
            (["argv": []], "payload.argv", "'payload.argv' must be a non-empty array of strings, got an empty array"),
            (["argv": "ls -l"], "payload.argv", "'payload.argv' must be a non-empty array of strings, got string"),
            (["argv": ["ls", 1]], "payload.argv[1]", "'payload.argv[1]' must be a string, got number"),
            (["argv": [""]], "payload.argv[0]", "'payload.argv[0]' must name a program, got an empty string"),
            (["argv": ["ls", "a\u{0}b"]], "payload.argv[1]", "'payload.argv[1]' must not contain a NUL character"),
            (["argv": ["ls"], "env": ["A"]], "payload.env", "'payload.env' must be an object of strings such as {\"LANG\": \"C\"}, got array"),
            (["argv": ["ls"], "env": ["DEBUG": true]], "payload.env.DEBUG", "'payload.env.DEBUG' must be a string, got boolean"),
            (["argv": ["ls"], "env": ["A=B": "c"]], "payload.env.A=B", "'payload.env.A=B' is not a valid variable name: it must be non-empty and contain neither '=' nor NUL"),
            (["argv": ["ls"], "cwd": "relative/dir"], "payload.cwd", "'payload.cwd' must be an absolute path, got \"relative/dir\""),
            (["argv": ["ls"], "cwd": 7], "payload.cwd", "'payload.cwd' must be a string, got number"),
            (["argv": ["ls"], "stdin": ["a"]], "payload.stdin", "'payload.stdin' must be a string, got array"),
            (["argv": ["ls"], "args": ["-l"]], "payload.args", "'payload.args' is not an exec payload member; use argv, env, cwd and stdin"),
        ] as [(JSONValue, String, String)])
        func anInvalidFieldIsNamed(json: JSONValue, field: String, message: String) {
            let error = #expect(throws: ExecPayloadError.self) { try ExecPayload(json: json) }
            #expect(error?.field == field)
            #expect(error?.message == message)
            #expect(error?.rpcError.code == .invalidParams)
            #expect(error?.rpcError.message == "Invalid params: \(message)")
            #expect(error?.rpcError.data == ["field": .string(field)])
        }
    }
}
