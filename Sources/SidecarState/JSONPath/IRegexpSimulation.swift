/// Runs an ``IRegexpProgram`` over a string: a Thompson NFA simulation (a Pike VM without
/// captures) that advances the set of live states one Unicode scalar at a time.
///
/// Each state enters the set at most once per scalar, so a run takes time proportional to
/// the program's size times the string's length, whatever the pattern: there is no
/// backtracking, so `(a|a)*b` or `(a*)*b` against a long run of `a`s costs what `a*b` does.
enum IRegexpSimulation {
    /// Whether `program` matches `string`: all of it when `wholeString`, else some substring.
    static func matches(_ program: IRegexpProgram, in string: String, wholeString: Bool) -> Bool {
        let instructions = program.instructions
        let classes = program.classes
        let count = instructions.count
        // One allocation holds four arrays of one slot per state: the consuming states live
        // before the scalar being read (`current`, from `currentBase`) and after it (`next`,
        // from `nextBase`), swapped at each step; `enteredAt`, the last step (scalars read)
        // at which each state entered `next`, so that it enters once per step; and `pending`,
        // the work list of the walk along empty transitions, each state pushed once per step.
        var storage = [Int](repeating: -1, count: 4 * count)
        var currentBase = 0
        var currentCount = 0
        var nextBase = count
        var nextCount = 0
        let enteredAtBase = 2 * count
        let pendingBase = 3 * count

        /// Adds `start` and the states it reaches by empty transitions to `next`; `true` when
        /// one of them is `accept` and a match may end here.
        func enter(_ start: Int, step: Int, atStart: Bool, atEnd: Bool, accepting: Bool) -> Bool {
            guard storage[enteredAtBase + start] != step else { return false }
            storage[enteredAtBase + start] = step
            storage[pendingBase] = start
            var pendingCount = 1
            while pendingCount > 0 {
                pendingCount -= 1
                let state = storage[pendingBase + pendingCount]
                // The empty transitions out of `state`, -1 for none.
                var preferred = -1
                var alternative = -1
                switch instructions[state] {
                case .scalar, .scalarClass:
                    storage[nextBase + nextCount] = state
                    nextCount += 1
                case .split(let target, let other):
                    preferred = target
                    alternative = other
                case .jump(let target):
                    preferred = target
                case .assertStart:
                    if atStart { preferred = state + 1 }
                case .assertEnd:
                    if atEnd { preferred = state + 1 }
                case .accept:
                    if accepting { return true }
                }
                // The preferred target is pushed last so that it is walked first; no result
                // depends on the order, but it keeps runs easy to trace.
                if alternative >= 0, storage[enteredAtBase + alternative] != step {
                    storage[enteredAtBase + alternative] = step
                    storage[pendingBase + pendingCount] = alternative
                    pendingCount += 1
                }
                if preferred >= 0, storage[enteredAtBase + preferred] != step {
                    storage[enteredAtBase + preferred] = step
                    storage[pendingBase + pendingCount] = preferred
                    pendingCount += 1
                }
            }
            return false
        }

        var iterator = string.unicodeScalars.makeIterator()
        var upcoming = iterator.next()
        var step = 0
        if enter(0, step: step, atStart: true, atEnd: upcoming == nil, accepting: !wholeString || upcoming == nil) {
            return true
        }
        while let scalar = upcoming {
            upcoming = iterator.next()
            step += 1
            let atEnd = upcoming == nil
            let accepting = !wholeString || atEnd
            swap(&currentBase, &nextBase)
            currentCount = nextCount
            nextCount = 0
            for index in 0..<currentCount {
                let state = storage[currentBase + index]
                let consumes: Bool
                switch instructions[state] {
                case .scalar(let expected): consumes = scalar == expected
                case .scalarClass(let set): consumes = classes[set].contains(scalar)
                case .split, .jump, .assertStart, .assertEnd, .accept: consumes = false
                }
                if consumes, enter(state + 1, step: step, atStart: false, atEnd: atEnd, accepting: accepting) {
                    return true
                }
            }
            if !wholeString {
                // A search may start a match at any scalar: a new thread from the start state.
                if enter(0, step: step, atStart: false, atEnd: atEnd, accepting: true) { return true }
            } else if nextCount == 0 {
                return false
            }
        }
        return false
    }
}
