import ArgumentParser
import Dispatch
import Foundation
import SidecarClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The task commands: `sidecarctl run` (a command run by the daemon, as if run here) and
// `sidecarctl tasks …`, thin wrappers over `client.tasks` (PROTOCOL.md, "Tasks"). Results are
// printed as JSON, like `call`: indented on a terminal, one line otherwise; `tasks metrics`
// prints lines for people unless given --json.

// MARK: - run

/// `sidecarctl run [--priority P] [--timeout S] [--retries N] -- CMD ARGS…`
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command as a daemon task, wait for it, and print its output.",
        discussion: """
            Submits an exec task (the command, in the current directory), waits for it to \
            finish, then prints what it wrote to stdout on stdout and what it wrote to stderr on \
            stderr, and exits with its exit status. A run that ends without one (timed out, \
            killed by a signal, or the program could not be started) exits 1 with the reason on \
            stderr. The command runs in its own process group with the daemon's environment plus \
            any --env; Ctrl-C cancels the task (its process group is stopped) and exits 130.

            Here --timeout is how long the command may run (default 300 seconds); the connection \
            itself waits up to 5 seconds. Exit status 2 means no connection could be made, 64 an \
            invalid command line.

            Examples:
              sidecarctl run -- make -C docs
              sidecarctl run --priority high --timeout 60 -- sh -c 'du -sh ~/.cache'
              sidecarctl run --retries 2 -- curl -fsS https://example.org/health
            """
    )

    @OptionGroup var connection: TaskConnectionOptions
    @OptionGroup var task: ExecTaskOptions

    @Option(name: .long, help: ArgumentHelp("How long the command may run, in seconds (default 300).", valueName: "seconds"))
    var timeout: Double?

    @Option(
        name: .long,
        help: ArgumentHelp("Run a command that failed again up to this many times, with backoff (default 0).", valueName: "n"))
    var retries: Int = 0

    @Argument(parsing: .remaining, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else {
            throw ValidationError("Give the command to run after --: sidecarctl run -- make -C docs")
        }
        try validateTaskTimeout(timeout, name: "--timeout")
        try validateRetries(retries)
        _ = try task.request(argv: command, timeout: timeout, maxRetries: retries)
    }

    func run() async throws {
        let request = try task.request(argv: command, timeout: timeout, maxRetries: retries)
        let final = try await connection.withClient { client -> TaskInfo in
            let (id, _) = try await client.tasks.submit(
                kind: request.kind, payload: request.payload, priority: request.priority,
                maxRetries: request.maxRetries, timeout: request.timeout)
            return try await waitCancellingOnSignal(client: client, id: id)
        }
        try Self.finish(final)
    }

    /// Waits for task `id`; SIGINT or SIGTERM cancels it and exits 128 + the signal.
    private func waitCancellingOnSignal(client: SidecarClient, id: String) async throws -> TaskInfo {
        let signals = SignalStream(SIGINT, SIGTERM)
        defer { signals.stop() }
        let task = try await withThrowingTaskGroup(of: TaskInfo?.self) { group in
            group.addTask { try await waitForTask(id, client: client, limit: nil) }
            group.addTask {
                // The wait above then returns the cancelled task.
                if await signals.next != nil { _ = try? await client.tasks.cancel(id) }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let task = result { return task }
            }
            throw CancellationError()
        }
        if let signal = signals.received {
            Output.printError("sidecarctl: interrupted; task \(id) is \(task.status.rawValue)")
            throw ExitCode(128 + signal)
        }
        return task
    }

    /// Prints the run's output and ends with its status.
    static func finish(_ task: TaskInfo) throws {
        let result = task.result
        if let stdout = result?["stdout"]?.stringValue { FileHandle.standardOutput.write(Data(stdout.utf8)) }
        if let stderr = result?["stderr"]?.stringValue { FileHandle.standardError.write(Data(stderr.utf8)) }
        for stream in ["stdout", "stderr"] where result?["truncated"]?[stream]?.boolValue == true {
            Output.printError("sidecarctl: the task's \(stream) was longer than the daemon keeps; the end is cut")
        }
        switch task.status {
        case .succeeded:
            return
        case .failed:
            if let exitCode = task.exitCode {
                throw ExitCode(Int32(clamping: exitCode))
            }
            Output.printError("sidecarctl: task \(task.id) failed: \(task.error ?? "no reason given")")
            throw ExitCode.failure
        default:
            Output.printError("sidecarctl: task \(task.id) was \(task.status.rawValue)")
            throw ExitCode.failure
        }
    }
}

// MARK: - tasks

/// `sidecarctl tasks …`
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks",
        abstract: "Submit, follow, cancel and schedule the daemon's durable tasks.",
        discussion: """
            Options such as --socket and --timeout go after the subcommand: \
            `sidecarctl tasks list --socket PATH`.

            Examples:
              sidecarctl tasks submit exec --payload '{"argv": ["make", "-C", "docs"]}'
              sidecarctl tasks list --status failed
              sidecarctl tasks wait t0192f3a4b5c60001
              sidecarctl tasks watch --kind render-page
              sidecarctl tasks schedule cleanup --every 1h -- find /tmp/scratch -mtime +7 -delete
              sidecarctl tasks metrics
            """,
        subcommands: [
            TasksSubmitCommand.self, TasksGetCommand.self, TasksListCommand.self, TasksCancelCommand.self,
            TasksRetryCommand.self, TasksWaitCommand.self, TasksWatchCommand.self, TasksMetricsCommand.self, TasksScheduleCommand.self,
            TasksSchedulesCommand.self, TasksUnscheduleCommand.self,
        ]
    )
}

/// `sidecarctl tasks submit KIND [--payload JSON] …`
struct TasksSubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a task.",
        discussion: """
            Calls tasks.submit and prints {"id": ID, "created": BOOL} once the task is stored. \
            KIND is exec (payload {"argv", "env"?, "cwd"?, "stdin"?}), sidecar.noop, or a kind \
            that your workers claim. With --idempotency-key, submitting again while the first \
            task is unfinished prints its id with "created": false.

            Examples:
              sidecarctl tasks submit exec --payload '{"argv": ["make", "-C", "docs"], "cwd": "/home/me/site"}'
              sidecarctl tasks submit render-page --payload '{"page": 3}' --priority high --delay 5m
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("exec, sidecar.noop, or a kind your workers claim.", valueName: "kind"))
    var kind: String

    @Option(name: .long, help: ArgumentHelp("The payload, as JSON; - reads it from standard input.", valueName: "json"))
    var payload: String?

    @Option(name: .long, help: ArgumentHelp("low, normal (the default), high or critical.", valueName: "priority"))
    var priority: String?

    @Option(name: .long, help: ArgumentHelp("Runs allowed after the first failure, 0 to 1000 (default 3).", valueName: "n"))
    var retries: Int?

    @Option(
        name: .customLong("task-timeout"),
        help: ArgumentHelp("How long one run may take: seconds, or 90s, 5m, 2h (default 300 s).", valueName: "duration"))
    var taskTimeout: String?

    @Option(name: .long, help: ArgumentHelp("Retry delays as JSON: {\"base\", \"factor\", \"max\", \"jitter\"}.", valueName: "json"))
    var backoff: String?

    @Option(name: .long, help: ArgumentHelp("Run no sooner than this from now: seconds, or 30s, 5m, 2h, 1d.", valueName: "duration"))
    var delay: String?

    @Option(name: .customLong("run-at"), help: ArgumentHelp("Run no sooner than this RFC 3339 time.", valueName: "time"))
    var runAt: String?

    @Option(
        name: .customLong("idempotency-key"),
        help: ArgumentHelp("While a task with this key is unfinished, return it instead of a new one.", valueName: "key"))
    var idempotencyKey: String?

    func validate() throws { _ = try params() }

    func run() async throws {
        let params = try params()
        let result = try await global.withClient { client in
            try await client.call("tasks.submit", params: params)
        }
        Output.printJSON(result)
    }

    /// The `tasks.submit` params; the daemon checks the rest (an invalid payload is its `-32602`).
    private func params() throws -> JSONValue {
        var object: JSONObject = ["kind": .string(kind)]
        if let payload { object["payload"] = try JSONArgument.parse(payload, name: "--payload") }
        if let priority { object["priority"] = .string(try parsePriority(priority).rawValue) }
        if let retries {
            try validateRetries(retries)
            object["maxRetries"] = .int(Int64(retries))
        }
        if let taskTimeout { object["timeout"] = jsonSeconds(try parseDuration(taskTimeout, name: "--task-timeout", minimum: 0.001)) }
        if let backoff { object["backoff"] = try JSONArgument.parse(backoff, name: "--backoff") }
        if delay != nil, runAt != nil { throw ValidationError("Give --delay or --run-at, not both.") }
        if let delay { object["delay"] = jsonSeconds(try parseDuration(delay, name: "--delay", minimum: 0)) }
        if let runAt { object["runAt"] = .string(runAt) }
        if let idempotencyKey { object["idempotencyKey"] = .string(idempotencyKey) }
        return .object(object)
    }
}

/// `sidecarctl tasks get ID`
struct TasksGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print a task.",
        discussion: """
            Calls tasks.get and prints the task as JSON: its status, attempt, progress, result \
            and errors. An unknown id (or a purged task) is error -32004, exit status 1.

            Example:
              sidecarctl tasks get t0192f3a4b5c60001
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The task's id.", valueName: "id"))
    var id: String

    func run() async throws {
        let task = try await global.withClient { client in
            try await client.call("tasks.get", params: ["id": .string(id)])
        }
        Output.printJSON(task)
    }
}

/// `sidecarctl tasks list [--status S] [--kind K] [--priority P] [--limit N] [--after ID]`
struct TasksListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List tasks, oldest first, a page at a time.",
        discussion: """
            Calls tasks.list and prints {"tasks": [...], "next": ID or null}. Pass next as \
            --after to get the following page; it is null after the last page.

            Examples:
              sidecarctl tasks list --status failed
              sidecarctl tasks list --kind exec --limit 20 --after t0192f3a4b5c60013
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("scheduled, queued, running, succeeded, failed or cancelled.", valueName: "status"))
    var status: String?

    @Option(name: .long, help: ArgumentHelp("Only tasks of this kind.", valueName: "kind"))
    var kind: String?

    @Option(name: .long, help: ArgumentHelp("low, normal, high or critical.", valueName: "priority"))
    var priority: String?

    @Option(name: .long, help: ArgumentHelp("The most tasks to list (1 to 1000).", valueName: "n"))
    var limit: Int = 100

    @Option(name: .long, help: ArgumentHelp("Only tasks after this id: the previous page's next.", valueName: "id"))
    var after: String?

    func validate() throws {
        guard (1...1000).contains(limit) else {
            throw ValidationError("--limit must be between 1 and 1000, got \(limit).")
        }
        if let status, TaskInfo.Status(rawValue: status) == nil {
            throw ValidationError(
                "--status must be one of \(TaskInfo.Status.allCases.map(\.rawValue).joined(separator: ", ")), got '\(status)'.")
        }
        if let priority { _ = try parsePriority(priority) }
    }

    func run() async throws {
        var params: JSONObject = ["limit": .int(Int64(limit))]
        if let status { params["status"] = .string(status) }
        if let kind { params["kind"] = .string(kind) }
        if let priority { params["priority"] = .string(priority) }
        if let after { params["after"] = .string(after) }
        let page = try await global.withClient { client in
            try await client.call("tasks.list", params: .object(params))
        }
        Output.printJSON(page)
    }
}

/// `sidecarctl tasks cancel ID`
struct TasksCancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a task.",
        discussion: """
            Calls tasks.cancel and prints the cancelled task. A running exec task is cancelled \
            once its process group has stopped (SIGTERM, then SIGKILL after the daemon's \
            --kill-grace). A task that already finished is error -32005, exit status 1.

            Example:
              sidecarctl tasks cancel t0192f3a4b5c60001
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The task's id.", valueName: "id"))
    var id: String

    func run() async throws {
        let task = try await global.withClient { client in
            // Stopping a process takes up to the daemon's kill grace: allow for it.
            try await client.call("tasks.cancel", params: ["id": .string(id)], timeout: global.timeoutDuration + .seconds(60))
        }
        Output.printJSON(task)
    }
}

/// `sidecarctl tasks retry ID`
struct TasksRetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a failed task again.",
        discussion: """
            Calls tasks.retry and prints the task, queued again with its retries renewed. A \
            task that is not failed is error -32005, exit status 1.

            Example:
              sidecarctl tasks retry t0192f3a4b5c60001
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The task's id.", valueName: "id"))
    var id: String

    func run() async throws {
        let task = try await global.withClient { client in
            try await client.call("tasks.retry", params: ["id": .string(id)])
        }
        Output.printJSON(task)
    }
}

/// `sidecarctl tasks wait ID [--timeout S]`
struct TasksWaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a task to finish, then print it.",
        discussion: """
            Waits until the task succeeds, fails for good or is cancelled, and prints it as \
            JSON. When stderr is a terminal, a progress bar there follows the progress its \
            worker reports. Exit status 0 when the task succeeded, 1 when it failed or was \
            cancelled (the task is still printed), or when --timeout passed first (error \
            -32003; the task goes on).

            Here --timeout is how long to wait for the task (default: as long as it takes).

            Example:
              sidecarctl tasks wait t0192f3a4b5c60001 --timeout 600
            """
    )

    @OptionGroup var connection: TaskConnectionOptions

    @Argument(help: ArgumentHelp("The task's id.", valueName: "id"))
    var id: String

    @Option(name: .long, help: ArgumentHelp("How long to wait for the task, in seconds (default: no limit).", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout.isFinite && timeout > 0) {
            throw ValidationError("--timeout must be a positive number of seconds, got \(timeout).")
        }
    }

    func run() async throws {
        let limit = timeout.map { Duration.milliseconds(Int64(($0 * 1000).rounded(.up))) }
        let showProgress = isatty(STDERR_FILENO) != 0
        let (task, raw) = try await connection.withClient { client -> (TaskInfo, JSONValue) in
            let final = showProgress
                ? try await waitShowingProgress(client: client, limit: limit)
                : try await waitForTask(id, client: client, limit: limit)
            return (final, try await client.call("tasks.get", params: ["id": .string(id)]))
        }
        Output.printJSON(raw)
        if task.status != .succeeded { throw ExitCode.failure }
    }

    /// Waits while drawing the task's progress on stderr as the task changes.
    private func waitShowingProgress(client: SidecarClient, limit: Duration?) async throws -> TaskInfo {
        let id = self.id
        let bar = ProgressBar()
        defer { bar.clear() }
        return try await withThrowingTaskGroup(of: TaskInfo?.self) { group in
            group.addTask { try await waitForTask(id, client: client, limit: limit) }
            group.addTask {
                for try await task in client.tasks.watch(id: id) { bar.draw(task) }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let task = result { return task }
            }
            throw CancellationError()
        }
    }
}

/// `sidecarctl tasks watch [ID] [--kind KIND]`
struct TasksWatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print tasks as they change, one JSON line each.",
        discussion: """
            Subscribes with tasks.subscribe and prints the task after each change of status \
            or progress, as compact JSON, one line each, flushed at once (so it pipes into \
            `jq --unbuffered`). With ID, it prints the task as it is now first and exits once \
            the task reaches a final status: exit status 0 when it succeeded, 1 when it failed \
            or was cancelled; an unknown ID is error -32004. With --kind, it prints the tasks \
            of that kind that change; with neither, every task; both run until interrupted \
            (Ctrl-C, SIGTERM). If the daemon goes away, the error is printed and the exit \
            status is 1.

            Examples:
              sidecarctl tasks watch t0192f3a4b5c60001
              sidecarctl tasks watch --kind render-page | jq --unbuffered -c '{id, status, progress}'
            """
    )

    @OptionGroup var connection: TaskConnectionOptions

    @Argument(help: ArgumentHelp("Only this task; exit once it is finished.", valueName: "id"))
    var id: String?

    @Option(name: .long, help: ArgumentHelp("Only tasks of this kind.", valueName: "kind"))
    var kind: String?

    func validate() throws {
        if id?.isEmpty == true { throw ValidationError("the task id must not be empty.") }
        if kind?.isEmpty == true { throw ValidationError("--kind must not be empty.") }
    }

    func run() async throws {
        let id = self.id
        let last = try await connection.withClient { client -> TaskInfo? in
            var last: TaskInfo?
            for try await task in client.tasks.watch(id: id, kind: kind) {
                FileHandle.standardOutput.write(Data((JSONWriter.string(task.json) + "\n").utf8))
                last = task
            }
            return last
        }
        if id != nil, last?.status != .succeeded { throw ExitCode.failure }
    }
}

/// `sidecarctl tasks metrics`
struct TasksMetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Show what the task scheduler has run, what runs and waits now, and how long it took.",
        discussion: """
            Calls tasks.metrics and prints the tasks submitted, succeeded, failed and cancelled \
            since the daemon started, the retries and the success rate; the tasks running, \
            waiting for their time (scheduled) and ready (queued, by priority) now; and run \
            durations and queue latencies (the time from ready to started). With --json, prints \
            the raw tasks.metrics result instead.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print the raw tasks.metrics result as JSON.")
    var json = false

    func run() async throws {
        if json {
            let raw = try await global.withClient { client in
                try await client.call("tasks.metrics")
            }
            Output.printJSON(raw)
            return
        }
        let metrics = try await global.withClient { client in
            try await client.tasks.metrics()
        }
        for line in Self.lines(metrics) {
            print(line)
        }
    }

    /// The report: one heading per part, then `  name: value` lines, values aligned.
    static func lines(_ metrics: TaskMetrics) -> [String] {
        let queued = metrics.queued
        let sections: [(String, [(String, String)])] = [
            ("since start", [
                ("submitted", String(metrics.submitted)),
                ("succeeded", String(metrics.succeeded)),
                ("failed", String(metrics.failed)),
                ("cancelled", String(metrics.cancelled)),
                ("retries", String(metrics.retries)),
                ("success rate", CacheStatsCommand.percentage(metrics.successRate)),
            ]),
            ("now", [
                ("running", String(metrics.running)),
                ("scheduled", String(metrics.scheduled)),
                ("queued", "\(queued.total) (critical \(queued.critical), high \(queued.high), normal \(queued.normal), low \(queued.low))"),
            ]),
            ("run duration", [
                ("avg", milliseconds(metrics.durationMs.avg)),
                ("p50", milliseconds(metrics.durationMs.p50)),
                ("p99", milliseconds(metrics.durationMs.p99)),
            ]),
            ("queue latency", [
                ("p50", milliseconds(metrics.queueLatencyMs.p50)),
                ("p99", milliseconds(metrics.queueLatencyMs.p99)),
            ]),
        ]
        return Output.report(sections)
    }

    /// `12 ms`, `12.5 ms`, `3.25 s`; `-` before there is anything to measure.
    static func milliseconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        if value >= 1000 {
            let hundredths = Int((value / 10).rounded())
            return "\(hundredths / 100).\(String(format: "%02d", hundredths % 100)) s"
        }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10) ms" : "\(tenths / 10).\(tenths % 10) ms"
    }
}

/// `sidecarctl tasks schedule NAME (--every D | --cron EXPR | --at TIME) [--overlap allow] -- CMD…`
struct TasksScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Run a command on a schedule, as exec tasks.",
        discussion: """
            Calls tasks.schedule and prints the schedule, with its next run. The command runs \
            in the current directory. Scheduling an existing NAME replaces that schedule. After \
            the daemon was down, a schedule runs once to catch up, not once per missed time. \
            By default a run is skipped while the previous one is unfinished; --overlap allow \
            runs it anyway.

            --every takes seconds or a duration such as 30s, 5m, 2h, 1d, 1h30m (at least 1 s); \
            --cron 5 fields in the daemon's local time (minute hour day-of-month month \
            day-of-week); --at an RFC 3339 time, for one run.

            Examples:
              sidecarctl tasks schedule cleanup --every 1h -- find /tmp/scratch -mtime +7 -delete
              sidecarctl tasks schedule backup --cron '0 3 * * *' -- restic backup /home
              sidecarctl tasks schedule reminder --at 2026-11-25T14:30:00Z -- notify-send 'Stand-up'
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var task: ExecTaskOptions

    @Argument(help: ArgumentHelp("The schedule's name.", valueName: "name"))
    var name: String

    @Option(name: .long, help: ArgumentHelp("Run every DURATION: seconds, or 30s, 5m, 2h, 1d.", valueName: "duration"))
    var every: String?

    @Option(name: .long, help: ArgumentHelp("Run on a 5-field cron expression (local time).", valueName: "expr"))
    var cron: String?

    @Option(name: .long, help: ArgumentHelp("Run once, at this RFC 3339 time.", valueName: "time"))
    var at: String?

    @Option(name: .long, help: ArgumentHelp("skip (the default): no run while the previous one is unfinished; allow.", valueName: "mode"))
    var overlap: String = "skip"

    @Option(
        name: .customLong("task-timeout"),
        help: ArgumentHelp("How long one run may take: seconds, or 90s, 5m, 2h (default 300 s).", valueName: "duration"))
    var taskTimeout: String?

    @Option(name: .long, help: ArgumentHelp("Runs allowed after a run fails (default 0).", valueName: "n"))
    var retries: Int = 0

    @Flag(name: .customLong("run-now"), help: "Also run the command once now.")
    var runNow = false

    @Argument(parsing: .remaining, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws { _ = try params() }

    func run() async throws {
        let params = try params()
        let schedule = try await global.withClient { client in
            try await client.call("tasks.schedule", params: params)
        }
        Output.printJSON(schedule)
    }

    private func params() throws -> JSONValue {
        guard !command.isEmpty else {
            throw ValidationError("Give the command to run after --: sidecarctl tasks schedule NAME --every 1h -- CMD ARGS…")
        }
        let triggers = [every, cron, at].compactMap { $0 }
        guard triggers.count == 1 else {
            throw ValidationError("Give exactly one of --every, --cron and --at.")
        }
        guard ["skip", "allow"].contains(overlap) else {
            throw ValidationError("--overlap must be skip or allow, got '\(overlap)'.")
        }
        try validateRetries(retries)
        let timeout = try taskTimeout.map { try parseDuration($0, name: "--task-timeout", minimum: 0.001) }
        let request = try task.request(argv: command, timeout: timeout, maxRetries: retries)
        var object: JSONObject = ["name": .string(name), "task": request.jsonValue]
        if let every { object["every"] = jsonSeconds(try parseDuration(every, name: "--every", minimum: 1)) }
        if let cron { object["cron"] = .string(cron) }
        if let at { object["at"] = .string(at) }
        object["overlap"] = .string(overlap)
        if runNow { object["runImmediately"] = true }
        return .object(object)
    }
}

/// `sidecarctl tasks schedules`
struct TasksSchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "List the schedules.",
        discussion: """
            Calls tasks.schedules and prints the schedules as a JSON array, by name: each with \
            its task, its every, cron or at, overlap, nextRunAt (null when it will not run \
            again), lastRunAt and lastTaskId.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let result = try await global.withClient { client in
            try await client.call("tasks.schedules")
        }
        Output.printJSON(result["schedules"] ?? .array([]))
    }
}

/// `sidecarctl tasks unschedule NAME`
struct TasksUnscheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unschedule",
        abstract: "Remove a schedule.",
        discussion: """
            Calls tasks.unschedule and prints {"unscheduled": true}; tasks the schedule already \
            submitted go on. An unknown name is error -32004, exit status 1.

            Example:
              sidecarctl tasks unschedule cleanup
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The schedule's name.", valueName: "name"))
    var name: String

    func run() async throws {
        let result = try await global.withClient { client in
            try await client.call("tasks.unschedule", params: ["name": .string(name)])
        }
        Output.printJSON(result)
    }
}

// MARK: - Shared options

/// The connection options of the commands whose --timeout is about the task (`run`,
/// `tasks wait`): the socket; calls wait up to 5 seconds for their replies.
struct TaskConnectionOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The daemon's socket (default: $SIDECAR_SOCKET, else $XDG_RUNTIME_DIR/sidecar/sidecar.sock).",
            valueName: "path"
        )
    )
    var socket: String?

    /// How long a call waits for the connection and its reply (a wait adds its own time).
    static let callTimeout = 5.0

    func validate() throws {
        if let socket, socket.isEmpty {
            throw ValidationError("--socket must not be empty.")
        }
    }

    /// Connects, runs `body`, closes; failures become a message on stderr and an exit status.
    func withClient<T>(_ body: (SidecarClient) async throws -> T) async throws -> T {
        let timeout = Duration.milliseconds(Int64(Self.callTimeout * 1000))
        let configuration = SidecarClient.Configuration(defaultTimeout: timeout, connectTimeout: timeout, reconnect: .disabled)
        do {
            return try await SidecarClient.withClient(to: socket, configuration: configuration, body)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw Output.fail(error, timeout: Self.callTimeout)
        }
    }
}

/// What the exec commands (`run`, `tasks schedule`) share: the priority and the environment.
struct ExecTaskOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("low, normal (the default), high or critical.", valueName: "priority"))
    var priority: String?

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp("Set a variable for the command, on top of the daemon's environment (repeatable).", valueName: "name=value"))
    var environment: [String] = []

    /// The exec task: `argv` run in the current directory, with `--env` and `--priority`.
    func request(argv: [String], timeout: Double?, maxRetries: Int) throws -> TaskRequest {
        var payload: JSONObject = ["argv": .array(argv.map(JSONValue.string))]
        if !environment.isEmpty {
            var variables: JSONObject = [:]
            for assignment in environment {
                guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                    throw ValidationError("--env must be NAME=VALUE, got '\(assignment)'.")
                }
                variables[String(assignment[..<equals])] = .string(String(assignment[assignment.index(after: equals)...]))
            }
            payload["env"] = .object(variables)
        }
        let directory = FileManager.default.currentDirectoryPath
        if directory.hasPrefix("/") { payload["cwd"] = .string(directory) }
        return TaskRequest(
            kind: "exec",
            payload: .object(payload),
            priority: try priority.map(parsePriority),
            maxRetries: maxRetries,
            timeout: timeout.map { .milliseconds(Int64(($0 * 1000).rounded())) })
    }
}

// MARK: - Waiting

/// Waits for task `id` to finish, in `tasks.wait` calls of at most a minute, up to `limit`.
/// - Throws: the `-32003` of the last call when `limit` passes first.
private func waitForTask(_ id: String, client: SidecarClient, limit: Duration?) async throws -> TaskInfo {
    let deadline = limit.map { ContinuousClock.now + $0 }
    while true {
        var chunk = Duration.seconds(60)
        if let deadline { chunk = min(chunk, max(deadline - ContinuousClock.now, .milliseconds(1))) }
        do {
            return try await client.tasks.wait(id, timeout: chunk)
        } catch SidecarClientError.rpc(let error) where error.code == .timedOut {
            if let deadline, ContinuousClock.now >= deadline { throw SidecarClientError.rpc(error) }
        }
    }
}

/// SIGINT and SIGTERM as values, instead of ending the process: `run` cancels its task first.
private final class SignalStream: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>
    private let lock = NSLock()
    private var first: Int32?

    init(_ signals: Int32...) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        self.stream = stream
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for (number, source) in zip(signals, sources) {
            source.setEventHandler { [weak self] in
                self?.lock.withLock { if self?.first == nil { self?.first = number } }
                continuation.yield(number)
            }
            source.resume()
        }
    }

    /// The first signal received so far, if any.
    var received: Int32? { lock.withLock { first } }

    /// The first signal to come; `nil` when the waiting task is cancelled.
    var next: Int32? {
        get async {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
    }

    func stop() {
        for source in sources { source.cancel() }
    }
}

/// One line on stderr: `[#########-----------]  45%  message`, redrawn in place.
private final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var drawn = false

    func draw(_ task: TaskInfo) {
        let width = Self.terminalWidth()
        var line: String
        if let fraction = task.progress?.fraction {
            let clamped = min(1, max(0, fraction))
            let cells = 24
            let filled = Int((clamped * Double(cells)).rounded(.down))
            line = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "] "
            let percent = String(Int((clamped * 100).rounded(.down)))
            line += String(repeating: " ", count: max(0, 3 - percent.count)) + percent + "%"
        } else {
            line = task.status.rawValue
        }
        if let message = task.progress?.message, !message.isEmpty { line += "  " + message }
        if line.count > width - 1 { line = String(line.prefix(max(1, width - 2))) + "…" }
        lock.withLock {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            drawn = true
        }
    }

    func clear() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            drawn = false
        }
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

// MARK: - Parsing

private func parsePriority(_ text: String) throws -> TaskInfo.Priority {
    guard let priority = TaskInfo.Priority(rawValue: text) else {
        throw ValidationError("--priority must be low, normal, high or critical, got '\(text)'.")
    }
    return priority
}

private func validateRetries(_ retries: Int) throws {
    guard (0...1000).contains(retries) else {
        throw ValidationError("--retries must be between 0 and 1000, got \(retries).")
    }
}

private func validateTaskTimeout(_ seconds: Double?, name: String) throws {
    guard let seconds else { return }
    guard seconds.isFinite, seconds > 0, seconds <= 604_800 else {
        throw ValidationError("\(name) must be a number of seconds above 0 and at most 604800, got \(seconds).")
    }
}

/// Seconds as JSON: an integer when whole.
private func jsonSeconds(_ seconds: Double) -> JSONValue {
    if let whole = Int64(exactly: seconds) { return .int(whole) }
    return .double(seconds)
}

/// Parses `90`, `1.5`, `30s`, `5m`, `2h`, `1d`, `1h30m` into seconds.
/// - Throws: a `ValidationError` naming `name` when the text is none of those, or below `minimum`.
func parseDuration(_ text: String, name: String, minimum: Double) throws -> Double {
    guard let seconds = durationSeconds(text), seconds.isFinite, seconds >= minimum else {
        throw ValidationError(
            "\(name) must be a duration of at least \(Output.formatSeconds(minimum)) s: seconds (90), or a number with a unit "
                + "s, m, h or d (30s, 5m, 2h, 1d, 1h30m); got '\(text)'.")
    }
    return seconds
}

/// `nil` when `text` is not a duration.
func durationSeconds(_ text: String) -> Double? {
    if let plain = Double(text) { return plain }
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
    var total = 0.0
    var number = ""
    var sawUnit = false
    for character in text {
        if character.isNumber || character == "." {
            number.append(character)
        } else if let unit = units[character], let value = Double(number) {
            total += value * unit
            number = ""
            sawUnit = true
        } else {
            return nil
        }
    }
    return number.isEmpty && sawUnit ? total : nil
}
