import SidecarRedis
import Testing

@Suite struct RedisEndpointTests {
    @Test(arguments: [
        ("redis://localhost", RedisEndpoint(address: .tcp(host: "localhost", port: 6379))),
        ("redis://127.0.0.1:6380", RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6380))),
        ("redis://cache.internal:6380/3", RedisEndpoint(address: .tcp(host: "cache.internal", port: 6380), database: 3)),
        ("redis://localhost/", RedisEndpoint(address: .tcp(host: "localhost", port: 6379))),
        ("REDIS://h:1/0", RedisEndpoint(address: .tcp(host: "h", port: 1))),
        ("redis://:s3cret@h:7000/2", RedisEndpoint(address: .tcp(host: "h", port: 7000), database: 2, password: "s3cret")),
        ("redis://app:p%40ss:w@h", RedisEndpoint(address: .tcp(host: "h", port: 6379), username: "app", password: "p@ss:w")),
        ("redis://[::1]:6380/1", RedisEndpoint(address: .tcp(host: "::1", port: 6380), database: 1)),
        ("redis://[::1]", RedisEndpoint(address: .tcp(host: "::1", port: 6379))),
        ("unix:///run/redis/redis.sock", RedisEndpoint(address: .unix(path: "/run/redis/redis.sock"))),
        ("unix:///tmp/r.sock?db=4", RedisEndpoint(address: .unix(path: "/tmp/r.sock"), database: 4)),
        ("unix:///tmp/my%20dir/r.sock?db=1&password=a%26b",
         RedisEndpoint(address: .unix(path: "/tmp/my dir/r.sock"), database: 1, password: "a&b")),
    ])
    func parsesAcceptedForms(url: String, expected: RedisEndpoint) throws {
        #expect(try RedisEndpoint(url: url) == expected)
    }

    @Test(arguments: [
        ("localhost:6379", "it has no scheme"),
        ("http://localhost", "the scheme \"http\" is not supported"),
        ("rediss://localhost", "TLS (rediss://) is not supported"),
        ("redis://", "the host is missing"),
        ("redis://:6379", "the host is missing"),
        ("redis://localhost:port", "the port \"port\" is not a number from 1 to 65535"),
        ("redis://localhost:0", "the port \"0\" is not a number from 1 to 65535"),
        ("redis://localhost:70000", "the port \"70000\" is not a number from 1 to 65535"),
        ("redis://localhost/abc", "the database \"abc\" is not a number from 0 up"),
        ("redis://localhost/-1", "the database \"-1\" is not a number from 0 up"),
        ("redis://localhost/1?timeout=5", "a redis:// URL takes no query"),
        ("redis://::1:6379", "an IPv6 address goes in brackets"),
        ("redis://[::1:6379", "the IPv6 address has no closing bracket"),
        ("redis://secret@localhost", "credentials go before the host as :password@"),
        ("unix://tmp/r.sock", "the socket path must be absolute"),
        ("unix:///tmp/r.sock?database=1", "unknown parameter \"database\""),
        ("unix:///tmp/r.sock?db=x", "the database \"x\" is not a number from 0 up"),
        ("unix:///" + String(repeating: "d", count: 120), "the socket path is 121 bytes long; a Unix socket path can have at most 107"),
    ])
    func rejectsBadURLsSayingWhy(url: String, reason: String) {
        #expect {
            try RedisEndpoint(url: url)
        } throws: { error in
            guard let error = error as? RedisEndpoint.ParseError else { return false }
            return error.reason.hasPrefix(reason)
                && error.description.hasPrefix("invalid Redis URL \"\(error.url)\": \(error.reason)")
                && error.description.contains("expected redis://[:password@]host[:port][/db]")
        }
    }

    @Test func messagesNeverShowThePassword() {
        let parseError = #expect(throws: RedisEndpoint.ParseError.self) {
            try RedisEndpoint(url: "redis://app:hunter2@localhost:notaport")
        }
        #expect(parseError?.url == "redis://app:***@localhost:notaport")
        #expect(parseError?.description.contains("hunter2") == false)

        let unixError = #expect(throws: RedisEndpoint.ParseError.self) {
            try RedisEndpoint(url: "unix:///tmp/r.sock?password=hunter2&x=1")
        }
        #expect(unixError?.url == "unix:///tmp/r.sock?password=***&x=1")
    }

    @Test func descriptionIsTheURLWithThePasswordHidden() throws {
        #expect(try RedisEndpoint(url: "redis://:hunter2@h:7000/2").description == "redis://:***@h:7000/2")
        #expect(try RedisEndpoint(url: "redis://h").description == "redis://h:6379/0")
        #expect(try RedisEndpoint(url: "redis://[::1]:7000").description == "redis://[::1]:7000/0")
        #expect(try RedisEndpoint(url: "unix:///tmp/r.sock?db=3&password=x").description
            == "unix:///tmp/r.sock?db=3&password=***")
        #expect(try RedisEndpoint(url: "unix:///tmp/r.sock").description == "unix:///tmp/r.sock")
    }
}
