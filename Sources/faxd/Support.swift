import Dispatch
import Engine
import Foundation
import Synchronization

/// A value set once from another thread and read after a semaphore.
final class Box<T: Sendable>: @unchecked Sendable {
    private let lock = Mutex<T?>(nil)
    var value: T? {
        get { lock.withLock { $0 } }
        set { lock.withLock { $0 = newValue } }
    }
}

/// Counts outcomes for `faxd receive --count`.
final class Tally: Sendable {
    private let state = Mutex<(seen: Int, failed: Int)>((0, 0))
    let target: Int
    init(target: Int) { self.target = target }

    /// Records one outcome; true when the target is reached.
    func record(success: Bool) -> Bool {
        state.withLock { s in
            s.seen += 1
            if !success { s.failed += 1 }
            return s.seen >= target
        }
    }

    var allSucceeded: Bool { state.withLock { $0.failed == 0 } }
}

/// SIGTERM / SIGINT handling through Dispatch signal sources.
enum Signals {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Calls `handler` once on the first SIGTERM or SIGINT.
    static func onTermination(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let once = Mutex(false)
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let first = once.withLock { fired -> Bool in
                    defer { fired = true }
                    return !fired
                }
                if first { handler() }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Blocks until SIGTERM or SIGINT.
    static func waitForTermination() {
        let semaphore = DispatchSemaphore(value: 0)
        onTermination { semaphore.signal() }
        semaphore.wait()
    }
}

extension FaxOutcome {
    var prettyJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A command that failed for a reason other than its arguments: printed as "Error: <reason>"
/// without the usage text.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One outbound call from a short-lived engine (`faxd send`, `faxd lab replay`): SIP on a free port
/// of the address that routes to the destination (unless --sip-listen says otherwise), the call,
/// its outcome; SIGTERM/SIGINT hang up instead of dying mid-call.
enum OneShotCall {
    static func place(to destination: String, engine: EngineOptions, fax: (FaxdConfiguration) throws -> OutboundFax) throws -> FaxOutcome {
        let logger = engine.makeLogger()
        var configuration = try engine.load()
        if engine.sipListen == nil {
            let host = Send.destinationHost(destination) ?? "127.0.0.1"
            configuration.sip.listenHost = LocalAddress.route(to: host) ?? "127.0.0.1"
            configuration.sip.listenPort = 0
        }
        let call = try fax(configuration)
        let daemon = try Daemon(configuration: configuration, logger: logger)
        try daemon.start()
        let done = DispatchSemaphore(value: 0)
        let result = Box<FaxOutcome>()
        daemon.orchestrator.send(call) { outcome in
            result.value = outcome
            done.signal()
        }
        Signals.onTermination { daemon.stop() }
        done.wait()
        daemon.stop()
        return result.value!
    }
}
