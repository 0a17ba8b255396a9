import Logging
import SIP
import Synchronization

/// Draining and the OPTIONS health answer (issue 19): a load balancer probing with OPTIONS sends
/// new calls only to nodes that answer 200.
extension CallOrchestrator {
    /// Whether this node takes new calls, as its OPTIONS answer says.
    public enum Availability: String, Sendable {
        /// Answers OPTIONS 200 and takes INVITEs.
        case taking
        /// `setDraining(true)`: OPTIONS and new INVITEs get 503; calls in progress go on.
        case draining
        /// At `sip.max_calls`: OPTIONS and new INVITEs get 503 until a call ends.
        case full
    }

    /// Retry-After on a draining node's 503: long, the node is going away.
    static let drainingRetryAfter = 60
    /// Retry-After on a full node's 503: a call ends soon enough.
    static let fullRetryAfter = 10

    /// The node's availability now. Any thread.
    public var availability: Availability {
        if isDraining { return .draining }
        let limit = configuration.sip.maxCalls
        return limit > 0 && activeCalls >= limit ? .full : .taking
    }

    /// True while the node drains. Any thread.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Starts or ends a drain: while on, OPTIONS and new INVITEs get 503 with Retry-After and a
    /// Warning, and calls in progress (their re-INVITEs, BYEs) go on. Any thread.
    public func setDraining(_ on: Bool) {
        guard draining.exchange(on, ordering: .relaxed) != on else { return }
        logger.notice(on ? "draining: new calls are refused (503), calls in progress go on" : "drain ended: taking calls",
                      metadata: ["calls": "\(activeCalls)"])
    }

    /// Why a new call is refused now, with the Retry-After to send; nil when it is taken.
    /// `others`: the calls in progress besides the one asking. SIP thread.
    func newCallRefusal(others: Int) -> (reason: String, retryAfter: Int)? {
        if isDraining { return ("faxd is draining: it takes no new calls", Self.drainingRetryAfter) }
        let limit = configuration.sip.maxCalls
        if limit > 0 && others >= limit { return ("faxd has \(limit) calls, its limit (sip.max_calls)", Self.fullRetryAfter) }
        return nil
    }

    /// OPTIONS (nua leaves it to us: NUTAG_APPL_METHOD): 200 while new calls are taken, else 503
    /// with Retry-After and a Warning; inside a call always 200 (a keepalive, RFC 3261 section 11).
    /// nua's answer adds Allow, Accept and Supported. SIP thread, inside the event.
    func answerOptions(_ handle: SIPHandle, _ event: SIPEvent) {
        let inCall = calls[handle] != nil
        // Below 200 the request waits for us; a final status means nua answered it already.
        if event.status < 200 {
            if !inCall, let refusal = newCallRefusal(others: calls.count) {
                agent.respondToCurrentRequest(handle, status: 503, headers: warning(refusal.reason) + "\r\nRetry-After: \(refusal.retryAfter)")
            } else {
                agent.respondToCurrentRequest(handle, status: 200)
            }
        }
        // The handle nua made for a request outside a call is ours to release, or it leaks.
        if !inCall { agent.destroy(handle) }
    }
}
