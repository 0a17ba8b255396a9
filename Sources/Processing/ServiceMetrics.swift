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
        /// Voice calls by direction ("inbound", "outbound"), and voice legs up now.
        public var voiceCalls: [String: Int] = [:]
        public var voiceLegsActive = 0
        /// Media streams by how they ended ("stopped", "failed"), streams up now, and what they
        /// lost: frames dropped because an application fell behind, application audio refused
        /// because the playout queue was full (bytes), messages from applications ignored.
        public var streamsEnded: [String: Int] = [:]
        public var streamsActive = 0
        public var streamFramesDropped = 0
        public var streamBytesRefused = 0
        public var streamMessagesInvalid = 0
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

    func voiceCallStarted(outbound: Bool) {
        counts.withLock { c in
            c.voiceCalls[outbound ? "outbound" : "inbound", default: 0] += 1
            c.voiceLegsActive += 1
        }
    }

    func voiceCallEnded() {
        counts.withLock { $0.voiceLegsActive = max(0, $0.voiceLegsActive - 1) }
    }

    func streamStarted() {
        counts.withLock { $0.streamsActive += 1 }
    }

    func streamEnded(failed: Bool, dropped: Int, refused: Int, invalid: Int) {
        counts.withLock { c in
            c.streamsActive = max(0, c.streamsActive - 1)
            c.streamsEnded[failed ? "failed" : "stopped", default: 0] += 1
            c.streamFramesDropped += dropped
            c.streamBytesRefused += refused
            c.streamMessagesInvalid += invalid
        }
    }

    public var snapshot: Counts { counts.withLock { $0 } }
}
