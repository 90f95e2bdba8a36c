/// How urgent a task is: a free worker takes the highest priority first.
public enum TaskPriority: String, Sendable, CaseIterable, Comparable {
    case low
    case normal
    case high
    case critical

    /// 0 for `low` … 3 for `critical`, as stored.
    public var rank: Int {
        switch self {
        case .low: 0
        case .normal: 1
        case .high: 2
        case .critical: 3
        }
    }

    public init?(rank: Int) {
        guard let priority = Self.allCases.first(where: { $0.rank == rank }) else { return nil }
        self = priority
    }

    public static func < (lhs: TaskPriority, rhs: TaskPriority) -> Bool { lhs.rank < rhs.rank }
}
