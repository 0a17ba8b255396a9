import ChildProcess
import Engine
import Foundation
import Logging
import Processing
import Store

/// faxd as a service (engine + SQLite store + processors) in the test process, on real sockets
/// on 127.0.0.1, with its own data directory.
public final class TestService: Sendable {
    public let service: FaxService
    public let sipPort: Int
    public let directory: String

    /// Starts a service; `configure` adjusts the configuration first, `provision` writes accounts
    /// (and anything else) into the store before SIP starts. With `directory` it starts on an
    /// existing data directory (a restart).
    public init(label: String, directory existing: String? = nil, configure: (inout FaxdConfiguration) -> Void = { _ in },
                provision: (Database) throws -> Void = { _ in }) throws {
        directory = existing ?? Fixtures.scratchDirectory(label)
        var configuration = FaxdConfiguration.testing(directory: directory, ports: TestPorts.allocate())
        configuration.processing.schedulerIntervalMilliseconds = 100
        configure(&configuration)
        sipPort = configuration.sip.listenPort
        var logger = Logger(label: "faxd-\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["FAXD_TEST_LOG"] == nil ? .critical : .debug
        service = try FaxService(configuration: configuration, logger: logger)
        try service.store.write { try provision($0) }
        try service.start()
    }

    public var store: FaxStore { service.store }

    /// Where this service's SIP listens.
    public func uri(number: String) -> String { "sip:\(number)@127.0.0.1:\(sipPort)" }

    public func stop() { service.stop() }

    /// Stops the service on a thread of its own and waits for it without holding a thread of the
    /// pool async tests share: a stop with calls open to a far end that never answers waits for
    /// them (5 s) and for sofia's transactions (8 s), and two such stops on a 2-core machine once
    /// held the whole pool for 13 s, failing unrelated tests that were waiting on their own timers.
    public func shutDown() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                service.stop()
                done.resume()
            }.start()
        }
    }

    /// The transmission once `condition` holds for it, polling the store every 100 ms.
    public func transmission(_ uuid: String, timeout: Double, until condition: @escaping (FaxTransmission) -> Bool) async -> FaxTransmission? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: FaxTransmission?
        while Date() < deadline {
            last = try? store.read { try $0.transmission(uuid: uuid) }
            if let last, condition(last) { return last }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return last
    }
}

/// Renders a PDF's pages with poppler's pdftoppm into bitmaps comparable with `FaxPageImage`
/// (1 = black). pdftoppm smooths 1-bit images at 1:1 (edge pixels of ~100 rows per page come out
/// grey), so pages are rendered at 4x the page's resolution, where every source pixel becomes a
/// uniform 4x4 block, and sampled back to one pixel per block.
public enum PDFRender {
    public static func pages(_ pdf: String, xDPI: Int, yDPI: Int) throws -> [(width: Int, height: Int, bits: [UInt8])] {
        let scale = 4
        let directory = Fixtures.scratchDirectory("pdftoppm")
        let result = try ChildProcess.run("/usr/bin/pdftoppm", ["-mono", "-rx", "\(xDPI * scale)", "-ry", "\(yDPI * scale)", pdf, directory + "/page"])
        guard result.status == 0 else { throw PDFRenderError("pdftoppm exited \(result.status) for \(pdf): \(result.stderr)") }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pbm") }.sorted()
        return try files.map { file in
            let big = try readPBM(directory + "/" + file)
            let width = big.width / scale, height = big.height / scale
            let bigRow = (big.width + 7) / 8, row = (width + 7) / 8
            var bits = [UInt8](repeating: 0, count: row * height)
            for y in 0..<height {
                let source = (y * scale + 1) * bigRow
                for x in 0..<width {
                    let bx = x * scale + 1
                    if big.bits[source + bx / 8] & (0x80 >> UInt8(bx % 8)) != 0 { bits[y * row + x / 8] |= 0x80 >> UInt8(x % 8) }
                }
            }
            return (width, height, bits)
        }
    }

    /// A binary PBM (P4): header "P4\n<w> <h>\n", then rows padded to bytes, 1 = black.
    static func readPBM(_ path: String) throws -> (width: Int, height: Int, bits: [UInt8]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw PDFRenderError("\(path): unreadable") }
        let bytes = [UInt8](data)
        var fields: [Int] = []
        var index = 2
        var token = ""
        while fields.count < 2 && index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "#") {
                while index < bytes.count && bytes[index] != 0x0a { index += 1 }
            } else if c == 0x20 || c == 0x0a || c == 0x09 || c == 0x0d {
                if !token.isEmpty { fields.append(Int(token) ?? 0); token = "" }
            } else {
                token.append(Character(UnicodeScalar(c)))
            }
            index += 1
        }
        guard bytes.starts(with: Array("P4".utf8)), fields.count == 2 else { throw PDFRenderError("\(path): not a P4 PBM") }
        return (fields[0], fields[1], Array(bytes[index...]))
    }
}

public struct PDFRenderError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
