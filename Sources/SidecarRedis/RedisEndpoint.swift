import Foundation

/// Where a Redis server is and how to log in to it, parsed from a URL.
///
/// Two forms are accepted:
/// - `redis://[[user]:password@]host[:port][/db]`: TCP; the port defaults to 6379 and the
///   database to 0; an IPv6 address goes in brackets (`redis://[::1]:6380`).
/// - `unix:///path/to/redis.sock[?db=N][&password=P]`: a Unix socket, by absolute path.
///
/// Credentials may be percent-encoded. They are never printed: ``description`` and parse
/// errors show `***` instead.
///
/// ```swift
/// let endpoint = try RedisEndpoint(url: "redis://:secret@127.0.0.1:6380/2")
/// // endpoint.address == .tcp(host: "127.0.0.1", port: 6380), endpoint.database == 2
/// ```
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How to reach the server.
    public enum Address: Sendable, Hashable {
        /// A TCP host (name or address) and port.
        case tcp(host: String, port: Int)
        /// A Unix domain socket at an absolute path.
        case unix(path: String)
    }

    /// The port of a `redis://` URL that names none.
    public static let defaultPort = 6379

    /// How to reach the server.
    public var address: Address
    /// The database selected after connecting (`SELECT`), 0 by default.
    public var database: Int
    /// The ACL user for `AUTH`, if any (Redis 6+); `nil` with a password means the default user.
    public var username: String?
    /// The password for `AUTH`; `nil` means no `AUTH` is sent.
    public var password: String?

    /// An endpoint from its parts.
    public init(address: Address, database: Int = 0, username: String? = nil, password: String? = nil) {
        self.address = address
        self.database = database
        self.username = username
        self.password = password
    }

    /// Parses a `redis://` or `unix://` URL (see the type's documentation for the forms).
    /// - Parameter url: the URL, such as `redis://localhost:6379/0` or `unix:///run/redis.sock?db=1`.
    /// - Throws: ``ParseError``, whose description names the URL (credentials hidden), what is
    ///   wrong with it, and the accepted forms.
    public init(url: String) throws(ParseError) {
        let fail = { (reason: String) in ParseError(url: Self.redacted(url), reason: reason) }
        guard let schemeEnd = url.range(of: "://") else {
            throw fail("it has no scheme; write redis://host:port/db or unix:///path/to/redis.sock")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = String(url[schemeEnd.upperBound...])
        switch scheme {
        case "redis":
            self = try Self.parseTCP(rest, fail: fail)
        case "unix":
            self = try Self.parseUnix(rest, fail: fail)
        case "rediss":
            throw fail("TLS (rediss://) is not supported; use redis:// on a trusted network or a Unix socket")
        default:
            throw fail("the scheme \"\(scheme)\" is not supported; use redis:// or unix://")
        }
    }

    /// The URL of the endpoint, with `***` in place of the password.
    public var description: String {
        let password = self.password == nil ? nil : "***"
        switch address {
        case .tcp(let host, let port):
            var text = "redis://"
            if let password { text += (username ?? "") + ":" + password + "@" }
            text += host.contains(":") ? "[\(host)]" : host
            return text + ":\(port)/\(database)"
        case .unix(let path):
            var parameters: [String] = []
            if database != 0 { parameters.append("db=\(database)") }
            if let password { parameters.append("password=\(password)") }
            return "unix://" + path + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
        }
    }

    // MARK: - Parsing

    private static func parseTCP(_ rest: String, fail: (String) -> ParseError) throws(ParseError) -> RedisEndpoint {
        if rest.contains("?") || rest.contains("#") {
            throw fail("a redis:// URL takes no query or fragment; put the database in the path, as in redis://host:6379/2")
        }
        let authority: Substring
        let path: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest[...]
            path = ""
        }

        var username: String?
        var password: String?
        var hostAndPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostAndPort = authority[authority.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw fail("credentials go before the host as :password@ or user:password@")
            }
            let user = try decoded(userInfo[..<colon], what: "user name", fail: fail)
            username = user.isEmpty ? nil : user
            password = try decoded(userInfo[userInfo.index(after: colon)...], what: "password", fail: fail)
        }

        let host: Substring
        var portText: Substring?
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else {
                throw fail("the IPv6 address has no closing bracket")
            }
            host = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
            let after = hostAndPort[hostAndPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("expected :port after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else {
            let colons = hostAndPort.filter { $0 == ":" }.count
            if colons > 1 { throw fail("an IPv6 address goes in brackets, as in redis://[::1]:6379") }
            if let colon = hostAndPort.firstIndex(of: ":") {
                host = hostAndPort[..<colon]
                portText = hostAndPort[hostAndPort.index(after: colon)...]
            } else {
                host = hostAndPort
            }
        }
        guard !host.isEmpty else { throw fail("the host is missing") }

        var port = defaultPort
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("the port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = number
        }

        let pathWithoutSlash = path.hasSuffix("/") ? path.dropLast() : path
        let database = pathWithoutSlash.isEmpty ? 0 : try parseDatabase(pathWithoutSlash, fail: fail)
        return RedisEndpoint(address: .tcp(host: String(host), port: port), database: database,
                             username: username, password: password)
    }

    private static func parseUnix(_ rest: String, fail: (String) -> ParseError) throws(ParseError) -> RedisEndpoint {
        let pathPart: Substring
        var query: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            pathPart = rest[..<question]
            query = rest[rest.index(after: question)...]
        } else {
            pathPart = rest[...]
        }
        guard pathPart.hasPrefix("/") else {
            throw fail("the socket path must be absolute, with three slashes: unix:///path/to/redis.sock")
        }
        let path = try decoded(pathPart, what: "socket path", fail: fail)
        guard path.utf8.count <= 107 else {
            throw fail("the socket path is \(path.utf8.count) bytes long; a Unix socket path can have at most 107")
        }

        var database = 0
        var password: String?
        for parameter in query.split(separator: "&") {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = pair.count == 2 ? pair[1] : ""
            switch pair[0] {
            case "db": database = try parseDatabase(value, fail: fail)
            case "password": password = try decoded(value, what: "password", fail: fail)
            default:
                throw fail("unknown parameter \"\(pair[0])\"; a unix:// URL takes db=N and password=P")
            }
        }
        return RedisEndpoint(address: .unix(path: path), database: database, password: password)
    }

    private static func parseDatabase(_ text: Substring, fail: (String) -> ParseError) throws(ParseError) -> Int {
        guard let number = Int(text), number >= 0, number <= Int(Int32.max) else {
            throw fail("the database \"\(text)\" is not a number from 0 up")
        }
        return number
    }

    private static func decoded(_ text: Substring, what: String, fail: (String) -> ParseError) throws(ParseError) -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw fail("the \(what) has an invalid percent-escape")
        }
        return decoded
    }

    /// `url` with any password replaced by `***`, for messages.
    static func redacted(_ url: String) -> String {
        var text = url
        if let schemeEnd = text.range(of: "://") {
            let authorityEnd = text[schemeEnd.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" }
                ?? text.endIndex
            if let at = text[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@"),
               let colon = text[schemeEnd.upperBound..<at].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        if let parameter = text.range(of: "password=") {
            let valueEnd = text[parameter.upperBound...].firstIndex(of: "&") ?? text.endIndex
            text.replaceSubrange(parameter.upperBound..<valueEnd, with: "***")
        }
        return text
    }
}

extension RedisEndpoint {
    /// A Redis URL that could not be parsed.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The URL as given, with any password replaced by `***`.
        public var url: String
        /// What is wrong with it.
        public var reason: String

        /// The URL, the reason, and the accepted forms.
        public var description: String {
            "invalid Redis URL \"\(url)\": \(reason) "
                + "(expected redis://[:password@]host[:port][/db] or unix:///path/to/redis.sock[?db=N])"
        }
    }
}
