/// What a voice channel hands back when it stops: copied values only. RFC 3550 section 6.4
public struct VoiceReport: Sendable, Equatable {
    /// Why it stopped. RFC 3550 section 6.3.5
    public var reason: VoiceEndReason
    /// Seconds from the first tick to the end (20 ms resolution). RFC 3550 section 5.1
    public var seconds: Double
    /// Audio RTP packets received with the call's payload type. RFC 3550 section 6.4.1
    public var packetsReceived = 0
    /// Audio RTP packets sent. RFC 3550 section 6.4.1
    public var packetsSent = 0
    /// Telephone-event packets received. RFC 4733 section 2.5.2
    public var eventPacketsReceived = 0
    /// Telephone-event packets sent. RFC 4733 section 2.5.1
    public var eventPacketsSent = 0
    /// RTCP datagrams on the RTP port (ignored). RFC 5761 section 4
    public var rtcpReceived = 0
    /// Datagrams that were not valid RTP. RFC 3550 section 5.1
    public var malformed = 0
    /// RTP of payload types not negotiated for audio or events (comfort noise...). RFC 3551 section 6
    public var otherPayloadTypes = 0
    /// 20 ms frames with at least one lost or late block, concealed with silence. RFC 3550 section 6.4.1
    public var framesConcealed = 0
    /// Audio packets the jitter buffer dropped as late. RFC 3550 section 6.4.1
    public var jitterLate = 0
    /// Times the jitter buffer rebased on a jumping stream. RFC 3550 section 6.4.1
    public var jitterResyncs = 0
    /// Keys the far end pressed, in order (the first 256). RFC 4733 section 3.2
    public var digitsReceived = ""
    /// How many of the reported keys came in-band only. spandsp: dtmf_rx
    public var inBandDigits = 0
    /// Reports dropped because the same press came both as RFC 4733 events and as tones. RFC 4733 section 2.6
    public var digitsDeduplicated = 0
    /// Keys this side sent (events, tones or both for each). RFC 4733 section 2.5.1
    public var digitsSent = 0
    /// Where RTP went ("addr:port"), when the transport knows. RFC 4961 section 3
    public var remote: String?
}
