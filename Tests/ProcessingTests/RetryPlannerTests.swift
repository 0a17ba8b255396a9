import Engine
import Fax
import FaxdTesting
import Foundation
@testable import Processing
import Testing

/// An outcome with only the fields the planner reads set.
func outcome(cause: HangupCause, sip: Int = 200, success: Bool = false, pages: Int = 0, total: Int = 3,
             t30: Int = 0, detail: String? = nil) -> FaxOutcome {
    var fields: [String: Any] = [
        "uuid": "u", "direction": "outbound", "sip_status": sip, "sip_reason": "R", "hangup_cause": cause.rawValue,
        "transport": "g711", "t30_code": t30, "t30_name": "T30", "success": success, "bit_rate": 14400, "ecm": true,
        "resolution": "fine", "compression": "T.6", "remote_station_id": "", "pages_transferred": pages, "pages_total": total,
        "bad_rows": 0, "cng_detected": false, "ced_detected": false, "started_at": "2026-11-21T00:00:00Z",
        "ended_at": "2026-11-21T00:00:30Z", "duration_seconds": 30.0,
    ]
    if let detail { fields["detail"] = detail }
    let data = try! JSONSerialization.data(withJSONObject: fields)
    return try! JSONDecoder.faxd.decode(FaxOutcome.self, from: data)
}

@Suite struct RetryPlannerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var planner: RetryPlanner {
        var policy = RetryPolicy()
        policy.jitter = 0.1
        return RetryPlanner(policy: policy)
    }
    func state(_ attempts: Int, resume: Int = 0, ladder: Int = 0) -> FaxTransmissionState {
        FaxTransmissionState(attempts: attempts, resumePage: resume, ladderStep: ladder)
    }

    @Test func classesFollowTheSIPStatusAndTheCause() {
        #expect(planner.classify(outcome(cause: .faxComplete, success: true, pages: 3)) == nil)
        #expect(planner.classify(outcome(cause: .sipFailure, sip: 486)) == .busy)
        #expect(planner.classify(outcome(cause: .sipFailure, sip: 600)) == .busy)
        #expect(planner.classify(outcome(cause: .sipFailure, sip: 480)) == .noAnswer)
        #expect(planner.classify(outcome(cause: .sipFailure, sip: 0, detail: "no answer within 60 s")) == .noAnswer)
        #expect(planner.classify(outcome(cause: .sipFailure, sip: 503)) == .congestion)
        for status in [404, 410, 484, 603] { #expect(planner.classify(outcome(cause: .sipFailure, sip: status)) == .final) }
        #expect(planner.classify(outcome(cause: .faxComplete, t30: 3)) == .protocol)
        #expect(planner.classify(outcome(cause: .remoteHangup, pages: 1)) == .protocol)
        #expect(planner.classify(outcome(cause: .shutdown)) == .interrupted)
        #expect(planner.classify(outcome(cause: .setupFailed, t30: T30Result.fileError.rawValue)) == .final)
        // Out of descriptors or memory before dialling (FaxError.isTemporary): tried again.
        #expect(planner.classify(outcome(cause: .setupFailed, t30: T30Result.callDropped.rawValue)) == .congestion)
    }

    @Test func busyWaitsItsDelayWithJitterAndBacksOff() {
        let first = planner.decide(outcome(cause: .sipFailure, sip: 486), transmission: state(1), now: now, random: 0.5)
        #expect(first == .retry(at: now.addingTimeInterval(180), failure: .busy, resumePage: 0, ladderStep: 0))
        let low = planner.decide(outcome(cause: .sipFailure, sip: 486), transmission: state(1), now: now, random: 0)
        #expect(low == .retry(at: now.addingTimeInterval(162), failure: .busy, resumePage: 0, ladderStep: 0), "-10% jitter")
        let third = planner.decide(outcome(cause: .sipFailure, sip: 486), transmission: state(3), now: now, random: 0.5)
        #expect(third == .retry(at: now.addingTimeInterval(720), failure: .busy, resumePage: 0, ladderStep: 0), "180 x 2^2")
        var capped = RetryPolicy()
        capped.capSeconds = 500
        capped.jitter = 0
        #expect(RetryPlanner(policy: capped).decide(outcome(cause: .sipFailure, sip: 486), transmission: state(4), now: now, random: 0.9)
                == .retry(at: now.addingTimeInterval(500), failure: .busy, resumePage: 0, ladderStep: 0))
    }

    @Test func finalCausesAndExhaustedAttemptsFail() {
        guard case .failed(.final, let reason) = planner.decide(outcome(cause: .sipFailure, sip: 404), transmission: state(1), now: now, random: 0.5) else {
            Issue.record("404 must not be retried")
            return
        }
        #expect(reason.contains("404"))
        guard case .failed(.busy, let why) = planner.decide(outcome(cause: .sipFailure, sip: 486), transmission: state(5), now: now, random: 0.5) else {
            Issue.record("the fifth attempt is the last")
            return
        }
        #expect(why.contains("gave up after 5 attempts"))
    }

    @Test func protocolFailuresStepDownTheLadderAndResumeAfterConfirmedPages() {
        let decision = planner.decide(outcome(cause: .faxComplete, pages: 2, t30: 3), transmission: state(1), now: now, random: 0.5)
        #expect(decision == .retry(at: now.addingTimeInterval(60), failure: .protocol, resumePage: 2, ladderStep: 1))
        var base = FaxOptions()
        base.firstPage = 2
        let one = planner.options(base: base, transport: nil, ladderStep: 1)
        #expect(one.options.ecm == false && one.options.modems.contains(.v17) && one.transport == nil && one.options.firstPage == 2)
        let three = planner.options(base: base, transport: nil, ladderStep: 3)
        #expect(three.options.ecm == false && !three.options.modems.contains(.v17) && three.transport == .g711)
        let busy = planner.decide(outcome(cause: .sipFailure, sip: 486), transmission: state(2, resume: 2, ladder: 1), now: now, random: 0.5)
        #expect(busy == .retry(at: now.addingTimeInterval(360), failure: .busy, resumePage: 2, ladderStep: 1), "busy keeps the rung")
    }

    @Test func aShutdownRetriesAtOnce() {
        #expect(planner.decide(outcome(cause: .shutdown, pages: 1), transmission: state(1), now: now, random: 0.9)
                == .retry(at: now, failure: .interrupted, resumePage: 1, ladderStep: 0))
    }

    @Test func billingPeriodsRatesAndOverage() {
        let date = ISO8601DateFormatter().date(from: "2026-11-21T10:00:00Z")!
        #expect(BillingPeriod.start(containing: date, cycleDay: 1) == "2026-11-01")
        #expect(BillingPeriod.start(containing: date, cycleDay: 21) == "2026-11-21")
        #expect(BillingPeriod.start(containing: date, cycleDay: 28) == "2026-10-28")
        let january = ISO8601DateFormatter().date(from: "2026-01-05T00:00:00Z")!
        #expect(BillingPeriod.start(containing: january, cycleDay: 15) == "2025-12-15")
        let rates = Rates()
        #expect(rates.centsPerPage(to: "15551234567") == 10)
        #expect(rates.centsPerPage(to: "442071234567") == 15)
        #expect(rates.centsPerPage(to: "4930123456") == 20)
        #expect(Usage.overage(adding: 5, to: 148, limit: 150) == 3)
        #expect(Usage.overage(adding: 5, to: 160, limit: 150) == 5)
        #expect(Usage.overage(adding: 5, to: 10, limit: 150) == 0)
        #expect(Usage.overage(adding: 5, to: 1000, limit: nil) == 0)
    }
}
