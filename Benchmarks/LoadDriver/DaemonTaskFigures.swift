import SidecarProtocol

/// What sidecard's `tasks.metrics` said around a submission run: the tasks it took and the
/// tasks its built-in pool ran inside the measured window (the pool runs every submitted
/// `sidecar.noop`, so a submission run also costs the runs), and how long after the run it
/// was idle again (nothing queued or running).
struct DaemonTaskFigures {
    /// Tasks the daemon counted as submitted between the two readings of the window.
    var submitted: Int64
    /// Tasks that succeeded between them.
    var succeeded: Int64
    /// Tasks that failed during the whole run, warm-up and drain included (0 expected).
    var failed: Int64
    /// The time between the two readings.
    var windowSeconds: Double
    /// From the end of the window to the first reading that found the daemon idle.
    var drainSeconds: Double

    var submittedPerSecond: Double { windowSeconds > 0 ? Double(submitted) / windowSeconds : 0 }
    var succeededPerSecond: Double { windowSeconds > 0 ? Double(succeeded) / windowSeconds : 0 }

    var text: String {
        """
          daemon        took \(submitted) tasks (\(rounded(submittedPerSecond))/s) and ran \(succeeded) (\(rounded(succeededPerSecond))/s) \
        in the window (tasks.metrics, \(rounded(windowSeconds)) s apart); idle \(rounded(drainSeconds)) s after the run; \(failed) failed
        """
    }

    var jsonMembers: JSONObject {
        [
            "daemonSubmitted": .int(submitted),
            "daemonSucceeded": .int(succeeded),
            "daemonFailed": .int(failed),
            "daemonSubmittedPerSecond": .double(rounded(submittedPerSecond)),
            "daemonSucceededPerSecond": .double(rounded(succeededPerSecond)),
            "daemonWindowSeconds": .double(rounded(windowSeconds)),
            "daemonDrainSeconds": .double((drainSeconds * 1000).rounded() / 1000),
        ]
    }
}
