import Foundation

/// Where the package and the programs under test are, found without machine-specific paths.
///
/// ```swift
/// let result = try runCommand(PackageLocation.daemonExecutable, ["--version"], in: directory)
/// ```
public enum PackageLocation {
    /// The package root: the nearest directory above this file that holds `Package.swift`.
    public static let root: String = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                return directory.path
            }
            directory = directory.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The `sidecard` binary: `$SIDECARD_BIN` (set by `make test`), else the build's own copy
    /// (see ``productExecutable(named:environmentVariable:)``).
    public static var daemonExecutable: String {
        productExecutable(named: "sidecard", environmentVariable: "SIDECARD_BIN")
    }

    /// The `sidecarctl` binary: `$SIDECARCTL_BIN`, else the build's own copy.
    public static var controlExecutable: String {
        productExecutable(named: "sidecarctl", environmentVariable: "SIDECARCTL_BIN")
    }

    /// An executable product of this package.
    /// - Parameters:
    ///   - name: the product's name, such as `sidecard`.
    ///   - environmentVariable: a variable that, when set and not empty, names the binary to use.
    /// - Returns: the variable's value if set; else `name` next to the running test binary (the
    ///   build directory of whatever configuration is being tested) if it is there; else
    ///   `<root>/.build/debug/<name>`, which may not exist: starting it then fails with a
    ///   ``SystemCallError`` that names the path.
    public static func productExecutable(named name: String, environmentVariable: String) -> String {
        if let explicit = ProcessInfo.processInfo.environment[environmentVariable], !explicit.isEmpty {
            return explicit
        }
        if let buildDirectory = Bundle.main.executableURL?.deletingLastPathComponent() {
            let candidate = buildDirectory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return root + "/.build/debug/" + name
    }

    /// A file of the package, by its path relative to the root.
    public static func file(_ relativePath: String) -> String {
        root + "/" + relativePath
    }

    /// The absolute path of the program `name`, searched in `$PATH` and the usual system
    /// directories, preferring the system's own copy; `nil` when it is not installed.
    public static func executable(named name: String) -> String? {
        let system = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in system + path {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
