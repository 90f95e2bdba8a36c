/// Where a task is in its life.
///
/// `scheduled` (waiting for its `runAt`, first run or retry) → `queued` (ready, waiting for a
/// worker) → `running` → `succeeded` | `failed` | `cancelled`; a failed attempt with retries
/// left goes back to `scheduled`.
public enum TaskStatus: String, Sendable, CaseIterable {
    case scheduled
    case queued
    case running
    case succeeded
    case failed
    case cancelled

    /// Whether the task is done for good.
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .scheduled, .queued, .running: false
        }
    }
}
