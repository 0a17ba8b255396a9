import Engine
import Fax
import Foundation

/// What to do after an outbound attempt ended.
public enum RetryDecision: Sendable, Equatable {
    /// Every page confirmed.
    case completed
    /// Dial again at `at`, from page `resumePage` (0-based), `ladderStep` rungs down the ladder.
    case retry(at: Date, failure: FailureClass, resumePage: Int, ladderStep: Int)
    /// Give up: `failure` is final or the attempts are used up.
    case failed(failure: FailureClass, reason: String)
}

/// The retry policy applied to one outcome: a pure function of the policy, the outcome and the
/// transmission's history, so every branch is unit-testable without a call.
public struct RetryPlanner: Sendable {
    public var policy: RetryPolicy

    public init(policy: RetryPolicy) { self.policy = policy }

    /// The failure class of an outcome; nil when the fax succeeded.
    public func classify(_ outcome: FaxOutcome) -> FailureClass? {
        if outcome.success { return nil }
        switch outcome.hangupCause {
        case .shutdown:
            return .interrupted
        case .setupFailed:
            // A document faxd cannot read or send will not get better.
            return outcome.t30Code == T30Result.fileError.rawValue ? .final : .congestion
        case .sipFailure, .rejected, .cancelled:
            let status = outcome.sipStatus
            if policy.finalSIPStatuses.contains(status) { return .final }
            switch status {
            case 486, 600: return .busy
            case 408, 480, 487: return .noAnswer
            case 0: return (outcome.detail ?? "").contains("no answer") ? .noAnswer : .congestion
            default: return .congestion
            }
        case .faxComplete, .remoteHangup, .mediaTimeout, .maxDuration:
            return .protocol
        }
    }

    /// The decision after attempt number `transmission.attempts` ended with `outcome`.
    /// `random` is in 0..<1 (jitter); `now` is when the attempt ended.
    public func decide(_ outcome: FaxOutcome, transmission: FaxTransmissionState, now: Date, random: Double) -> RetryDecision {
        guard let failure = classify(outcome) else { return .completed }
        let resume = transmission.resumePage + max(0, outcome.pagesTransferred)
        if failure == .final {
            return .failed(failure: failure, reason: Self.reason(outcome))
        }
        if transmission.attempts >= policy.maxAttempts {
            return .failed(failure: failure, reason: "\(Self.reason(outcome)); gave up after \(transmission.attempts) attempts")
        }
        let ladder = failure == .protocol ? min(policy.ladder.count, transmission.ladderStep + 1) : transmission.ladderStep
        let base = policy.baseDelay(after: failure, attempts: transmission.attempts)
        let jittered = max(0, base * (1 + policy.jitter * (2 * random - 1)))
        return .retry(at: now.addingTimeInterval(jittered), failure: failure, resumePage: resume, ladderStep: ladder)
    }

    /// The fax options and transport for an attempt `ladderStep` rungs down the ladder.
    public func options(base: FaxOptions, transport: OutboundFax.Transport?, ladderStep: Int)
        -> (options: FaxOptions, transport: OutboundFax.Transport?) {
        var options = base
        var transport = transport
        for step in policy.ladder.prefix(ladderStep) {
            switch step {
            case .ecmOff: options.ecm = false
            case .v17Off: options.modems.remove(.v17)
            case .t38Off: transport = .g711
            }
        }
        return (options, transport)
    }

    /// Words for a failed attempt.
    static func reason(_ outcome: FaxOutcome) -> String {
        if outcome.hangupCause == .sipFailure || outcome.hangupCause == .rejected {
            return "SIP \(outcome.sipStatus) \(outcome.sipReason)" + (outcome.detail.map { " (\($0))" } ?? "")
        }
        if let detail = outcome.detail { return "\(outcome.hangupCause.rawValue): \(detail)" }
        return "\(outcome.hangupCause.rawValue): T.30 \(outcome.t30Name)"
    }
}

/// The parts of a transmission the planner reads.
public struct FaxTransmissionState: Sendable {
    public var attempts: Int
    public var resumePage: Int
    public var ladderStep: Int

    public init(attempts: Int, resumePage: Int, ladderStep: Int) {
        self.attempts = attempts
        self.resumePage = resumePage
        self.ladderStep = ladderStep
    }
}
