import Foundation
import NIOPosix
import Logging
import SidecarCache
import SidecarTasks
import SidecarState
import SidecarStore
import SidecarProtocol
import SidecarServer
import SidecarTestSupport
import Testing

/// The OpenRPC document, the daemon and the router agree on the methods.
@Suite("OpenRPC document in step", .timeLimit(.minutes(1)))
struct OpenRPCTests {
    /// protocol/openrpc.json, parsed.
    private func document() throws -> JSONValue {
        let data = try Data(contentsOf: URL(fileURLWithPath: PackageLocation.file("protocol/openrpc.json")))
        return try JSONParser.parse(bytes: data)
    }

    private func methodNames(in document: JSONValue) throws -> [String] {
        let methods = try #require(document["methods"]?.arrayValue)
        return try methods.map { try #require($0["name"]?.stringValue) }
    }

    @Test("rpc.discover returns protocol/openrpc.json")
    func discoverServesTheFile() throws {
        let expected = try document()
        try withDaemon { daemon in
            let reply = try daemon.connect().call("rpc.discover", id: "doc")
            #expect(reply["id"] == "doc")
            #expect(reply["result"] == expected, "rpc.discover differs from protocol/openrpc.json; run `make openrpc`")
        }
    }

    @Test("every method in the document is answered, and only those exist")
    func everyDocumentedMethodAnswers() throws {
        let names = try methodNames(in: try document())
        #expect(Set(names).count == names.count, "duplicate method names: \(names)")
        try withDaemon { daemon in
            let connection = try daemon.connect()
            for (index, name) in names.enumerated() {
                let reply = try connection.call(name, id: .int(Int64(index)))
                #expect(reply["id"] == .int(Int64(index)))
                #expect(reply["error"]?["code"] != -32601, "\(name) is documented but not served: \(reply)")
            }
        }
    }

    @Test("the server's registered methods, with every service, are exactly the document's")
    func routerMatchesDocument() async throws {
        let names = try methodNames(in: try document())
        try await withTemporaryDirectory { directory in
            let database = try SidecarDatabase(
                configuration: SidecarDatabaseConfiguration(dataDirectory: directory.file("data")),
                migrations: StateService.migrations + TaskScheduler.migrations
            )
            let services = SidecarServices(
                state: try await StateService(database: database, eventLoop: MultiThreadedEventLoopGroup.singleton.any()),
                cache: CacheService(
                    configuration: CacheConfiguration(), eventLoop: MultiThreadedEventLoopGroup.singleton.any(),
                    logger: Logger(label: "openrpc-test")),
                tasks: try await TaskScheduler(
                    database: database, eventLoop: MultiThreadedEventLoopGroup.singleton.any(), logger: Logger(label: "openrpc-test")),
                database: database
            )
            var configuration = ServerConfiguration(socketPath: "/nonexistent/sidecar-test.sock")
            configuration.threads = 1
            let server = SidecarServer(configuration: configuration, logger: Logger(label: "openrpc-test"), services: services)
            #expect(server.methodNames == names.sorted())
            try await database.close()
        }
    }
}
