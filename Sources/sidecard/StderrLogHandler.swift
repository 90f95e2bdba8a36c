import Logging

/// Logs one line per event to stderr. Under journald (`JOURNAL_STREAM` set) each line starts
/// with its syslog priority (`<6>`) and carries no timestamp, since the journal adds both;
/// elsewhere it starts with the time and the level.
struct StderrLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool

    init(label: String, level: Logger.Level, journal: Bool) {
        self.label = label
        self.logLevel = level
        self.journal = journal
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        let eventMetadata = event.metadata
        var line = journal ? "<\(Self.syslogPriority(level))>" : "\(SystemInterface.timestamp()) \(level): "
        line += message.description
        let merged = metadata.merging(eventMetadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() {
            line += " \(key)=\(merged[key]!)"  // key from the dictionary itself
        }
        line += "\n"
        SystemInterface.writeToStandardError(line)
    }

    private static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
