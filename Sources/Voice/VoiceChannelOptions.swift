/// The knobs of one voice leg. RFC 4733 section 2.5.1.2 (durations), RFC 3550 section 6.4.1 (jitter)
public struct VoiceChannelOptions: Sendable, Equatable {
    /// Fixed playout delay of the jitter buffer, in milliseconds. RFC 3550 section 6.4.1
    public var jitterMilliseconds = 60
    /// No RTP (audio or events) for this long ends the call; 0 turns the watchdog off. RFC 3550 section 6.3.5
    public var silenceTimeoutSeconds = 30
    /// The longest call, and the longest recording; 0 for no limit on the call. RFC 3550 section 5.1
    public var maxCallSeconds = 4 * 3600
    /// How `sendDTMF` sends. RFC 4733 section 1
    public var dtmfSendMode = DTMFSendMode.automatic
    /// Tone of each sent digit, rounded to 20 ms. RFC 4733 section 2.5.1.2
    public var dtmfToneMilliseconds = 100
    /// Gap after each sent digit, rounded to 20 ms (at least 40 ms: the end packet's repeats fall in it). RFC 4733 section 2.5.1.4
    public var dtmfGapMilliseconds = 60
    /// Look for DTMF tones in the received audio. spandsp: dtmf_rx
    public var detectInBandDTMF = true

    /// Defaults: 60 ms jitter, 30 s silence, 4 h, automatic DTMF, 100 ms tone and 60 ms gap. RFC 4733 section 2.5.1.2
    public init() {}
}
