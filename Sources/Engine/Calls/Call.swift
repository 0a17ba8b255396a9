import Fax
import Lab
import Foundation
import Media
import SIP
import Voice

/// One call as the SIP thread sees it. Confined to the SIP agent thread; its media channel lives on
/// a shard and is reached only through `shard.perform`.
final class Call {
    enum Phase: Equatable {
        /// Inbound: INVITE received, not answered yet. Outbound: INVITE sent.
        case setup
        /// 200 OK sent or received; media running once `channel` is set.
        case answered
        /// BYE/CANCEL sent or received, or rejected; waiting for the dialog to terminate.
        case ending
    }

    let uuid: String
    let direction: CallDirection
    let handle: SIPHandle
    var trunk: Trunk?
    var phase: Phase = .setup
    var sipCallID: String?
    var localNumber: String?
    var remoteNumber: String?
    var remoteName: String?
    let startedAt = Date()
    var answeredAt: Date?

    /// The fax to send or receive; nil for a voice call.
    var job: FaxJob?
    /// The voice leg's state; nil for a fax call.
    var voice: VoiceLegState?
    /// An `auto` number's call that turned into a fax: the voice service hears when it ends.
    var becameFax = false
    var terminal: (any FaxAudioEndpoint)?
    /// Records both directions of the audio call when asked (lab mode's call recording).
    var recorder: CallRecorder?
    var socket: UDPSocket?
    var channel: CallMedia?
    /// The audio channel while the call is in audio.
    var audioChannel: AudioChannel? { channel as? AudioChannel }
    /// The calling party sends CNG and waits for DIS (our outbound calls).
    var callingParty: Bool { direction == .outbound }
    var options: FaxOptions
    /// T.38 policy for this call (the trunk's, or `faxd send --transport`).
    var t38Mode: T38Mode = .accept
    /// "g711" or "t38": what carries the fax now.
    var transport = "g711"
    /// The T.38 parameters both sides agreed on, once in T.38.
    var t38: T38Parameters?
    /// "local" (we re-INVITEd), "remote" (the far end did) or "offer" (T.38 from the first INVITE).
    var t38RequestedBy: String?
    /// Why our T.38 request did not succeed ("488 Not Acceptable Here"), the fax stayed in audio.
    var t38Refused: String?
    /// Our re-INVITE to T.38 is waiting for its answer; how many were sent.
    var t38RequestPending = false
    var t38Attempts = 0
    /// When our last T.38 re-INVITE left, and how long its final answer took.
    var t38RequestSentAt: Date?
    var t38AnswerMilliseconds: Int?
    /// What made us ask: "answer", "CNG", "timer", "491 retry".
    var t38RequestTrigger: String?
    /// Our SDP before the pending re-INVITE, restored when it fails.
    var sdpBeforeRequest: SessionDescription?
    var shard: MediaShard?
    var codec: AudioCodec?
    var payloadType: UInt8?
    /// Our last SDP (we keep o= and bump its version on change).
    var localSDP: SessionDescription?
    /// The negotiated stream while the answer is delayed.
    var pendingPlan: SDPAgreement?
    /// True when we sent an offer (no-SDP INVITE, or outbound) and wait for the answer.
    var awaitingAnswer = false

    var sipStatus = 0
    var sipReason = ""
    var cause: HangupCause?
    var detail: String?
    var report: ChannelReport?
    var dialogTerminated = false
    /// The far end sent BYE.
    var remoteHungUp = false
    var authAttempted = false
    var byeSent = false
    /// Refused by us (a final error to its INVITE), and whether the refusal was logged (refusals
    /// are rate-limited in the log).
    var refused = false
    var logged = true
    /// Pages and bit rate so far, written by spandsp's handlers on the shard, read by the admin status.
    let progress: FaxProgress
    /// Outbound: told when the 200 OK arrives.
    var onAnswered: (@Sendable () -> Void)?
    var counted = false
    var onOutcome: (@Sendable (FaxOutcome) -> Void)?

    init(uuid: String, direction: CallDirection, handle: SIPHandle, job: FaxJob?, options: FaxOptions, progress: FaxProgress = FaxProgress()) {
        self.progress = progress
        self.uuid = uuid
        self.direction = direction
        self.handle = handle
        self.job = job
        self.options = options
    }

    /// Sets the cause unless one is already recorded (the first reason wins).
    func end(_ cause: HangupCause, _ detail: String? = nil) {
        if self.cause == nil {
            self.cause = cause
            self.detail = detail
        }
    }

    /// The outcome value once the call is over.
    func outcome() -> FaxOutcome {
        let fax = report?.fax ?? FaxTransferResult.notStarted(.callDropped)
        let ended = Date()
        return FaxOutcome(
            uuid: uuid, direction: direction, sipCallID: sipCallID, trunk: trunk?.name,
            localNumber: localNumber, remoteNumber: remoteNumber, remoteName: remoteName,
            sipStatus: sipStatus, sipReason: sipReason, hangupCause: cause ?? (remoteHungUp ? .remoteHangup : .faxComplete), detail: detail,
            transport: transport, codec: transport == "g711" ? codec?.encodingName : nil,
            t38: t38.map { T38Summary(parameters: $0, requestedBy: t38RequestedBy ?? "remote", answerMilliseconds: t38AnswerMilliseconds,
                                                 trigger: t38RequestedBy == "local" ? t38RequestTrigger : nil) },
            t38Refused: t38Refused,
            t30Code: fax.result.rawValue, t30Name: fax.result.name, success: fax.result.isSuccess && cause != .shutdown,
            bitRate: fax.bitRate, ecm: fax.ecm, resolution: fax.resolutionName, compression: fax.compression,
            remoteStationID: fax.remoteStationID, pagesTransferred: fax.pagesTransferred, pagesTotal: fax.pagesTotal,
            badRows: fax.badRows, cngDetected: report?.tones.cng ?? false, cedDetected: report?.tones.ced ?? false,
            startedAt: startedAt, answeredAt: answeredAt, endedAt: ended,
            durationSeconds: (ended.timeIntervalSince(startedAt) * 1000).rounded() / 1000,
            file: job?.path ?? "", media: report?.media)
    }
}

/// One call in progress as operators see it (`/admin/status`).
public struct LiveCall: Sendable, Codable, Equatable {
    public var uuid: String
    public var direction: CallDirection
    /// "setup", "answered" or "ending".
    public var state: String
    /// "g711" or "t38".
    public var transport: String
    public var remoteNumber: String?
    public var localNumber: String?
    public var trunk: String?
    public var pages: Int
    public var bitRate: Int
    public var ageSeconds: Double

    enum CodingKeys: String, CodingKey {
        case uuid, direction, state, transport, trunk, pages
        case remoteNumber = "remote_number", localNumber = "local_number", bitRate = "bit_rate", ageSeconds = "age_s"
    }
}

extension Call {
    /// A snapshot for operators. SIP thread.
    var live: LiveCall {
        LiveCall(uuid: uuid, direction: direction, state: "\(phase)", transport: voice == nil ? transport : "voice", remoteNumber: remoteNumber,
                 localNumber: localNumber, trunk: trunk?.name, pages: progress.pages, bitRate: progress.bitRate,
                 ageSeconds: Date().timeIntervalSince(startedAt))
    }
}

/// A voice leg's engine-side state. SIP thread only; the channel itself lives on its shard.
final class VoiceLegState {
    let options: VoiceChannelOptions
    var channel: VoiceChannel?
    /// The media report, once the channel finished (or true without one when it never started).
    var report: VoiceReport?
    var mediaFinished = false
    /// The application was told how the leg ended (hangup, cancel, failure), or ended it itself.
    var endSignaled = false
    /// Inbound: `answered` was signalled (on the ACK of our 200).
    var answerSignaled = false
    /// Our hold/resume re-INVITE waits for its answer.
    var reinvitePending = false
    /// The shard the channel should live on (a leg dialled to be bridged with another).
    var shard: MediaShard?
    /// An `auto` number's call: listen for CNG and become a fax when it is heard.
    var autoFax = false

    init(options: VoiceChannelOptions) { self.options = options }
}
