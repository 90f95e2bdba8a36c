import Foundation

/// Where the package and the daemon under test are, found without machine-specific paths.
enum PackageLocation {
    /// The package root: the nearest directory above this file that holds `Package.swift`.
    static let root: String = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.path
            }
            directory = directory.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The `sidecard` binary: `$SIDECARD_BIN` (set by `make test`), else the debug build.
    static var daemonExecutable: String {
        if let explicit = ProcessInfo.processInfo.environment["SIDECARD_BIN"], !explicit.isEmpty {
            return explicit
        }
        return root + "/.build/debug/sidecard"
    }

    /// A file of the package, by its path relative to the root.
    static func file(_ relativePath: String) -> String {
        root + "/" + relativePath
    }

    /// The absolute path of the program `name`, searched in `$PATH` and the usual system
    /// directories, preferring the system's own copy; `nil` when it is not installed.
    static func executable(named name: String) -> String? {
        let system = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in system + path {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
