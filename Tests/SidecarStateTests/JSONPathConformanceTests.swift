import SidecarProtocol
import Testing

import SidecarState

/// Every case of the RFC 9535 JSONPath Compliance Test Suite (`jsonpath/cts.json`).
@Suite("JSONPath compliance test suite")
struct JSONPathConformanceTests {
    /// Cases knowingly not supported, by name, with the reason. Each one must still fail: a
    /// case listed here that passes is reported, so the list cannot go stale.
    static let unsupported: [String: String] = [:]

    @Test("every cts.json case: invalid selectors rejected, results and normalized paths exact")
    func complianceTestSuite() throws {
        let suite = try ConformanceSuite.load("jsonpath/cts.json")
        let cases = try #require(suite["tests"]?.arrayValue, "cts.json has no \"tests\" array")
        #expect(cases.count == 703, "the suite's case count changed: update this test")

        var passed = 0
        var failures: [String] = []
        for testCase in cases {
            let name = testCase["name"]?.stringValue ?? "(unnamed)"
            let failure = Self.run(testCase)
            if let reason = Self.unsupported[name] {
                if failure == nil {
                    failures.append("\(name): listed as unsupported (\(reason)) but passes; remove it from the list")
                }
                continue
            }
            if let failure {
                failures.append("\(name): \(failure)")
            } else {
                passed += 1
            }
        }
        print("jsonpath cts: \(passed)/\(cases.count)")
        for failure in failures {
            Issue.record(Comment(rawValue: failure))
        }
        #expect(passed + Self.unsupported.count == cases.count)
    }

    /// Runs one case; `nil` when it passes, else what went wrong.
    static func run(_ testCase: JSONValue) -> String? {
        guard let selector = testCase["selector"]?.stringValue else { return "no selector" }
        let query: JSONPath
        do {
            query = try JSONPath(parsing: selector)
        } catch {
            if testCase["invalid_selector"]?.boolValue == true { return nil }
            return "selector \(selector) rejected: \(error)"
        }
        if testCase["invalid_selector"]?.boolValue == true {
            return "invalid selector \(selector) was accepted"
        }
        guard let document = testCase["document"] else { return "no document" }
        let nodes = query.select(in: document)
        let values = nodes.map(\.value)
        let paths = nodes.map { JSONValue.string($0.path.description) }

        // The paths-free evaluation must agree with the full one.
        guard exactlyEqual(.array(query.values(in: document)), .array(values)) else {
            return "values(in:) disagrees with select(in:) for \(selector)"
        }

        var alternatives: [(values: JSONValue, paths: JSONValue?)] = []
        if let result = testCase["result"] {
            alternatives = [(result, testCase["result_paths"])]
        } else if let results = testCase["results"]?.arrayValue {
            let resultPaths = testCase["results_paths"]?.arrayValue
            for (index, result) in results.enumerated() {
                alternatives.append((result, resultPaths.flatMap { index < $0.count ? $0[index] : nil }))
            }
        } else {
            return "no result or results"
        }
        for alternative in alternatives where exactlyEqual(alternative.values, .array(values)) {
            if let expectedPaths = alternative.paths, !exactlyEqual(expectedPaths, .array(paths)) {
                continue
            }
            return nil
        }
        return "\(selector) on \(document) gave \(JSONValue.array(values)) at \(JSONValue.array(paths)); "
            + "expected one of \(alternatives.map { "\($0.values) at \($0.paths ?? "?")" })"
    }

    /// JSON equality with strings compared scalar by scalar (no canonical equivalence).
    static func exactlyEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { exactlyEqual($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count
                && x.allSatisfy { key, value in
                    guard let index = y.index(forKey: key), y.keys[index].unicodeScalars.elementsEqual(key.unicodeScalars)
                    else { return false }
                    return exactlyEqual(value, y.values[index])
                }
        default:
            return a == b
        }
    }
}
