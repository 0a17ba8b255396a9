/// Why a voice channel stopped. RFC 3550 section 6.3.5 (a silent source times out)
public enum VoiceEndReason: Sendable, Equatable {
    /// No RTP (audio or events) arrived for the silence timeout.
    case mediaTimeout(seconds: Int)
    /// The call ran longer than the configured maximum.
    case maxDuration(seconds: Int)
    /// Stopped from outside: hangup, shutdown.
    case stopped
}

/// Why a playback ended. RIFF WAVE (Microsoft)
public enum PlaybackEndReason: Sendable, Equatable {
    /// The prompt played to its end (never for a loop).
    case finished
    /// `stopPlayback`, `unhold`, or a new `play` replaced it.
    case stopped
    /// The channel ended while it played.
    case hangup
}

/// What a voice channel tells its owner. Called on the shard queue (recording events on a
/// utility queue): the handler must only enqueue, never block. RFC 4733 section 2.5.2
public enum VoiceEvent: Sendable {
    /// The far end pressed a key (reported once whichever way it came). RFC 4733 section 2.5.2
    case dtmf(DTMFDigit)
    /// A playback sent its first frame. RIFF WAVE (Microsoft)
    case playbackStarted(id: Int, name: String)
    /// A playback stopped sending. RIFF WAVE (Microsoft)
    case playbackEnded(id: Int, name: String, reason: PlaybackEndReason)
    /// A recording was written (after `stopRecording` or the end of the call). RIFF WAVE (Microsoft)
    case recordingSaved(VoiceRecordingSummary)
    /// A recording could not be written. RIFF WAVE (Microsoft)
    case recordingFailed(path: String, reason: String)
    /// The channel ended; the last event it sends from the shard. RFC 3550 section 6.4
    case finished(VoiceReport)
}

/// What a voice channel hands back when it stops: copied values only. RFC 3550 section 6.4
public struct VoiceReport: Sendable, Equatable {
    /// Why it stopped.
    public var reason: VoiceEndReason
    /// Seconds from the first tick to the end (20 ms resolution).
    public var seconds: Double
    /// Audio RTP packets received with the call's payload type. RFC 3550 section 6.4.1
    public var packetsReceived = 0
    /// Audio RTP packets sent. RFC 3550 section 6.4.1
    public var packetsSent = 0
    /// Telephone-event packets received and sent. RFC 4733 section 2.5
    public var eventPacketsReceived = 0
    public var eventPacketsSent = 0
    /// RTCP datagrams on the RTP port, unparseable datagrams, and RTP of other payload types.
    public var rtcpReceived = 0
    public var malformed = 0
    public var otherPayloadTypes = 0
    /// 20 ms frames with at least one lost or late block, concealed with silence. RFC 3550 section 6.4.1
    public var framesConcealed = 0
    /// Jitter buffer drops and resyncs. RFC 3550 section 6.4.1
    public var jitterLate = 0
    public var jitterResyncs = 0
    /// Keys the far end pressed, in order (the first 256), and how many of them came in-band.
    public var digitsReceived = ""
    public var inBandDigits = 0
    /// Keys this side sent.
    public var digitsSent = 0
    /// Where RTP went ("addr:port"), when the transport knows.
    public var remote: String?
}

/// The knobs of one voice leg. RFC 4733 section 2.5.1.2 (durations), RFC 3550 section 6.4.1 (jitter)
public struct VoiceChannelOptions: Sendable, Equatable {
    /// Fixed playout delay of the jitter buffer.
    public var jitterMilliseconds = 60
    /// No RTP for this long ends the call (0 turns the watchdog off).
    public var silenceTimeoutSeconds = 30
    /// The longest call; also the longest recording.
    public var maxCallSeconds = 4 * 3600
    /// How `sendDTMF` sends.
    public var dtmfSendMode = DTMFSendMode.automatic
    /// Tone and gap of each sent digit, rounded to 20 ms for RFC 4733. RFC 4733 section 2.5.1.2
    public var dtmfToneMilliseconds = 100
    public var dtmfGapMilliseconds = 60
    /// Look for DTMF tones in the received audio. spandsp: dtmf_rx
    public var detectInBandDTMF = true

    /// Defaults: 60 ms jitter, 30 s silence, 4 h, automatic DTMF, 100 ms tone and 60 ms gap.
    public init() {}
}
