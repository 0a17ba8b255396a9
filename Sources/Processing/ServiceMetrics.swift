import Engine
import Synchronization

/// Counters since the daemon started, for `/metrics` (Prometheus counters may reset on restart).
/// Updated by an outcome handler on the SIP thread: a short leaf lock, no I/O.
public final class ServiceMetrics: Sendable {
    public struct Counts: Sendable {
        /// Calls by direction and result ("success", "failure").
        public var calls: [String: [String: Int]] = [:]
        /// Pages by direction.
        public var pages: [String: Int] = [:]
        /// Calls by T.30 completion code and its name.
        public var t30: [Int: (name: String, count: Int)] = [:]
        /// Calls by hangup cause.
        public var causes: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())

    public init() {}

    func record(_ outcome: FaxOutcome) {
        counts.withLock { c in
            c.calls[outcome.direction.rawValue, default: [:]][outcome.success ? "success" : "failure", default: 0] += 1
            c.pages[outcome.direction.rawValue, default: 0] += outcome.pagesTransferred
            let old = c.t30[outcome.t30Code]?.count ?? 0
            c.t30[outcome.t30Code] = (outcome.t30Name, old + 1)
            c.causes[outcome.hangupCause.rawValue, default: 0] += 1
        }
    }

    public var snapshot: Counts { counts.withLock { $0 } }
}
