/// A compiled I-Regexp: the instructions of a Thompson NFA, run by ``IRegexpSimulation``.
///
/// Each instruction is a state; `split` and `jump` are its empty transitions and the
/// consuming instructions its transitions on one scalar. A repetition `x{n,m}` is unrolled
/// into copies of `x`, which is why ``IRegexp`` bounds the size of a program before compiling
/// it (see ``size(of:limit:)``). The program is immutable once built, so one compiled
/// pattern serves any number of concurrent matches.
struct IRegexpProgram: Sendable {
    /// One state of the automaton. Plain values only, so reading one costs no reference counting.
    enum Instruction: Sendable {
        /// Consume this scalar, then go on to the next instruction.
        case scalar(Unicode.Scalar)
        /// Consume a member of `classes[index]`, then go on.
        case scalarClass(Int)
        /// Go on at both targets.
        case split(Int, Int)
        /// Go on at the target.
        case jump(Int)
        /// Go on only at the start of the string.
        case assertStart
        /// Go on only at the end of the string.
        case assertEnd
        /// The pattern has matched.
        case accept
    }

    /// The states; the first is the start, and the last is the only `accept`.
    let instructions: [Instruction]
    /// The sets that `scalarClass` instructions refer to; copies of a repeated class share one.
    let classes: [IRegexpScalarClass]

    /// Compiles `node`; its size is ``size(of:limit:)`` of it.
    init(compiling node: IRegexpNode) {
        var compiler = Compiler()
        compiler.emit(node)
        compiler.instructions.append(.accept)
        instructions = compiler.instructions
        classes = compiler.classes
    }

    /// How many instructions `node` compiles to, accept included; any number above `limit`
    /// is reported as `limit + 1`, so that nested repetitions cannot overflow the count.
    static func size(of node: IRegexpNode, limit: Int) -> Int {
        func fragment(_ node: IRegexpNode) -> Int {
            let size: Int
            switch node {
            case .literal, .scalarClass, .startOfString, .endOfString:
                size = 1
            case .sequence(let nodes):
                size = nodes.reduce(0) { min($0 + fragment($1), limit + 1) }
            case .alternation(let branches):
                size = branches.reduce(2 * (branches.count - 1)) { min($0 + fragment($1), limit + 1) }
            case .repetition(let body, let minimum, let maximum?):
                let body = fragment(body)
                size = minimum * body + (maximum - minimum) * (body + 1)
            case .repetition(let body, let minimum, nil):
                let body = fragment(body)
                size = minimum == 0 ? body + 2 : minimum * body + 1
            }
            // Each factor is at most `maximumRepetition + 1` and each body `limit + 1`, so no
            // product above has overflowed before this clamp.
            return min(size, limit + 1)
        }
        return min(fragment(node) + 1, limit + 1)
    }
}

// MARK: - Compilation

/// Thompson's construction, writing each fragment in place and patching jumps once their
/// targets are known. A fragment's jumps all land inside it or just past its end, so a copy of
/// a fragment is its instructions shifted by the distance moved.
private struct Compiler {
    var instructions: [IRegexpProgram.Instruction] = []
    var classes: [IRegexpScalarClass] = []

    private var here: Int { instructions.count }

    mutating func emit(_ node: IRegexpNode) {
        switch node {
        case .literal(let scalar):
            instructions.append(.scalar(scalar))
        case .scalarClass(let scalarClass):
            classes.append(scalarClass)
            instructions.append(.scalarClass(classes.count - 1))
        case .startOfString:
            instructions.append(.assertStart)
        case .endOfString:
            instructions.append(.assertEnd)
        case .sequence(let nodes):
            for node in nodes { emit(node) }
        case .alternation(let branches):
            emitAlternation(branches)
        case .repetition(let body, let minimum, let maximum):
            emitRepetition(body, minimum: minimum, maximum: maximum)
        }
    }

    /// `a|b|c`: `split(a, next)`, a, `jump(end)`, `split(b, next)`, b, `jump(end)`, c.
    private mutating func emitAlternation(_ branches: [IRegexpNode]) {
        var jumpsToEnd: [Int] = []
        for branch in branches.dropLast() {
            let split = placeholder()
            emit(branch)
            jumpsToEnd.append(placeholder())
            instructions[split] = .split(split + 1, here)
        }
        if let last = branches.last { emit(last) }
        for jump in jumpsToEnd { instructions[jump] = .jump(here) }
    }

    /// `x{n,m}` as n copies of x and then m-n nested optional ones (`x?` inside the previous
    /// optional copy, so that threads stay in step); `x{n,}` as n-1 copies and `x+`; `x*` as
    /// a loop. The body is compiled once and copied.
    private mutating func emitRepetition(_ body: IRegexpNode, minimum: Int, maximum: Int?) {
        var template: Range<Int>?
        let required = maximum == nil && minimum > 0 ? minimum - 1 : minimum
        for _ in 0..<required { emitBody(body, template: &template) }
        switch maximum {
        case nil where minimum == 0:
            let split = placeholder()
            emitBody(body, template: &template)
            instructions.append(.jump(split))
            instructions[split] = .split(split + 1, here)
        case nil:
            let start = here
            emitBody(body, template: &template)
            instructions.append(.split(start, here + 1))
        case let maximum?:
            var splits: [Int] = []
            for _ in minimum..<maximum {
                splits.append(placeholder())
                emitBody(body, template: &template)
            }
            for split in splits { instructions[split] = .split(split + 1, here) }
        }
    }

    /// The body of a repetition: compiled the first time, copied after.
    private mutating func emitBody(_ body: IRegexpNode, template: inout Range<Int>?) {
        guard let template else {
            let start = here
            emit(body)
            template = start..<here
            return
        }
        let distance = here - template.lowerBound
        for index in template {
            switch instructions[index] {
            case .split(let first, let second): instructions.append(.split(first + distance, second + distance))
            case .jump(let target): instructions.append(.jump(target + distance))
            case let instruction: instructions.append(instruction)
            }
        }
    }

    /// Reserves an instruction whose targets are not known yet; the caller overwrites it.
    private mutating func placeholder() -> Int {
        instructions.append(.accept)
        return here - 1
    }
}
