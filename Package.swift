// swift-tools-version: 6.1
import PackageDescription

/// The hot path (framing, JSON, dispatch) is checked by its tests and by the type system;
/// release builds skip the dynamic exclusivity checks that otherwise cost several percent per request.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "sidecar",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SidecarClient", targets: ["SidecarClient"]),
        .library(name: "SidecarProtocol", targets: ["SidecarProtocol"]),
        .executable(name: "sidecard", targets: ["sidecard"]),
        .executable(name: "sidecarctl", targets: ["sidecarctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses with a
        // warning on every build; the header is in the default include path and the module map links it.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),

        // MARK: - Libraries
        .target(
            name: "SidecarProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "SidecarStore",
            dependencies: [
                "SidecarProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SidecarState",
            dependencies: [
                "SidecarProtocol",
                "SidecarStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "SidecarRedis",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SidecarCache",
            dependencies: [
                "SidecarProtocol",
                "SidecarRedis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
            ],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "SidecarTasks",
            dependencies: [
                "SidecarProtocol",
                "SidecarStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "SidecarServer",
            dependencies: [
                "SidecarProtocol",
                "SidecarCache",
                "SidecarTasks",
                "SidecarState",
                "SidecarStore",
                "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: hotPathSettings
        ),
        .target(
            name: "SidecarClient",
            dependencies: [
                "SidecarProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: - Executables
        .executableTarget(
            name: "sidecard",
            dependencies: [
                "SidecarServer",
                "SidecarCache",
                "SidecarTasks",
                "SidecarRedis",
                .product(name: "NIOPosix", package: "swift-nio"),
                "SidecarState",
                "SidecarStore",
                "CSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .executableTarget(
            name: "sidecarctl",
            dependencies: [
                "SidecarClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sidecar-loadgen",
            dependencies: [
                "SidecarProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/LoadDriver"
        ),
        .executableTarget(
            name: "nio-floor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/NIOFloor"
        ),

        // MARK: - Tests
        .target(
            name: "SidecarTestSupport",
            dependencies: ["SidecarProtocol"],
            path: "Tests/SidecarTestSupport"
        ),
        .testTarget(
            name: "SidecarProtocolTests",
            dependencies: ["SidecarProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SidecarServerTests",
            dependencies: [
                "SidecarServer",
                "SidecarProtocol",
                "SidecarState",
                "SidecarCache",
                "SidecarRedis",
                "SidecarTasks",
                "SidecarStore",
                "SidecarTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SidecarStoreTests",
            dependencies: [
                "SidecarStore",
                "SidecarProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SidecarRedisTests",
            dependencies: ["SidecarRedis", "SidecarTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "SidecarCacheTests", dependencies: ["SidecarCache", "SidecarRedis", "SidecarProtocol", "SidecarTestSupport"]),
        .testTarget(name: "SidecarTasksTests", dependencies: ["SidecarTasks", "SidecarStore", "SidecarProtocol", "SidecarTestSupport"]),
        .testTarget(name: "SidecarStateTests", dependencies: ["SidecarState", "SidecarStore", "SidecarProtocol"]),
        .testTarget(name: "SidecarClientTests", dependencies: ["SidecarClient", "SidecarProtocol", "SidecarTestSupport"]),
    ]
)
