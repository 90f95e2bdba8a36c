import Foundation
import SidecarProtocol
import SidecarTestSupport
import Testing

@testable import SidecarClient

/// `client.tasks.work` against a real daemon: claims, progress, retries, heartbeats that keep a
/// task past its lease, and cancellation.
///
/// The heartbeats run in this test process, so a starved process loses its leases: `make test`
/// runs this suite on its own, after the main run (see `TIMING_TESTS` in the Makefile).
@Suite("Task worker client", .timeLimit(.minutes(2)))
struct TaskWorkerClientTests {
    @Test func workerRunsCustomKindWithProgressRetriesAndCancellation() async throws {
        try await withTestDaemon { daemon in
            try await SidecarClient.withClient(to: daemon.socketPath) { client in
                let tasks = client.tasks
                let quickRetry = TaskBackoff(base: 0.05, factor: 1, max: 0.05, jitter: false)
                let cancelledBodies = Counter()
                let worker = Task {
                    try await tasks.work(kinds: ["double", "block"], concurrency: 2, lease: .seconds(2)) { task in
                        if task.kind == "block" {
                            do {
                                try await Task.sleep(for: .seconds(60))
                            } catch {
                                await cancelledBodies.increment()
                                throw error
                            }
                            return nil
                        }
                        struct Job: Decodable { var n: Int; var fail: String? }
                        let job = try task.payload(as: Job.self)
                        try await task.progress.report(0.5, message: "halfway through \(job.n)")
                        switch job.fail {
                        case "once" where task.attempt == 1: throw TaskFailure("flaky, try again")
                        case "always": throw TaskFailure("bad input", retry: false)
                        default: break
                        }
                        if job.n == 100 {
                            // Over twice the lease: only the heartbeats keep the task this worker's.
                            try await Task.sleep(for: .milliseconds(4500))
                        }
                        return ["doubled": .int(Int64(job.n * 2))]
                    }
                }

                let plain = try await tasks.submit(kind: "double", payload: ["n": 21])
                let flaky = try await tasks.submit(kind: "double", payload: ["n": 5, "fail": "once"], backoff: quickRetry)
                let broken = try await tasks.submit(kind: "double", payload: ["n": 1, "fail": "always"], backoff: quickRetry)
                let long = try await tasks.submit(kind: "double", payload: ["n": 100], maxRetries: 0)

                let done = try await tasks.wait(plain.id, timeout: .seconds(20))
                #expect(done.status == .succeeded && done.result == ["doubled": 42] && done.attempt == 1, "\(done.errors)")
                #expect(done.progress == TaskInfo.Progress(fraction: 0.5, message: "halfway through 21"))

                let recovered = try await tasks.wait(flaky.id, timeout: .seconds(20))
                #expect(recovered.status == .succeeded && recovered.result == ["doubled": 10] && recovered.attempt == 2)
                #expect(recovered.errors.map(\.attempt) == [1] && recovered.errors.map(\.message) == ["flaky, try again"], "\(recovered.errors)")

                let failed = try await tasks.wait(broken.id, timeout: .seconds(20))
                #expect(failed.status == .failed && failed.attempt == 1 && failed.error == "bad input")

                let outlived = try await tasks.wait(long.id, timeout: .seconds(20))
                #expect(outlived.status == .succeeded && outlived.attempt == 1 && outlived.result == ["doubled": 200])

                // Cancelling a task a worker runs cancels its body (told by the next heartbeat).
                let blocked = try await tasks.submit(kind: "block", maxRetries: 0)
                try await waitUntil { try await tasks.get(blocked.id).status == .running }
                #expect(try await tasks.cancel(blocked.id).status == .cancelled)
                try await waitUntil { await cancelledBodies.value == 1 }

                // Stopping the worker cancels the bodies and gives their tasks back at once.
                let held = try await tasks.submit(kind: "block", maxRetries: 1, backoff: TaskBackoff(base: 60, jitter: false))
                try await waitUntil { try await tasks.get(held.id).status == .running }
                worker.cancel()
                try await worker.value
                #expect(await cancelledBodies.value == 2)
                // The daemon learns of the closed connection a moment after the worker returns.
                try await waitUntil { try await tasks.get(held.id).status != .running }
                let released = try await tasks.get(held.id)
                #expect(released.status == .scheduled && released.attempt == 1)
                #expect(released.errors.last?.message == "the worker's connection closed")

                let metrics = try await tasks.metrics()
                #expect(metrics.succeeded == 3 && metrics.failed == 1 && metrics.cancelled == 1 && metrics.retries == 2)
            }
        }
    }
}
