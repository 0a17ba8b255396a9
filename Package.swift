// swift-tools-version:6.0
import PackageDescription

// C libraries live behind one target each in CShims/ (module map + thin non-variadic wrappers).
// libtiff is wrapped inside CSpanDSP because spandsp's own header includes <tiffio.h>: two modules
// textually including it would be imported side by side into Fax.
let package = Package(
    name: "faxd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "faxd", targets: ["faxd"]),
        .executable(name: "faxd-fuzz", targets: ["faxd-fuzz"]),
        .executable(name: "faxd-bench", targets: ["faxd-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        // Delivery (issue 6): SMTP on SwiftNIO with STARTTLS through swift-nio-ssl, webhooks with
        // AsyncHTTPClient. These three are most of a fresh build's time.
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        // The HTTP API (issue 7); shares most of its dependencies with AsyncHTTPClient.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // Media streams to applications (issue 17): Hummingbird's WebSocket client (NIOWebSocket
        // framing, NIOSSL for wss); it builds on the NIO packages above.
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.0"),
        // Several nodes on one shared database (issue 19): PostgreSQL through postgres-nio. It
        // brings swift-crypto (SCRAM-SHA-256 authentication), the one BoringSSL build.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        .target(
            name: "CSofiaSIP",
            path: "CShims/CSofiaSIP",
            cSettings: [.unsafeFlags(["-I/usr/include/sofia-sip-1.12", "-Wno-deprecated-declarations"])],
            linkerSettings: [.linkedLibrary("sofia-sip-ua")]
        ),
        .target(
            name: "CSpanDSP",
            path: "CShims/CSpanDSP",
            linkerSettings: [.linkedLibrary("spandsp"), .linkedLibrary("tiff"), .linkedLibrary("m")]
        ),
        .target(name: "CSQLite", path: "CShims/CSQLite", linkerSettings: [.linkedLibrary("sqlite3")]),
        // OpenSSL's libcrypto (Debian's libssl-dev) for SHA-256, HMAC and random secrets: no
        // BoringSSL to compile on every fresh CI build.
        .target(name: "CCrypto", path: "CShims/CCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "SIP", dependencies: ["CSofiaSIP"]),
        // recvmmsg(2) is not in Swift's Glibc module: one wrapper, no C type in its header.
        .target(name: "CNet", path: "CShims/CNet"),
        .target(name: "Media", dependencies: ["CNet"]),
        .target(name: "Fax", dependencies: ["CSpanDSP"]),
        // Voice calls' media (issue 16): RTP audio, RFC 4733 and in-band DTMF (spandsp), playback,
        // recording and bridging on a shard. Lab for WAV reading and writing.
        .target(name: "Voice", dependencies: ["CSpanDSP", "Media", "Lab"]),
        // The settings of the layers above the engine (processing, delivery, HTTP): plain values,
        // no C library, so Delivery takes its settings without linking sofia-sip and spandsp.
        .target(name: "ServiceSettings"),
        .target(
            name: "Engine",
            dependencies: [
                "SIP", "Media", "Fax", "Lab", "Voice", "ServiceSettings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(name: "Hashing", dependencies: ["CCrypto"]),
        // Lab mode (issue 8): recordings, the passive decoder's timeline, ladder diagrams, fixtures.
        .target(name: "Lab", dependencies: ["Fax", "Media"]),
        // posix_spawn behind one C function: Foundation's Process.run crashes intermittently in 6.3.
        .target(name: "CSpawn", path: "CShims/CSpawn"),
        .target(name: "ChildProcess", dependencies: ["CSpawn"]),
        .target(
            name: "Store",
            dependencies: [
                "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Delivery",
            dependencies: [
                "ServiceSettings", "Store", "Hashing",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A call's audio to an application over WebSocket and back (issue 17): the Twilio and
        // Telnyx dialects and the session that runs one stream; the shard side is Voice's
        // MediaStreamPort.
        .target(
            name: "MediaStreams",
            dependencies: [
                "Voice", "ServiceSettings",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Processing",
            dependencies: ["Engine", "Store", "Fax", "SIP", "Voice", "MediaStreams", "Hashing", "Delivery", "ChildProcess",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // multipart/form-data parsing, apart so the fuzzer can build it without the HTTP server.
        .target(name: "Multipart"),
        .target(
            name: "HTTPAPI",
            dependencies: [
                "Engine", "Processing", "Store", "Delivery", "Fax", "SIP", "Hashing", "Multipart",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                // The request-deadline channel handler sees Hummingbird's decoded request parts.
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                // Commands for a call on another node are forwarded to it (issue 19).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "faxd",
            dependencies: [
                "Engine", "Processing", "Store", "Delivery", "HTTPAPI", "Lab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // `faxd drain` talks to a running daemon's admin API.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(name: "FaxdTesting", dependencies: [
            "Engine", "Fax", "Media", "SIP", "Voice", "Lab", "Processing", "Store", "ChildProcess", "HTTPAPI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The load benchmark (issue 4): drives a `faxd serve` process; uses the test helpers, so
        // it is a target of its own and the daemon does not link them.
        .executableTarget(
            name: "faxd-bench",
            dependencies: [
                "Engine", "Fax", "Media", "FaxdTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // The streams benchmark's echo application: NIO's WebSocket server.
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Fuzz targets for the parsers that see outside bytes (issue 9); scripts/fuzz builds them
        // with libFuzzer, a plain build replays the corpora in fixtures/fuzz.
        .executableTarget(
            name: "faxd-fuzz",
            dependencies: ["SIP", "Media", "Fax", "Multipart"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        .testTarget(name: "SIPTests", dependencies: ["SIP", "FaxdTesting"], resources: [.copy("Fixtures")]),
        .testTarget(name: "VoiceTests", dependencies: ["Voice", "Media", "Lab"], exclude: ["malloc-count.c"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "FaxdTesting"]),
        .testTarget(name: "FaxTests", dependencies: ["Fax", "Media", "FaxdTesting", "ChildProcess", "CSpanDSP"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Media", "FaxdTesting", "ChildProcess"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Hashing", "FaxdTesting"]),
        .testTarget(name: "ProcessingTests", dependencies: [
            "Processing", "Store", "Engine", "Fax", "Hashing", "Media", "SIP", "FaxdTesting",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // The voice control plane's pure pieces (issue 16): call state machine, commands, DTMF
        // strings, the Telnyx webhook envelope.
        .testTarget(name: "VoiceControlTests", dependencies: ["Processing", "Store", "FaxdTesting", "Lab", "Voice", "Engine", "SIP", "MediaStreams", "ChildProcess"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Fax", "Store", "FaxdTesting"]),
        .testTarget(name: "HTTPAPITests", dependencies: [
            "HTTPAPI", "Processing", "Store", "Engine", "Fax", "SIP", "FaxdTesting", "ChildProcess",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "DeliveryTests", dependencies: ["Delivery", "Processing", "Store", "Engine", "Hashing", "FaxdTesting", "ChildProcess"]),
    ]
)
