import SidecarProtocol

/// The OpenRPC document, parsed once from the text generated from protocol/openrpc.json.
enum OpenRPC {
    static let document: JSONValue = {
        do {
            return try JSONParser.parse(OpenRPCDocument.text)
        } catch {
            // The text is checked by a test and at generation time; reaching this is a build defect.
            preconditionFailure("protocol/openrpc.json embedded in the daemon is not valid JSON: \(error)")
        }
    }()

    /// The method names the document lists.
    static var methodNames: [String] {
        (document["methods"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
    }
}
