import SidecarProtocol

/// The figures of one end-to-end run (``QueueFlowRun``).
struct FlowReport {
    var target: LoadTarget
    /// Worker (consumer) connections; 0 for sidecard's built-in pool.
    var workers: Int
    var batch: Int
    var depth: Int
    var claimMaximum: Int
    var backlog: Int
    /// Tasks of the measured phase, every one finished.
    var tasks: UInt64
    var warmupTasks: UInt64
    /// First send → last task finished.
    var seconds: Double
    /// First send → the producer stopped.
    var producingSeconds: Double
    /// The producer stopped → last task finished.
    var drainSeconds: Double
    /// sidecard's `tasks.metrics` `succeeded` grew by this much in the measured phase.
    var daemonSucceeded: Int64?
    var socket = ""

    var tasksPerSecond: Double { seconds > 0 ? Double(tasks) / seconds : 0 }

    private var mode: String {
        switch (target, workers) {
        case (.sidecar, 0): return "pool"
        case (.sidecar, _): return "workers"
        case (.redis, _): return "consumers"
        }
    }

    private var description: String {
        switch (target, workers) {
        case (.sidecar, 0):
            return "tasks.submitMany ×\(batch) of sidecar.noop, run by the daemon's built-in pool (tasks.wait on each batch's last task)"
        case (.sidecar, _):
            return "tasks.submitMany ×\(batch) of \(QueueFlowRun.workerKind), \(workers) worker connection(s): "
                + "tasks.claim max \(claimMaximum) wait 1, then tasks.complete per task"
        case (.redis, _):
            return "LPUSH ×\(batch) to a list, \(workers) consumer connection(s) with \(claimMaximum) BRPOP in flight each (not durable)"
        }
    }

    /// A few lines for a person.
    var text: String {
        """
        end to end (\(target.rawValue)) at \(socket): \(description); producer: \(depth) batch(es) open, \
        at most \(backlog) tasks unfinished
          tasks         \(tasks)   (after \(warmupTasks) in the warm-up)
          tasks/s       \(rounded(tasksPerSecond))   (first submit → last finished, \(rounded(seconds * 1000)) ms; \
        producing \(rounded(producingSeconds * 1000)) ms, then \(rounded(drainSeconds * 1000)) ms to finish the rest)
        """ + (daemonSucceeded.map { "\n  daemon        tasks.metrics: \($0) more succeeded" } ?? "")
    }

    /// One flat JSON object (every key unique, so that a shell script can pick fields out).
    var json: String {
        var object: JSONObject = [
            "mode": "end-to-end",
            "target": .string(target.rawValue),
            "consumers": .string(mode),
            "workers": .int(Int64(workers)),
            "socket": .string(socket),
            "batch": .int(Int64(batch)),
            "depth": .int(Int64(depth)),
            "claimMax": .int(Int64(claimMaximum)),
            "backlog": .int(Int64(backlog)),
            "tasks": .int(Int64(clamping: tasks)),
            "warmupTasks": .int(Int64(clamping: warmupTasks)),
            "seconds": .double((seconds * 1000).rounded() / 1000),
            "tasksPerSecond": .double(rounded(tasksPerSecond)),
            "drainSeconds": .double((drainSeconds * 1000).rounded() / 1000),
        ]
        if let daemonSucceeded { object["daemonSucceeded"] = .int(daemonSucceeded) }
        return JSONWriter.string(.object(object))
    }
}
