import Foundation
import SidecarProtocol

/// The shared conformance suites (`../shared/conformance/` beside the package root), found from
/// this file's location so no machine-specific path is written down.
///
/// ```swift
/// let cases = try ConformanceSuite.load("json-patch/tests.json")
/// let url = ConformanceSuite.url("jsonpath/cts.json")
/// ```
struct ConformanceSuite {
    /// Why a suite file could not be used.
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    /// `<package root>/../shared/conformance`: the package root is three levels up from
    /// `Tests/SidecarStateTests/ConformanceSuite.swift`.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tests/SidecarStateTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("../shared/conformance")
        .standardizedFileURL

    /// A file of the suites, by its path relative to the conformance directory.
    static func url(_ relative: String) -> URL {
        directory.appendingPathComponent(relative)
    }

    /// Reads and parses a JSON file of the suites.
    /// - Throws: ``LoadError`` naming the file when it is missing or not JSON.
    static func load(_ relative: String) throws -> JSONValue {
        let url = url(relative)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw LoadError(
                description: "cannot read the conformance suite \(url.path): \(error). "
                    + "The suites live in shared/conformance beside the package root."
            )
        }
        do {
            return try JSONParser.parse(bytes: data)
        } catch {
            throw LoadError(description: "\(url.path) is not valid JSON: \(error)")
        }
    }
}
