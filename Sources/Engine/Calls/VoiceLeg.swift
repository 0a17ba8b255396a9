import Voice

/// A voice call to place (`POST /v2/calls`): faxd is the caller; the application drives it with
/// `VoiceLegCommand`s and hears about it through `VoiceLegSignal`s. Telnyx Call Control v2: dial
public struct OutboundVoiceCall: Sendable {
    /// The call_control_id: the leg's id in every signal and command.
    public var id: String
    /// "sip:NUMBER@HOST:PORT", or a number to call through `trunk`.
    public var destination: String
    public var trunk: String?
    /// Our number for the From header.
    public var callerID: String?
    /// The leg's media knobs (jitter, silence timeout, DTMF lengths).
    public var options: VoiceChannelOptions
    /// Another leg this one will be bridged with: the new leg's media runs on its shard.
    public var linkTo: String?

    public init(id: String, destination: String, trunk: String? = nil, callerID: String? = nil,
                options: VoiceChannelOptions = VoiceChannelOptions(), linkTo: String? = nil) {
        self.id = id
        self.linkTo = linkTo
        self.destination = destination
        self.trunk = trunk
        self.callerID = callerID
        self.options = options
    }
}

/// An inbound call to a voice number, parked (180 Ringing sent) until the application answers or
/// rejects it. Telnyx Call Control v2: call.initiated (incoming, parked)
public struct InboundVoiceOffer: Sendable, Equatable {
    /// faxd's id for the call, its call_control_id.
    public var id: String
    /// The DID called, E.164 digits.
    public var did: String
    public var fromNumber: String?
    public var fromName: String?
    public var trunk: String
}

/// What happened to a voice leg, from the SIP thread or its shard. The handler must only enqueue.
/// RFC 3261 sections 13 and 15
public enum VoiceLegSignal: Sendable {
    /// An inbound call arrived for a voice number and is parked (inbound only).
    case offered(InboundVoiceOffer)
    /// Our INVITE left (outbound).
    case dialed
    /// 180 Ringing or 183 Session Progress arrived (outbound).
    case ringing(sipStatus: Int)
    /// 200 OK received (outbound) or our 200 OK acknowledged (inbound); media runs.
    case answered
    /// The far end sent BYE.
    case farEndHangup
    /// The far end cancelled its INVITE before we answered (inbound).
    case cancelledByRemote
    /// A final failure ended the leg: a response to our INVITE, or the setup could not be made
    /// (`sipStatus` 0 then, with the reason).
    case failed(sipStatus: Int, reason: String)
    /// The media leg's own events: digits, playback, recording, and its final report.
    case media(VoiceEvent)
    /// An `auto` number's fax detection ended: `fax` true when CNG was heard (the call is now
    /// a fax received into `file`), false when the window passed without it.
    case faxDetection(fax: Bool, file: String?)
    /// An `auto` call that became a fax ended (its fax outcome went to the outcome handlers).
    case faxEnded(remoteHungUp: Bool)
    /// The dialog is gone and the media stopped: the last signal of the leg.
    case ended(VoiceLegSummary)
}

/// What is known of a leg when it is over.
public struct VoiceLegSummary: Sendable {
    public var sipCallID: String?
    /// The media report, when the leg had media.
    public var media: VoiceReport?
    /// The last SIP status of the INVITE transaction (0 when none).
    public var sipStatus: Int
}

/// What the application's commands turn into for the engine. RFC 3261 sections 9, 14 and 15
public enum VoiceLegCommand: Sendable {
    /// Answer a parked inbound call with 200 OK and our SDP.
    case answer
    /// Refuse a parked inbound call with this final status.
    case reject(sipStatus: Int)
    /// CANCEL our unanswered INVITE.
    case cancel
    /// End an answered call with BYE.
    case bye
    /// Send keys (RFC 4733 when negotiated, in-band otherwise).
    case sendDTMF(String)
    /// Play a prompt to the far end (replacing a playback in progress).
    case play(VoicePrompt, loop: Bool, id: Int)
    /// Stop the playback.
    case stopPlayback
    /// Record both directions into a stereo WAV at this path.
    case startRecording(path: String)
    /// Stop recording; the WAV is written and reported.
    case stopRecording
    /// Send silence to the far end instead of our audio (or undo it).
    case mute(Bool)
    /// Hold (re-INVITE a=sendonly, the far end hears `music`) or resume (re-INVITE a=sendrecv).
    case hold(Bool, music: VoicePrompt)
    /// Relay this leg's audio with another leg's, both directions.
    case bridge(otherID: String)
    /// Feed a media stream (or stop feeding it, with nil): both directions' audio to the
    /// application, and its audio to the far end when bidirectional.
    case stream(MediaStreamPort?)
}
