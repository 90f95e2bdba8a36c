import Foundation
import SidecarProtocol

/// A named schedule (`tasks.schedule`): a task template and when to submit it.
public struct TaskSchedule: Sendable {
    /// Whether a run may start while the previous run of the schedule is unfinished.
    public enum Overlap: String, Sendable {
        case skip
        case allow
    }

    public var name: String
    /// The `task` object of `tasks.schedule`, as given (a ``TaskSubmission``).
    public var task: JSONValue
    public var trigger: ScheduleTrigger
    public var overlap: Overlap
    /// Unix milliseconds of the planned next run; `nil` when it will not run again.
    public var nextRunAt: Int64?
    public var lastRunAt: Int64?
    public var lastTaskID: String?

    /// Reads `tasks.schedule`'s params: `{name, task, every? | cron? | at?, overlap?}`.
    /// - Throws: `-32602` naming the field.
    public init(params: JSONValue, now: Int64) throws(RPCError) {
        guard case .object(let object) = params else {
            throw TaskSubmission.invalid("params", "must be an object {name, task, every | cron | at}")
        }
        guard case .string(let name)? = object["name"], !name.isEmpty, name.utf8.count <= 200 else {
            throw TaskSubmission.invalid("name", "must be a non-empty string of at most 200 bytes")
        }
        guard let task = object["task"], case .object = task else {
            throw TaskSubmission.invalid("task", "must be a task object such as {\"kind\": \"exec\", \"payload\": {\"argv\": [\"true\"]}}")
        }
        // Checked now, so that a bad template is refused here rather than at its first run.
        var template = task
        if case .object(var members) = template {
            members["delay"] = nil
            members["runAt"] = nil
            template = .object(members)
        }
        _ = try TaskSubmission(json: template, field: "task.", now: now)
        let definition: JSONObject = object.filter { ["every", "cron", "at", "overlap"].contains($0.key) && !$0.value.isNull }
        try self.init(name: name, task: template, definition: definition)
    }

    /// A schedule read back from storage: the definition object holds `task`, one trigger and `overlap`.
    init(name: String, definitionJSON: JSONValue, nextRunAt: Int64?, lastRunAt: Int64?, lastTaskID: String?) throws {
        guard case .object(let object) = definitionJSON, let task = object["task"] else {
            throw TaskSubmission.invalid("task", "missing in the stored schedule '\(name)'")
        }
        try self.init(name: name, task: task, definition: object)
        self.nextRunAt = nextRunAt
        self.lastRunAt = lastRunAt
        self.lastTaskID = lastTaskID
    }

    private init(name: String, task: JSONValue, definition: JSONObject) throws(RPCError) {
        self.name = name
        self.task = task
        let triggers = ["every", "cron", "at"].filter { definition[$0] != nil && definition[$0] != .null }
        guard triggers.count == 1, let which = triggers.first, let value = definition[which] else {
            throw TaskSubmission.invalid(
                field: "every", message: "give exactly one of 'every' (seconds), 'cron' (5 fields) or 'at' (RFC 3339 time)")
        }
        switch which {
        case "every":
            guard let seconds = value.doubleValue, seconds >= 1, seconds <= 366 * 86_400 else {
                throw TaskSubmission.invalid("every", "must be a number of seconds from 1 to 31622400")
            }
            trigger = .every(seconds: seconds)
        case "cron":
            guard case .string(let text) = value else { throw TaskSubmission.invalid("cron", "must be a string of 5 fields such as \"*/5 * * * *\"") }
            do {
                trigger = .cron(try CronExpression(text))
            } catch {
                throw TaskSubmission.invalid("cron", "is invalid: \(error)")
            }
        default:
            guard case .string(let text) = value else { throw TaskSubmission.invalid("at", "must be an RFC 3339 time") }
            do {
                trigger = .at(try RFC3339.date(from: text))
            } catch {
                throw TaskSubmission.invalid("at", "is invalid: \(error)")
            }
        }
        switch definition["overlap"] {
        case nil, .null?: overlap = .skip
        case .string(let text)?:
            guard let value = Overlap(rawValue: text) else { throw TaskSubmission.invalid("overlap", "must be \"skip\" or \"allow\"") }
            overlap = value
        default:
            throw TaskSubmission.invalid("overlap", "must be \"skip\" or \"allow\"")
        }
    }

    /// What is stored: `{task, every | cron | at, overlap}`.
    var definitionJSON: JSONValue {
        var object: JSONObject = ["task": task, "overlap": .string(overlap.rawValue)]
        switch trigger {
        case .every(let seconds): object["every"] = seconds.rounded() == seconds ? .int(Int64(seconds)) : .double(seconds)
        case .cron(let expression): object["cron"] = .string(expression.text)
        case .at(let date): object["at"] = .string(RFC3339.string(from: date))
        }
        return .object(object)
    }

    /// As `tasks.schedules` lists it: `{name, task, every | cron | at, overlap, nextRunAt, lastRunAt, lastTaskId}`.
    public var jsonValue: JSONValue {
        guard case .object(var object) = definitionJSON else { return .null }
        object["name"] = .string(name)
        object["nextRunAt"] = nextRunAt.map(TaskRecord.time) ?? .null
        object["lastRunAt"] = lastRunAt.map(TaskRecord.time) ?? .null
        object["lastTaskId"] = lastTaskID.map(JSONValue.string) ?? .null
        return .object(object)
    }
}
