import Dispatch
import Engine
import Foundation
import Logging
import Synchronization

/// Hands out distinct SIP ports and RTP ranges so concurrent tests never collide. Everything stays
/// below Linux's ephemeral range (32768-60999): an outgoing TCP connection (SIPp, sofia) may take
/// any ephemeral port, which once took the fixed media port a SIPp scenario needed.
public enum TestPorts {
    private static let next = Atomic<Int>(0)
    private static let nextPort = Atomic<Int>(0)
    /// 50-port RTP ranges between 13000 and 32699: 394 of them (the suite takes more than 254 now).
    private static let rangeSize = 50
    private static let rangeLow = 13000
    private static let ranges = (32700 - rangeLow) / 50
    /// Random starting points per test process: runs in a row (or side by side) then rarely meet a
    /// port still held by the last one (a TCP port stays in TIME_WAIT for a minute).
    private static let sipBase = Int.random(in: 0..<1000)
    private static let rangeBase = Int.random(in: 0..<ranges)

    /// One port (SIP, HTTP, a webhook receiver) nobody else in this test run uses, from 10000-11999:
    /// apart from `allocate`'s, so single ports do not use up RTP ranges. (The suite once took more
    /// than the ranges there were, and the count wrapped onto engines still running: SIPp then
    /// found its media port taken.)
    public static func port() -> Int {
        10000 + (portBase + nextPort.add(1, ordering: .relaxed).newValue) % 2000
    }
    private static let portBase = Int.random(in: 0..<2000)

    /// A SIP port and an RTP range of `blocks` x 50 ports nobody else in this test run uses.
    public static func allocate(blocks: Int = 1) -> (sip: Int, rtp: ClosedRange<UInt16>) {
        precondition(blocks >= 1 && blocks < ranges)
        while true {
            // Reserve `blocks` consecutive numbers; retry when they would wrap past the last range.
            let last = next.add(blocks, ordering: .relaxed).newValue
            if last >= ranges && last - blocks < ranges {
                FileHandle.standardError.write(Data("TestPorts: more than \(ranges) RTP ranges taken; later ones reuse the first (a collision with a test still running is possible)\n".utf8))
            }
            let first = last - blocks + 1
            let start = (rangeBase + first) % ranges
            guard start + blocks <= ranges else { continue }
            let sip = 12000 + (sipBase + last) % 1000
            let low = UInt16(rangeLow + start * rangeSize)
            return (sip, low...(low + UInt16(rangeSize * blocks) - 1))
        }
    }
}

extension TestPorts {
    /// Waits until some process (SIPp, faxd serve) has bound UDP `port`, read passively from
    /// /proc/net/udp (binding the port to probe it could steal it from the process starting up).
    /// A fixed sleep was not enough on a loaded machine.
    public static func waitUntilBound(udpPort port: Int, timeout: Double = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if isBound(udpPort: port) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Whether /proc/net/udp lists a socket bound to `port`. Each row reads
    /// "%5d: %08X:%04X %08X:%04X ...", local address first; the table runs to hundreds of KB
    /// while the suite holds thousands of sockets, so it is searched as bytes (Foundation's `range(of:)`), not split into
    /// lines and fields (that cost tens of milliseconds a call in a debug build, on the
    /// cooperative pool, every 20 ms, in every test waiting for a port).
    static func isBound(udpPort port: Int) -> Bool {
        // Read to EOF: procfs reports size 0 and hands out a page per read.
        guard let data = FileHandle(forReadingAtPath: "/proc/net/udp")?.readDataToEndOfFile() else { return false }
        let needle = Data(String(format: ":%04X ", port).utf8)
        var from = data.startIndex
        while let hit = data.range(of: needle, in: from..<data.endIndex) {
            let at = hit.lowerBound
            // The local address: ": " then 8 hex digits then this ":PORT ".
            if at - data.startIndex >= 10, data[at - 9] == UInt8(ascii: " "), data[at - 10] == UInt8(ascii: ":") { return true }
            from = at + 1
        }
        return false
    }
}

/// Collects outcomes from a daemon and lets a test wait for them.
public final class OutcomeCollector: Sendable {
    private let state = Mutex<[FaxOutcome]>([])
    private let signal = DispatchSemaphore(value: 0)

    public init(_ orchestrator: CallOrchestrator) {
        orchestrator.onOutcome { [self] outcome in
            state.withLock { $0.append(outcome) }
            signal.signal()
        }
    }

    /// Waits until `count` outcomes arrived or `timeout` seconds passed; returns what arrived.
    public func wait(count: Int, timeout: Double) -> [FaxOutcome] {
        let deadline = DispatchTime.now() + timeout
        while state.withLock({ $0.count }) < count {
            if signal.wait(timeout: deadline) == .timedOut { break }
        }
        return state.withLock { $0 }
    }

    /// The async form for async tests: polls without blocking a cooperative thread.
    public func next(count: Int, timeout: Double) async -> [FaxOutcome] {
        let deadline = Date().addingTimeInterval(timeout)
        while state.withLock({ $0.count }) < count && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return state.withLock { $0 }
    }

    public var outcomes: [FaxOutcome] { state.withLock { $0 } }
}

extension FaxdConfiguration {
    /// The embedded defaults moved onto a test's own ports and data directory, one shard.
    public static func testing(directory: String, ports: (sip: Int, rtp: ClosedRange<UInt16>)) -> FaxdConfiguration {
        var configuration = FaxdConfiguration()
        configuration.dataDirectory = directory
        configuration.sip.listenHost = "127.0.0.1"
        configuration.sip.listenPort = ports.sip
        configuration.media.rtpPortLow = ports.rtp.lowerBound
        configuration.media.rtpPortHigh = ports.rtp.upperBound
        configuration.media.shards = 1
        return configuration
    }
}

/// A faxd engine in the test process with real sockets on 127.0.0.1.
public final class TestEngine: Sendable {
    public let daemon: Daemon
    public let outcomes: OutcomeCollector
    public let sipPort: Int
    public let directory: String
    /// The address other engines reach this one at (its public address when it sits behind a relay).
    public let address: String

    /// Starts an engine; `configure` adjusts the configuration first.
    public init(label: String, portBlocks: Int = 1, configure: (inout FaxdConfiguration) -> Void = { _ in }) throws {
        directory = Fixtures.scratchDirectory(label)
        var configuration = FaxdConfiguration.testing(directory: directory, ports: TestPorts.allocate(blocks: portBlocks))
        configure(&configuration)
        sipPort = configuration.sip.listenPort
        address = configuration.sip.publicAddress ?? configuration.sip.listenHost
        var logger = Logger(label: "faxd-\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["FAXD_TEST_LOG"] == nil ? .critical : .debug
        daemon = try Daemon(configuration: configuration, logger: logger)
        outcomes = OutcomeCollector(daemon.orchestrator)
        try daemon.start()
    }

    /// Where this engine's SIP listens.
    public func uri(number: String) -> String { "sip:\(number)@\(address):\(sipPort)" }

    /// This engine's RTP/UDPTL port range.
    public var mediaPorts: ClosedRange<UInt16> { daemon.media.ports }

    /// Sends a fax and waits for its outcome.
    public func send(_ fax: OutboundFax, timeout: Double = 180) async -> FaxOutcome? {
        await withCheckedContinuation { continuation in
            let once = Mutex(false)
            daemon.orchestrator.send(fax) { outcome in
                if once.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: outcome) }
            }
        }
    }

    public func stop() { daemon.stop() }
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass; returns its last value.
/// For state that settles on the next media tick (a finished channel leaves its shard then).
public func eventually(timeout: Double = 30, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return true
}
