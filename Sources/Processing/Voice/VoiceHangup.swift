import Store

/// How a call ended, as `call.hangup` reports it: the cause, who ended it and the SIP status as
/// text. Telnyx Call Control v2: call.hangup
public struct VoiceHangup: Sendable, Equatable {
    /// Why (`hangup_cause`).
    public var cause: VoiceCall.HangupCause
    /// Who (`hangup_source`).
    public var source: VoiceCall.HangupSource
    /// The SIP status that ended the call ("486"), "487" for a CANCEL, or "unspecified" when no
    /// final response ended it (a BYE, a timer).
    public var sipCause: String

    /// A hangup record. Telnyx Call Control v2: call.hangup
    public init(cause: VoiceCall.HangupCause, source: VoiceCall.HangupSource, sipCause: String) {
        self.cause = cause
        self.source = source
        self.sipCause = sipCause
    }

    /// The `sip_hangup_cause` when no SIP final response ended the call. Telnyx Call Control v2: call.hangup
    public static let unspecifiedSIPCause = "unspecified"

    /// The hangup cause of a final SIP failure response, as Telnyx maps them: 486/600 busy,
    /// 408/480 no answer, 403/603/607 rejected, 404/410/484/604 not found, 487 cancelled, anything
    /// else unspecified. Telnyx Call Control v2: call.hangup hangup_cause; RFC 3261 section 21
    public static func cause(forSIPStatus status: Int) -> VoiceCall.HangupCause {
        switch status {
        case 486, 600: .userBusy
        case 408, 480: .timeout
        case 403, 603, 607: .callRejected
        case 404, 410, 484, 604: .notFound
        case 487: .originatorCancel
        default: .unspecified
        }
    }

    /// The hangup of a call that a final failure response ended: the party that sends a final
    /// response is always the callee (the UAS). RFC 3261 section 8.2.6; Telnyx Call Control v2: call.hangup
    public static func failure(sipStatus: Int) -> VoiceHangup {
        VoiceHangup(cause: cause(forSIPStatus: sipStatus), source: .callee, sipCause: String(sipStatus))
    }
}
